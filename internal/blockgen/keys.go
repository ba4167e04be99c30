package blockgen

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"
)

// outputKind is one of the output types blockgen pays to and spends.
type outputKind int

const (
	kindP2PK         outputKind = iota // <pubkey> OP_CHECKSIG
	kindP2PKH                          // pay to a compressed key's hash
	kindP2SHMultisig                   // P2SH wrapping a 2-of-3 bare multisig
	kindP2WPKH                         // segwit v0 key hash
	kindP2WSH                          // segwit v0 script hash of a 1-of-2 multisig
	kindP2TRKey                        // taproot, spent by the key path (BIP86 tweak)
	kindP2TRScript                     // taproot, spent by a one-OP_CHECKSIG tapscript leaf
	numKinds
)

// String names the kind as Bitcoin Core's descriptors and RPCs do.
func (k outputKind) String() string {
	switch k {
	case kindP2PK:
		return "p2pk"
	case kindP2PKH:
		return "p2pkh"
	case kindP2SHMultisig:
		return "p2sh-multisig"
	case kindP2WPKH:
		return "p2wpkh"
	case kindP2WSH:
		return "p2wsh"
	case kindP2TRKey:
		return "p2tr-key"
	case kindP2TRScript:
		return "p2tr-script"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// variants is how many distinct scripts of each kind a wallet holds. More
// than one keeps outputs from all paying the same script; few keep wallet
// setup (one scalar multiplication per key) negligible next to signing.
const variants = 4

// payee is one script the wallet pays to, with what spending it takes.
type payee struct {
	kind     outputKind
	pkScript []byte
	// keys sign the spend: one key, or for P2SH the first two of the
	// three in the redeem script, in script order (CHECKMULTISIG matches
	// signatures to keys in order). For P2TR key path it is the internal
	// key, which RawTxInTaprootSignature tweaks itself.
	keys []*btcec.PrivateKey
	// pubKey is keys[0]'s compressed public key for P2PKH and P2WPKH,
	// whose spends reveal it: computed once here, where txscript's
	// SignatureScript and WitnessSignature would redo a scalar
	// multiplication for every input.
	pubKey []byte
	// script is the P2SH redeem script, the P2WSH witness script or the
	// tapscript leaf's script; nil for the other kinds.
	script []byte
	// leaf and controlBlock spend a P2TR script-path output.
	leaf         txscript.TapLeaf
	controlBlock []byte
}

// wallet holds every payee a chain uses, all derived from its seed.
type wallet struct {
	payees [numKinds][variants]*payee
}

// newWallet derives the wallet of seed.
func newWallet(seed uint64) (*wallet, error) {
	w := &wallet{}
	for k := range numKinds {
		for v := range variants {
			p, err := newPayee(seed, k, v)
			if err != nil {
				return nil, fmt.Errorf("%s payee %d: %w", k, v, err)
			}
			w.payees[k][v] = p
		}
	}
	return w, nil
}

// payee returns the n'th payee in rotation: kinds cycle fastest, so any
// run of numKinds consecutive outputs holds every kind.
func (w *wallet) payee(n uint64) *payee {
	k := n % uint64(numKinds)
	v := (n / uint64(numKinds)) % variants
	return w.payees[k][v]
}

// deriveKey returns key number i of a payee. It hashes a label with the
// seed, kind, variant and index, so keys are fixed by the seed and no two
// payees share one. The hash is reduced modulo the curve order; a zero
// scalar has probability 2^-256 and is ignored.
func deriveKey(seed uint64, kind outputKind, variant, i int) *btcec.PrivateKey {
	buf := make([]byte, 0, 32)
	buf = append(buf, "watchnode blockgen key"...)
	buf = binary.LittleEndian.AppendUint64(buf, seed)
	buf = append(buf, byte(kind), byte(variant), byte(i))
	sum := sha256.Sum256(buf)
	priv, _ := btcec.PrivKeyFromBytes(sum[:])
	return priv
}

// newPayee builds variant v of kind k.
func newPayee(seed uint64, k outputKind, v int) (*payee, error) {
	key := func(i int) *btcec.PrivateKey { return deriveKey(seed, k, v, i) }
	p := &payee{kind: k}
	var err error
	switch k {
	case kindP2PK:
		p.keys = []*btcec.PrivateKey{key(0)}
		p.pkScript, err = txscript.NewScriptBuilder().
			AddData(key(0).PubKey().SerializeCompressed()).AddOp(txscript.OP_CHECKSIG).Script()
	case kindP2PKH:
		p.keys = []*btcec.PrivateKey{key(0)}
		p.pubKey = key(0).PubKey().SerializeCompressed()
		p.pkScript, err = txscript.NewScriptBuilder().
			AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
			AddData(address.Hash160(p.pubKey)).
			AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG).Script()
	case kindP2SHMultisig:
		all := []*btcec.PrivateKey{key(0), key(1), key(2)}
		p.keys = all[:2]
		if p.script, err = multisigScript(2, all); err != nil {
			return nil, err
		}
		p.pkScript, err = txscript.NewScriptBuilder().
			AddOp(txscript.OP_HASH160).AddData(address.Hash160(p.script)).
			AddOp(txscript.OP_EQUAL).Script()
	case kindP2WPKH:
		p.keys = []*btcec.PrivateKey{key(0)}
		p.pubKey = key(0).PubKey().SerializeCompressed()
		p.pkScript, err = txscript.NewScriptBuilder().
			AddOp(txscript.OP_0).AddData(address.Hash160(p.pubKey)).Script()
	case kindP2WSH:
		// 1-of-2: the first key signs; the second only makes the script
		// a real multisig.
		p.keys = []*btcec.PrivateKey{key(0)}
		if p.script, err = multisigScript(1, []*btcec.PrivateKey{key(0), key(1)}); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(p.script)
		p.pkScript, err = txscript.NewScriptBuilder().AddOp(txscript.OP_0).AddData(sum[:]).Script()
	case kindP2TRKey:
		p.keys = []*btcec.PrivateKey{key(0)}
		p.pkScript, err = txscript.PayToTaprootScript(txscript.ComputeTaprootKeyNoScript(key(0).PubKey()))
	case kindP2TRScript:
		err = p.setTapscript(key(0).PubKey(), key(1))
	default:
		return nil, fmt.Errorf("unknown output kind %d", int(k))
	}
	if err != nil {
		return nil, fmt.Errorf("%s script: %w", k, err)
	}
	return p, nil
}

// setTapscript makes p a P2TR output of internal key internal whose only
// leaf is "<leafKey> OP_CHECKSIG", with the control block that reveals it.
// The internal key's private half is never used: the output is spent
// through the leaf alone.
func (p *payee) setTapscript(internal *btcec.PublicKey, leafKey *btcec.PrivateKey) error {
	var err error
	p.keys = []*btcec.PrivateKey{leafKey}
	p.script, err = txscript.NewScriptBuilder().
		AddData(schnorr.SerializePubKey(leafKey.PubKey())).AddOp(txscript.OP_CHECKSIG).Script()
	if err != nil {
		return fmt.Errorf("leaf script: %w", err)
	}
	p.leaf = txscript.NewBaseTapLeaf(p.script)
	tree := txscript.AssembleTaprootScriptTree(p.leaf)
	root := tree.RootNode.TapHash()
	ctrl := tree.LeafMerkleProofs[0].ToControlBlock(internal)
	if p.controlBlock, err = ctrl.ToBytes(); err != nil {
		return fmt.Errorf("control block: %w", err)
	}
	p.pkScript, err = txscript.PayToTaprootScript(txscript.ComputeTaprootOutputKey(internal, root[:]))
	if err != nil {
		return fmt.Errorf("output script: %w", err)
	}
	return nil
}

// multisigScript returns "OP_m <key>... OP_n OP_CHECKMULTISIG" over keys'
// compressed public keys. (txscript.MultiSigScript takes address types,
// which would pull in network parameters for nothing.)
func multisigScript(m int, keys []*btcec.PrivateKey) ([]byte, error) {
	b := txscript.NewScriptBuilder().AddInt64(int64(m))
	for _, k := range keys {
		b.AddData(k.PubKey().SerializeCompressed())
	}
	return b.AddInt64(int64(len(keys))).AddOp(txscript.OP_CHECKMULTISIG).Script()
}
