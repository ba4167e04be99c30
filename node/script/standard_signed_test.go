package script

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// fixedKey returns a fixed private key made from name.
func fixedKey(name string) *btcec.PrivateKey {
	sum := sha256.Sum256([]byte(name))
	key, _ := btcec.PrivKeyFromBytes(sum[:])
	return key
}

// signedSpend is a one-input transaction spending an output of pk, for
// tests that sign it themselves.
func signedSpend(name string, pk []byte) spendCase {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{1}, Index: 0}, Sequence: wire.MaxTxInSequenceNum})
	tx.AddTxOut(&wire.TxOut{Value: 90_000, PkScript: []byte{txscript.OP_TRUE}})
	return spendCase{name: name, tx: tx, prevouts: []*wire.TxOut{{Value: 100_000, PkScript: pk}},
		flags: Flags(regtestParams(), 1000, chainhash.Hash{})}
}

// legacySig signs input 0 of c over script with key (SIGHASH_ALL).
func legacySig(t *testing.T, c spendCase, script []byte, key *btcec.PrivateKey) []byte {
	t.Helper()
	sig, err := txscript.RawTxInSignature(c.tx, 0, script, txscript.SigHashAll, key)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// witnessSig signs input 0 of c under BIP143 over script with key.
func witnessSig(t *testing.T, c spendCase, script []byte, key *btcec.PrivateKey) []byte {
	t.Helper()
	fetcher := txscript.NewCannedPrevOutputFetcher(c.prevouts[0].PkScript, c.prevouts[0].Value)
	hashes := txscript.NewTxSigHashes(c.tx, fetcher)
	sig, err := txscript.RawTxInWitnessSignature(c.tx, hashes, 0, c.prevouts[0].Value, script, txscript.SigHashAll, key)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// scriptOf assembles a script, failing the test on error.
func scriptOf(t *testing.T, b *txscript.ScriptBuilder) []byte {
	t.Helper()
	s, err := b.Script()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStandardRefusesWhatScriptsForbid signs spends whose every
// signature is valid but which a script rule rejects: a key that does not
// hash to the one the output names, and a multisig given more signatures
// than it asks for. verifyStandard must not settle them, since only the
// signatures' math passes; each also has its lawful twin, which both it
// and txscript accept.
func TestStandardRefusesWhatScriptsForbid(t *testing.T) {
	cv := requireFastCurve(t)
	f := newStandardFetcher()
	k1, k2, k3 := fixedKey("one"), fixedKey("two"), fixedKey("three")
	pub := func(k *btcec.PrivateKey) []byte { return k.PubKey().SerializeCompressed() }
	p2pkh := func(key []byte) []byte {
		return scriptOf(t, txscript.NewScriptBuilder().AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
			AddData(hash160(key)).AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG))
	}
	p2sh := func(redeem []byte) []byte {
		return scriptOf(t, txscript.NewScriptBuilder().AddOp(txscript.OP_HASH160).AddData(hash160(redeem)).AddOp(txscript.OP_EQUAL))
	}
	p2wpkh := func(key []byte) []byte { return append([]byte{txscript.OP_0, txscript.OP_DATA_20}, hash160(key)...) }
	multisig := scriptOf(t, txscript.NewScriptBuilder().AddOp(txscript.OP_2).
		AddData(pub(k1)).AddData(pub(k2)).AddData(pub(k3)).AddOp(txscript.OP_3).AddOp(txscript.OP_CHECKMULTISIG))
	wsh := sha256.Sum256(multisig)
	p2wsh := append([]byte{txscript.OP_0, txscript.OP_DATA_32}, wsh[:]...)

	type pair struct{ lawful, forbidden spendCase }
	var pairs []pair

	// P2PKH: the key must hash to the output's hash.
	{
		good, bad := signedSpend("p2pkh", p2pkh(pub(k1))), signedSpend("p2pkh, another key's hash", p2pkh(pub(k2)))
		good.tx.TxIn[0].SignatureScript = scriptOf(t, txscript.NewScriptBuilder().
			AddData(legacySig(t, good, good.prevouts[0].PkScript, k1)).AddData(pub(k1)))
		bad.tx.TxIn[0].SignatureScript = scriptOf(t, txscript.NewScriptBuilder().
			AddData(legacySig(t, bad, bad.prevouts[0].PkScript, k1)).AddData(pub(k1)))
		pairs = append(pairs, pair{good, bad})
	}
	// P2WPKH, bare and nested: the same.
	for _, nested := range []bool{false, true} {
		good, bad := signedSpend("p2wpkh", p2wpkh(pub(k1))), signedSpend("p2wpkh, another key's hash", p2wpkh(pub(k2)))
		for _, c := range []*spendCase{&good, &bad} {
			program := c.prevouts[0].PkScript
			c.tx.TxIn[0].Witness = wire.TxWitness{witnessSig(t, *c, program, k1), pub(k1)}
			if nested {
				c.name = "p2sh-" + c.name
				c.prevouts[0].PkScript = p2sh(program)
				c.tx.TxIn[0].SignatureScript = scriptOf(t, txscript.NewScriptBuilder().AddData(program))
			}
		}
		pairs = append(pairs, pair{good, bad})
	}
	// 2-of-3 multisig given three valid signatures: the first becomes
	// the dummy, which NULLDUMMY forbids (bare and P2SH), or is left on
	// the stack, which segwit's clean stack forbids (P2WSH).
	for _, wrap := range []string{"bare", "p2sh", "p2wsh"} {
		pk := map[string][]byte{"bare": multisig, "p2sh": p2sh(multisig), "p2wsh": p2wsh}[wrap]
		good := signedSpend(wrap+" 2-of-3", pk)
		bad := signedSpend(wrap+" 2-of-3, three signatures", pk)
		for _, c := range []*spendCase{&good, &bad} {
			signers := []*btcec.PrivateKey{k1, k3}
			if c == &bad {
				signers = []*btcec.PrivateKey{k1, k2, k3}
			}
			if wrap == "p2wsh" {
				w := wire.TxWitness{{}}
				for _, k := range signers {
					w = append(w, witnessSig(t, *c, multisig, k))
				}
				c.tx.TxIn[0].Witness = append(w, multisig)
				continue
			}
			b := txscript.NewScriptBuilder().AddOp(txscript.OP_0)
			for _, k := range signers {
				b.AddData(legacySig(t, *c, multisig, k))
			}
			if wrap == "p2sh" {
				b.AddData(multisig)
			}
			c.tx.TxIn[0].SignatureScript = scriptOf(t, b)
		}
		pairs = append(pairs, pair{good, bad})
	}

	// A high-S signature is valid by consensus (LOW_S is policy); asked
	// for LOW_S, txscript rejects it, and verifyStandard, which applies
	// consensus flags only, must leave it alone.
	{
		good := signedSpend("p2pkh, high S", p2pkh(pub(k1)))
		sig := highS(t, legacySig(t, good, good.prevouts[0].PkScript, k1))
		good.tx.TxIn[0].SignatureScript = scriptOf(t, txscript.NewScriptBuilder().AddData(sig).AddData(pub(k1)))
		bad := good
		bad.name = "p2pkh, high S, under LOW_S"
		bad.flags |= txscript.ScriptVerifyLowS
		pairs = append(pairs, pair{good, bad})
	}

	for _, p := range pairs {
		if err := runEngine(p.lawful.tx, p.lawful.prevouts, 0, p.lawful.flags, nil); err != nil {
			t.Fatalf("%s: txscript rejects the lawful spend: %v", p.lawful.name, err)
		}
		if _, ok := runStandard(cv, p.lawful, f); !ok {
			t.Errorf("%s: verifyStandard does not settle the lawful spend", p.lawful.name)
		}
		if err := runEngine(p.forbidden.tx, p.forbidden.prevouts, 0, p.forbidden.flags, nil); err == nil {
			t.Fatalf("%s: txscript accepts it; the test shows nothing", p.forbidden.name)
		}
		if n, ok := runStandard(cv, p.forbidden, f); ok {
			t.Errorf("%s: verifyStandard settles it as valid (%d signatures)", p.forbidden.name, n)
		}
	}
}

// highS returns sig (DER and a sighash type byte) with s replaced by
// N - s, the other valid signature of the same hash.
func highS(t *testing.T, sig []byte) []byte {
	t.Helper()
	parsed, err := ecdsa.ParseDERSignature(sig[:len(sig)-1])
	if err != nil {
		t.Fatal(err)
	}
	r, s := parsed.R(), parsed.S()
	s.Negate()
	rb, sb := r.Bytes(), s.Bytes()
	derInt := func(b [32]byte) []byte {
		v := bytes.TrimLeft(b[:], "\x00")
		if v[0]&0x80 != 0 {
			v = append([]byte{0}, v...)
		}
		return append([]byte{0x02, byte(len(v))}, v...)
	}
	body := append(derInt(rb), derInt(sb)...)
	return append(append([]byte{0x30, byte(len(body))}, body...), sig[len(sig)-1])
}
