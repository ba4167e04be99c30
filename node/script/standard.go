package script

import (
	"bytes"
	"crypto/sha256"

	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // HASH160 is consensus; txscript uses this package too.
)

// standardFlags are the flags whose every rule verifyStandard applies:
// the consensus flags Flags returns. A spend checked with any other flag
// (a policy one, as tests may pass) is left to txscript.
const standardFlags = flagP2SH | flagWitness | flagTaproot | flagDERSig | flagCLTV | flagCSV | flagNullDummy

// maxElementSize is the largest item a script may push or a witness
// may carry (MAX_SCRIPT_ELEMENT_SIZE).
const maxElementSize = txscript.MaxScriptElementSize

// verifyStandard settles input j of tx without txscript when it spends
// one of the templates that carry nearly every signature in exactly the
// standard way, and returns how many signatures it verified. ok is true
// only when the spend is valid; false means "not settled here" (another
// template, an unusual encoding, a signature that did not verify), and
// the caller then runs txscript, which gives the verdict and the error.
// The templates:
//   - pay-to-pubkey and pay-to-pubkey-hash;
//   - pay-to-witness-pubkey-hash, bare or nested in P2SH;
//   - m-of-n CHECKMULTISIG, bare, in P2SH, in P2WSH or in P2SH-P2WSH,
//     with exactly m signatures and an empty dummy;
//   - taproot: a key path spend, or a script path spend of a leaf
//     "<key> OP_CHECKSIG"; neither with an annex.
//
// Decision: for these exact byte patterns a script's execution is fixed,
// so its outcome is a short list of checks, written here the way Core's
// interpreter arrives at them: a key's hash, the script's hash, the
// scriptSig's shape (push-only, a canonical push of a nested witness
// program, nothing where segwit wants nothing), the witness's shape,
// every item within MAX_SCRIPT_ELEMENT_SIZE, the multisig walk, the
// taproot commitment, and the signatures, verified with libsecp256k1.
// Sighashes come from txscript's exported functions. txscript's engine
// would reach the same verdict, at three to four times the cost: it
// verifies with btcec, parses every key with a square root, and has no
// hook for another verifier (BENCHMARKS.md). Anything these checks do
// not cover is refused here and left to txscript, and a refusal never
// rejects a block by itself, so the one way this code can be wrong is to
// accept a spend txscript rejects. The tests look for exactly that: every
// spend of the generated chains and variants of each byte, flag and
// shape must get no "valid" here that txscript does not give
// (TestStandardNeverAcceptsWhatTxscriptRejects, FuzzVerifyStandard).
func verifyStandard(cv curve, tx *wire.MsgTx, j int, prev *wire.TxOut, flags txscript.ScriptFlags,
	hashes *txscript.TxSigHashes, f *prevoutFetcher) (sigs int, ok bool) {
	// txscript refuses WITNESS without P2SH (Core asserts against it);
	// Flags never asks for it.
	if flags&^standardFlags != 0 || flags&flagWitness != 0 && flags&flagP2SH == 0 {
		return 0, false
	}
	in := tx.TxIn[j]
	pk, ss, w := prev.PkScript, in.SignatureScript, in.Witness
	witness := flags&flagWitness != 0
	switch {
	case isP2PKH(pk):
		sig, rest, ok := onePush(ss)
		if !ok || len(w) != 0 {
			return 0, false
		}
		key, rest, ok := onePush(rest)
		if !ok || len(rest) != 0 || !hash160Is(key, pk[3:23]) {
			return 0, false
		}
		return standardLegacySig(cv, tx, j, pk, sig, key)
	case isP2PK(pk):
		sig, rest, ok := onePush(ss)
		if !ok || len(rest) != 0 || len(w) != 0 {
			return 0, false
		}
		return standardLegacySig(cv, tx, j, pk, sig, pk[1:len(pk)-1])
	case isP2WPKH(pk):
		if !witness || len(ss) != 0 {
			return 0, false
		}
		return standardKeyHash(cv, tx, j, prev.Value, pk[2:], hashes, f)
	case isP2WSH(pk):
		if !witness || len(ss) != 0 {
			return 0, false
		}
		return standardScriptHash(cv, tx, j, prev.Value, pk[2:], hashes, f)
	case isP2SH(pk):
		if flags&flagP2SH == 0 {
			return 0, false
		}
		pushes, ok := dataPushes(ss, f.pushes[:0])
		if !ok || len(pushes) == 0 {
			return 0, false
		}
		redeem := pushes[len(pushes)-1]
		if !hash160Is(redeem, pk[2:22]) {
			return 0, false
		}
		// A nested witness program must be the scriptSig's one and
		// canonical push (BIP141); both programs fit a direct push.
		nested := len(ss) == 1+len(redeem) && int(ss[0]) == len(redeem)
		switch {
		case isP2WPKH(redeem):
			if !witness || !nested {
				return 0, false
			}
			return standardKeyHash(cv, tx, j, prev.Value, redeem[2:], hashes, f)
		case isP2WSH(redeem):
			if !witness || !nested {
				return 0, false
			}
			return standardScriptHash(cv, tx, j, prev.Value, redeem[2:], hashes, f)
		}
		if len(w) != 0 {
			return 0, false
		}
		return standardLegacyMultisig(cv, tx, j, redeem, pushes[:len(pushes)-1], f)
	case isP2TR(pk):
		if flags&flagTaproot == 0 || !witness || len(ss) != 0 {
			return 0, false
		}
		return standardTaproot(cv, tx, j, pk[2:], hashes, f)
	case len(pk) > 0 && pk[len(pk)-1] == txscript.OP_CHECKMULTISIG:
		pushes, ok := dataPushes(ss, f.pushes[:0])
		if !ok || len(w) != 0 {
			return 0, false
		}
		return standardLegacyMultisig(cv, tx, j, pk, pushes, f)
	}
	return 0, false
}

