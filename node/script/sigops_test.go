package script

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Scripts built by hand for the sigop counts; signatures are placeholders,
// since counting never checks them.
var (
	testKey1 = append([]byte{0x02}, bytes.Repeat([]byte{0x11}, 32)...)
	testKey2 = append([]byte{0x03}, bytes.Repeat([]byte{0x22}, 32)...)
	testKey3 = append([]byte{0x02}, bytes.Repeat([]byte{0x33}, 32)...)
	testSig  = append(append([]byte{0x30, 0x44}, bytes.Repeat([]byte{0x55}, 69)...), byte(txscript.SigHashAll))
	hash20   = bytes.Repeat([]byte{0x66}, 20)
)

func mustScript(t *testing.T, b *txscript.ScriptBuilder) []byte {
	t.Helper()
	s, err := b.Script()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSigOpCost checks SigOpCost against counts worked out by hand from
// Core's rules.
func TestSigOpCost(t *testing.T) {
	all := Flags(regtestParams(), 200, [32]byte{1})
	noP2SH := all &^ (txscript.ScriptBip16 | txscript.ScriptVerifyWitness)
	noWitness := all &^ txscript.ScriptVerifyWitness

	p2pkh := mustScript(t, txscript.NewScriptBuilder().AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
		AddData(hash20).AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG))
	multisig := mustScript(t, txscript.NewScriptBuilder().AddOp(txscript.OP_2).
		AddData(testKey1).AddData(testKey2).AddData(testKey3).AddOp(txscript.OP_3).AddOp(txscript.OP_CHECKMULTISIG))
	bareMultisig := mustScript(t, txscript.NewScriptBuilder().AddOp(txscript.OP_1).
		AddData(testKey1).AddData(testKey2).AddOp(txscript.OP_2).AddOp(txscript.OP_CHECKMULTISIG))
	// Counting reads a P2SH script's form, never checks its hash.
	p2sh := func([]byte) []byte {
		return mustScript(t, txscript.NewScriptBuilder().AddOp(txscript.OP_HASH160).AddData(hash20).AddOp(txscript.OP_EQUAL))
	}
	p2wpkh := mustScript(t, txscript.NewScriptBuilder().AddOp(txscript.OP_0).AddData(hash20))
	ws := sha256.Sum256(multisig)
	p2wsh := mustScript(t, txscript.NewScriptBuilder().AddOp(txscript.OP_0).AddData(ws[:]))
	p2tr := mustScript(t, txscript.NewScriptBuilder().AddOp(txscript.OP_1).AddData(testKey1[1:]))
	p2pk := mustScript(t, txscript.NewScriptBuilder().AddData(testKey1).AddOp(txscript.OP_CHECKSIG))

	spend := func(sigScript []byte, witness wire.TxWitness, outs ...[]byte) *wire.MsgTx {
		tx := wire.NewMsgTx(2)
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: 0, Hash: [32]byte{9}}, SignatureScript: sigScript, Witness: witness})
		for _, o := range outs {
			tx.AddTxOut(&wire.TxOut{Value: 1000, PkScript: o})
		}
		return tx
	}
	prev := func(pk []byte) []*wire.TxOut { return []*wire.TxOut{{Value: 2000, PkScript: pk}} }

	p2shSigScript := mustScript(t, txscript.NewScriptBuilder().AddOp(txscript.OP_0).AddData(testSig).AddData(testSig).AddData(multisig))
	nestedSigScript := mustScript(t, txscript.NewScriptBuilder().AddData(p2wpkh))
	coinbase := wire.NewMsgTx(1)
	// A coinbase's scriptSig is counted too: OP_CHECKSIG as a raw byte
	// after the height push costs 4 like the P2PK output.
	coinbase.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript: []byte{0x01, 0x05, txscript.OP_CHECKSIG}})
	coinbase.AddTxOut(&wire.TxOut{Value: 50, PkScript: p2pk})

	cases := []struct {
		name     string
		tx       *wire.MsgTx
		prevouts []*wire.TxOut
		flags    txscript.ScriptFlags
		want     int
	}{
		// The output's CHECKSIG, counted the legacy way (×4); neither the
		// scriptSig's pushes nor the spent script count.
		{"p2pkh", spend(mustScript(t, txscript.NewScriptBuilder().AddData(testSig).AddData(testKey1)), nil, p2pkh), prev(p2pkh), all, 4},
		// The redeem script's CHECKMULTISIG of three keys, counted
		// accurately (3) ×4; the P2SH output itself has no sigops.
		{"p2sh 2-of-3", spend(p2shSigScript, nil, p2sh(multisig)), prev(p2sh(multisig)), all, 12},
		{"p2sh 2-of-3 before BIP16", spend(p2shSigScript, nil, p2sh(multisig)), prev(p2sh(multisig)), noP2SH, 0},
		// A P2SH scriptSig that is not push-only counts nothing.
		{"p2sh not push-only", spend(append([]byte{txscript.OP_NOP}, p2shSigScript...), nil), prev(p2sh(multisig)), all, 0},
		// The witness script's three keys at one unit each.
		{"p2wsh 2-of-3", spend(nil, wire.TxWitness{nil, testSig, testSig, multisig}, p2wpkh), prev(p2wsh), all, 3},
		{"p2wsh 2-of-3 without witness rules", spend(nil, wire.TxWitness{nil, testSig, testSig, multisig}, p2wpkh), prev(p2wsh), noWitness, 0},
		{"p2wpkh", spend(nil, wire.TxWitness{testSig, testKey1}, p2wsh), prev(p2wpkh), all, 1},
		// P2SH-wrapped P2WPKH: the redeem script (OP_0 <20 bytes>) has
		// no sigops, the witness program one.
		{"p2sh-p2wpkh", spend(nestedSigScript, wire.TxWitness{testSig, testKey1}), prev(p2sh(p2wpkh)), all, 1},
		// Taproot spends cost no sigops; their budget is the witness.
		{"p2tr", spend(nil, wire.TxWitness{testSig[:64]}, p2tr), prev(p2tr), all, 0},
		// A bare multisig output counts 20 the legacy way: 80.
		{"bare multisig output", spend(nil, wire.TxWitness{testSig, testKey1}, bareMultisig), prev(p2wpkh), all, 80 + 1},
		// Coinbase: only the legacy count, and no prevouts to read.
		{"coinbase", coinbase, nil, all, 8},
	}
	for _, c := range cases {
		if got := SigOpCost(c.tx, c.prevouts, c.flags); got != c.want {
			t.Errorf("%s: cost %d, want %d", c.name, got, c.want)
		}
	}

	// Inputs add up.
	tx := spend(p2shSigScript, nil, p2pkh)
	tx.AddTxIn(&wire.TxIn{SignatureScript: nil, Witness: wire.TxWitness{nil, testSig, testSig, multisig}})
	tx.AddTxIn(&wire.TxIn{Witness: wire.TxWitness{testSig, testKey1}})
	prevs := []*wire.TxOut{{PkScript: p2sh(multisig)}, {PkScript: p2wsh}, {PkScript: p2wpkh}}
	if got, want := SigOpCost(tx, prevs, all), 4+12+3+1; got != want {
		t.Errorf("three inputs: cost %d, want %d", got, want)
	}
}