// standardLegacySig verifies a pre-segwit CHECKSIG of fullSig under key
// over script, the spent script. The legacy sighash hashes the script
// less any push of the signature (FindAndDelete); a script that holds
// the signature's bytes at all is left to txscript.
func standardLegacySig(cv curve, tx *wire.MsgTx, j int, script, fullSig, key []byte) (int, bool) {
	rs, ok := parseECDSA(fullSig)
	if !ok || !isSECKey(key) || bytes.Contains(script, fullSig) {
		return 0, false
	}
	hash, err := txscript.CalcSignatureHash(script, txscript.SigHashType(fullSig[len(fullSig)-1]), tx, j)
	if err != nil || !cv.verifyECDSA(&rs, hash, key) {
		return 0, false
	}
	return 1, true
}

// standardKeyHash verifies a P2WPKH spend of keyHash: the witness is
// exactly a signature and the key that hashes to it, and BIP143 hashes
// the P2PKH script of the hash.
func standardKeyHash(cv curve, tx *wire.MsgTx, j int, value int64, keyHash []byte,
	hashes *txscript.TxSigHashes, f *prevoutFetcher) (int, bool) {
	w := tx.TxIn[j].Witness
	if len(w) != 2 || hashes == nil {
		return 0, false
	}
	fullSig, key := w[0], w[1]
	rs, ok := parseECDSA(fullSig)
	if !ok || !isSECKey(key) || !hash160Is(key, keyHash) {
		return 0, false
	}
	code := f.scriptCode[:]
	code[0], code[1], code[2] = txscript.OP_DUP, txscript.OP_HASH160, txscript.OP_DATA_20
	copy(code[3:23], keyHash)
	code[23], code[24] = txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG
	hash, err := txscript.CalcWitnessSigHash(code, hashes, txscript.SigHashType(fullSig[len(fullSig)-1]), tx, j, value)
	if err != nil || !cv.verifyECDSA(&rs, hash, key) {
		return 0, false
	}
	return 1, true
}

// standardScriptHash verifies a P2WSH spend of scriptHash whose witness
// script is a multisig: the witness is the empty dummy, the signatures
// and the script, which hashes to scriptHash; BIP143 hashes the script.
func standardScriptHash(cv curve, tx *wire.MsgTx, j int, value int64, scriptHash []byte,
	hashes *txscript.TxSigHashes, f *prevoutFetcher) (int, bool) {
	w := tx.TxIn[j].Witness
	if len(w) < 2 || hashes == nil {
		return 0, false
	}
	script := w[len(w)-1]
	if len(script) > txscript.MaxScriptSize || sha256.Sum256(script) != [32]byte(scriptHash) {
		return 0, false
	}
	items := w[:len(w)-1]
	for _, item := range items {
		if len(item) > maxElementSize {
			return 0, false
		}
	}
	if len(items[0]) != 0 {
		return 0, false
	}
	return standardMultisig(cv, script, items[1:], f, func(ht txscript.SigHashType) ([]byte, error) {
		return txscript.CalcWitnessSigHash(script, hashes, ht, tx, j, value)
	})
}

// standardLegacyMultisig verifies a pre-segwit multisig spend (bare or
// in P2SH) of script, whose scriptSig pushes the empty dummy and then the
// signatures. As for one signature, a script holding a signature's bytes
// is left to txscript, so the script hashed is the script whole.
func standardLegacyMultisig(cv curve, tx *wire.MsgTx, j int, script []byte, pushes [][]byte,
	f *prevoutFetcher) (int, bool) {
	if len(pushes) < 1 || len(pushes[0]) != 0 {
		return 0, false
	}
	sigs := pushes[1:]
	for _, sig := range sigs {
		if bytes.Contains(script, sig) {
			return 0, false
		}
	}
	return standardMultisig(cv, script, sigs, f, func(ht txscript.SigHashType) ([]byte, error) {
		return txscript.CalcSignatureHash(script, ht, tx, j)
	})
}

// standardMultisig runs CHECKMULTISIG of script ("OP_m <key>... OP_n
// OP_CHECKMULTISIG") over exactly m signatures, as the interpreter does:
// from the last signature and the last key down, each signature against
// the next keys until one verifies, failing once fewer keys are left than
// signatures. sigHash computes the hash of a sighash type.
//
// A key libsecp256k1 cannot parse is passed over, as the interpreter
// passes over one btcec cannot parse; only SEC 1 compressed and
// uncompressed keys are taken (a hybrid one is left to txscript), for
// which both libraries agree. Should libsecp256k1 call a signature
// invalid that btcec would call valid, the walk here only gets harder: a
// walk that succeeds here succeeds in txscript too.
func standardMultisig(cv curve, script []byte, sigs [][]byte, f *prevoutFetcher,
	sigHash func(txscript.SigHashType) ([]byte, error)) (int, bool) {
	keys, m, ok := multisigKeys(script, f.keys[:0])
	if !ok || len(sigs) != m {
		return 0, false
	}
	for _, key := range keys {
		if !isSECKey(key) {
			return 0, false
		}
	}
	rs := f.sigs[:len(sigs)]
	for i, sig := range sigs {
		if rs[i], ok = parseECDSA(sig); !ok {
			return 0, false
		}
	}
	var hash []byte
	hashType := -1
	k := len(keys) - 1
	for s := len(sigs) - 1; s >= 0; k-- {
		if s > k {
			return 0, false
		}
		if ht := int(sigs[s][len(sigs[s])-1]); ht != hashType {
			var err error
			if hash, err = sigHash(txscript.SigHashType(ht)); err != nil {
				return 0, false
			}
			hashType = ht
		}
		if cv.verifyECDSA(&rs[s], hash, keys[k]) {
			s--
		}
	}
	return m, true
}

// standardTaproot verifies a BIP341 key path spend of the output key
// xOnly (the witness is exactly a signature), or a script path spend of a
// leaf "<key> OP_CHECKSIG" (a signature, the leaf and a control block that
// commits to the leaf under xOnly). An annex, any other leaf or leaf
// version, or an empty signature is left to txscript.
func standardTaproot(cv curve, tx *wire.MsgTx, j int, xOnly []byte, hashes *txscript.TxSigHashes,
	f *prevoutFetcher) (int, bool) {
	w := tx.TxIn[j].Witness
	if hashes == nil || len(w) == 0 {
		return 0, false
	}
	if len(w) >= 2 && len(w[len(w)-1]) > 0 && w[len(w)-1][0] == txscript.TaprootAnnexTag {
		return 0, false
	}
	fullSig := w[0]
	hashType := txscript.SigHashDefault
	switch {
	case len(fullSig) == 64:
	case len(fullSig) == 65 && fullSig[64] != 0:
		hashType = txscript.SigHashType(fullSig[64])
	default:
		return 0, false
	}
	var hash []byte
	var err error
	key := xOnly
	switch len(w) {
	case 1:
		// CalcTaprootSignatureHash refuses an undefined sighash type and
		// SIGHASH_SINGLE without a matching output, as BIP341 fails them.
		hash, err = txscript.CalcTaprootSignatureHash(hashes, hashType, tx, j, f)
	case 3:
		leaf, control := w[1], w[2]
		if len(leaf) != 34 || leaf[0] != txscript.OP_DATA_32 || leaf[33] != txscript.OP_CHECKSIG ||
			len(control) == 0 || control[0]&txscript.TaprootLeafMask != byte(txscript.BaseLeafVersion) {
			return 0, false
		}
		if !tapCommits(cv, xOnly, leaf, control) {
			return 0, false
		}
		key = leaf[1:33]
		hash, err = txscript.CalcTapscriptSignaturehash(hashes, hashType, tx, j, f, txscript.NewBaseTapLeaf(leaf))
	default:
		return 0, false
	}
	if err != nil || !cv.verifySchnorr(fullSig[:64], hash, key) {
		return 0, false
	}
	return 1, true
}

// tapCommits reports whether control, a BIP341 control block of the
// base leaf version, proves that leaf is in the script tree of the output
// key xOnly: its internal key tweaked by the tree's root gives xOnly, with
// the parity it states. txscript's VerifyTaprootLeafCommitment does the
// same with btcec's point arithmetic, which costs more than verifying the
// leaf's signature.
func tapCommits(cv curve, xOnly, leaf, control []byte) bool {
	if len(control) < txscript.ControlBlockBaseSize || len(control) > txscript.ControlBlockMaxSize ||
		(len(control)-txscript.ControlBlockBaseSize)%txscript.ControlBlockNodeSize != 0 {
		return false
	}
	cb := txscript.ControlBlock{LeafVersion: txscript.BaseLeafVersion, InclusionProof: control[txscript.ControlBlockBaseSize:]}
	internal := control[1:txscript.ControlBlockBaseSize]
	tweak := chainhash.TaggedHash(chainhash.TagTapTweak, internal, cb.RootHash(leaf))
	return cv.checkTapTweak(xOnly, internal, tweak[:], control[0]&1 == 1)
}

// parseECDSA parses a signature with its trailing sighash type byte as
// strict DER (BIP66), the encoding every signature since 2015 uses, and
// returns r and s for the curve; one that is only BER is left to
// txscript. Under strict DER, btcec's strict and lax parsers read the
// same r and s, so a verdict does not depend on whether DERSIG is active.
func parseECDSA(fullSig []byte) ([64]byte, bool) {
	var rs [64]byte
	if len(fullSig) < 2 {
		return rs, false
	}
	parsed, err := ecdsa.ParseDERSignature(fullSig[:len(fullSig)-1])
	if err != nil {
		return rs, false
	}
	r, s := parsed.R(), parsed.S()
	r.PutBytesUnchecked(rs[:32])
	s.PutBytesUnchecked(rs[32:])
	return rs, true
}

// isSECKey reports whether key is a compressed or uncompressed SEC 1
// key by its shape (whether it lies on the curve is the curve's check).
func isSECKey(key []byte) bool {
	return len(key) == 33 && (key[0] == 2 || key[0] == 3) || len(key) == 65 && key[0] == 4
}

// hash160Is reports whether HASH160(data) is want.
func hash160Is(data, want []byte) bool { return bytes.Equal(hash160(data), want) }

// hash160 returns RIPEMD160(SHA256(data)), OP_HASH160's hash.
func hash160(data []byte) []byte {
	sum := sha256.Sum256(data)
	h := ripemd160.New()
	h.Write(sum[:])
	return h.Sum(nil)
}

// dataPushes returns the data of every opcode of script, appended to
// pushes, when every opcode pushes data (OP_0 or a push of bytes) of at
// most MAX_SCRIPT_ELEMENT_SIZE; false otherwise. OP_1NEGATE and OP_1 to
// OP_16 are push-only too, but push numbers, which no template's
// scriptSig holds, so they are left to txscript.
func dataPushes(script []byte, pushes [][]byte) ([][]byte, bool) {
	tok := txscript.MakeScriptTokenizer(0, script)
	for tok.Next() {
		if tok.Opcode() > txscript.OP_PUSHDATA4 || len(tok.Data()) > maxElementSize || len(pushes) == cap(pushes) {
			return pushes, false
		}
		pushes = append(pushes, tok.Data())
	}
	return pushes, tok.Err() == nil
}
