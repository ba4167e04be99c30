package script

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// spendCase is one input to verify: input j of tx, spending prevouts[j],
// under flags.
type spendCase struct {
	name     string
	tx       *wire.MsgTx
	prevouts []*wire.TxOut
	j        int
	flags    txscript.ScriptFlags
	// sigs is how many signatures the spend needs.
	sigs int
}

// standardCases returns the first spend of each kind of the generated
// chain and three more made from them, for the wrappings the generator
// does not produce: P2SH-P2WPKH and P2SH-P2WSH (the same witness under a
// P2SH output whose scriptSig pushes the program; BIP143's sighash does
// not cover the spent script, so the signatures stay valid), and a bare
// multisig (the P2SH multisig's redeem script as the spent script; the
// legacy sighash of both is over that script).
func standardCases(tb testing.TB) []spendCase {
	tb.Helper()
	chain, err := testChain()
	if err != nil {
		tb.Fatal(err)
	}
	first := firstOfEachKind(tb, chain)
	var cases []spendCase
	for _, kind := range allKinds {
		r := first[kind]
		cb := chain[r.block]
		tx := cb.block.Msg.Transactions[r.tx]
		c := spendCase{name: kind, tx: tx, prevouts: cb.prevouts[r.tx], j: r.input, flags: cb.flags}
		c.sigs = signaturesNeeded(c.prevouts[c.j].PkScript, tx.TxIn[c.j])
		cases = append(cases, c)
		switch kind {
		case kindP2WPKH, kindP2WSH:
			cases = append(cases, nestInP2SH(tb, c))
		case kindP2SH:
			cases = append(cases, bareMultisig(tb, c))
		}
	}
	return cases
}

// signaturesNeeded returns m for a multisig spend (bare, P2SH or P2WSH),
// 1 for any other.
func signaturesNeeded(pk []byte, in *wire.TxIn) int {
	m, _ := multisigShape(pk, in)
	return m
}

// keysTried returns how many signature verifications spending pk with in
// takes in the generated chains: n for an m-of-n multisig (bare, P2SH or
// P2WSH), 1 for any other. CHECKMULTISIG (Core's and btcd's alike) walks
// the keys from the last one down, trying the last unmatched signature
// against each, and blockgen signs with the first m of n keys, so every
// key is tried: 3 for the P2SH 2-of-3, 2 for the P2WSH 1-of-2.
func keysTried(pk []byte, in *wire.TxIn) int {
	_, n := multisigShape(pk, in)
	return n
}

// multisigShape returns m and n of a multisig spend, 1 and 1 for any
// other.
func multisigShape(pk []byte, in *wire.TxIn) (int, int) {
	script := pk
	switch {
	case isP2SH(pk):
		tok := txscript.MakeScriptTokenizer(0, in.SignatureScript)
		for tok.Next() {
			script = tok.Data()
		}
	case isP2WSH(pk):
		script = in.Witness[len(in.Witness)-1]
	}
	if keys, m, ok := multisigKeys(script, nil); ok {
		return m, len(keys)
	}
	return 1, 1
}

// withPrevout returns c with its own copies of the transaction and the
// prevouts, input j's prevout replaced by pk (same value).
func withPrevout(c spendCase, name string, pk []byte) spendCase {
	c.name = name
	c.tx = c.tx.Copy()
	prevouts := append([]*wire.TxOut(nil), c.prevouts...)
	prevouts[c.j] = &wire.TxOut{Value: c.prevouts[c.j].Value, PkScript: pk}
	c.prevouts = prevouts
	return c
}

// nestInP2SH moves a native witness spend under P2SH.
func nestInP2SH(tb testing.TB, c spendCase) spendCase {
	tb.Helper()
	program := c.prevouts[c.j].PkScript
	pk, err := txscript.NewScriptBuilder().AddOp(txscript.OP_HASH160).
		AddData(hash160(program)).AddOp(txscript.OP_EQUAL).Script()
	if err != nil {
		tb.Fatal(err)
	}
	n := withPrevout(c, "p2sh-"+c.name, pk)
	n.tx.TxIn[n.j].SignatureScript = append([]byte{byte(len(program))}, program...)
	return n
}

// bareMultisig spends a P2SH multisig's redeem script directly.
func bareMultisig(tb testing.TB, c spendCase) spendCase {
	tb.Helper()
	var pushes [][]byte
	tok := txscript.MakeScriptTokenizer(0, c.tx.TxIn[c.j].SignatureScript)
	for tok.Next() {
		pushes = append(pushes, tok.Data())
	}
	redeem := pushes[len(pushes)-1]
	n := withPrevout(c, "bare-multisig", redeem)
	b := txscript.NewScriptBuilder().AddOp(txscript.OP_0)
	for _, sig := range pushes[1 : len(pushes)-1] {
		b.AddData(sig)
	}
	ss, err := b.Script()
	if err != nil {
		tb.Fatal(err)
	}
	n.tx.TxIn[n.j].SignatureScript = ss
	return n
}

// runStandard runs verifyStandard on c as a worker does.
func runStandard(cv curve, c spendCase, f *prevoutFetcher) (int, bool) {
	var hashes *txscript.TxSigHashes
	if c.tx.HasWitness() {
		f.reset(c.tx, c.prevouts, 0)
		hashes = txscript.NewTxSigHashes(c.tx, f)
	}
	f.reset(c.tx, c.prevouts, c.j)
	return verifyStandard(cv, c.tx, c.j, c.prevouts[c.j], c.flags, hashes, f)
}

// TestStandardSettlesEveryKind: every spend of the generated chain, and
// the three wrappings made from them, is settled by verifyStandard with
// the signatures it needs, and txscript agrees that each is valid.
func TestStandardSettlesEveryKind(t *testing.T) {
	cv := requireFastCurve(t)
	f := newStandardFetcher()
	for _, c := range standardCases(t) {
		if err := runEngine(c.tx, c.prevouts, c.j, c.flags, nil); err != nil {
			t.Fatalf("%s: txscript rejects the spend: %v", c.name, err)
		}
		n, ok := runStandard(cv, c, f)
		if !ok || n != c.sigs {
			t.Errorf("%s: verifyStandard = %d, %v; want %d signatures, settled", c.name, n, ok, c.sigs)
		}
	}
	chain := loadChain(t)
	for _, r := range spends(chain) {
		cb := chain[r.block]
		tx := cb.block.Msg.Transactions[r.tx]
		c := spendCase{tx: tx, prevouts: cb.prevouts[r.tx], j: r.input, flags: cb.flags}
		if _, ok := runStandard(cv, c, f); !ok {
			t.Fatalf("block %d tx %d input %d (%s): not settled", r.block, r.tx, r.input, r.kind)
		}
	}
}

// TestStandardNeverAcceptsWhatTxscriptRejects changes each standard
// spend in every way listed by variants (every byte of the scriptSig, the
// witness and the spent script; the amount; the shape of the scriptSig
// and witness; the flags; the rest of the transaction) and requires that
// verifyStandard settles as valid only what txscript accepts. It also
// requires that txscript rejects many of them, so that the agreement is
// shown on real failures.
func TestStandardNeverAcceptsWhatTxscriptRejects(t *testing.T) {
	cv := requireFastCurve(t)
	f := newStandardFetcher()
	for _, base := range standardCases(t) {
		rejected, settled := 0, 0
		for _, c := range variants(base) {
			n, ok := runStandard(cv, c, f)
			err := runEngine(c.tx, c.prevouts, c.j, c.flags, nil)
			if ok && err != nil {
				t.Errorf("%s: verifyStandard settles it as valid (%d signatures); txscript: %v", c.name, n, err)
			}
			if err != nil {
				rejected++
			}
			if ok {
				settled++
			}
		}
		t.Logf("%s: txscript rejected %d variants, verifyStandard settled %d", base.name, rejected, settled)
		if rejected < 20 || settled == 0 {
			t.Errorf("%s: txscript rejected %d variants and verifyStandard settled %d; the test shows little", base.name, rejected, settled)
		}
	}
}

// variants returns c changed in each of the ways
// TestStandardNeverAcceptsWhatTxscriptRejects lists.
func variants(c spendCase) []spendCase {
	var out []spendCase
	add := func(name string, edit func(v *spendCase)) {
		v := withPrevout(c, c.name+": "+name, bytes.Clone(c.prevouts[c.j].PkScript))
		edit(&v)
		out = append(out, v)
	}
	in := c.tx.TxIn[c.j]
	for i := range in.SignatureScript {
		add(fmt.Sprintf("scriptSig byte %d", i), func(v *spendCase) { v.tx.TxIn[v.j].SignatureScript[i] ^= 1 })
	}
	for k, item := range in.Witness {
		for i := range item {
			add(fmt.Sprintf("witness item %d byte %d", k, i), func(v *spendCase) { v.tx.TxIn[v.j].Witness[k][i] ^= 1 })
		}
	}
	for i := range c.prevouts[c.j].PkScript {
		add(fmt.Sprintf("spent script byte %d", i), func(v *spendCase) { v.prevouts[v.j].PkScript[i] ^= 1 })
	}
	add("amount + 1", func(v *spendCase) { v.prevouts[v.j].Value++ })
	add("scriptSig + OP_0", func(v *spendCase) {
		in := v.tx.TxIn[v.j]
		in.SignatureScript = append(in.SignatureScript, txscript.OP_0)
	})
	add("scriptSig + OP_1", func(v *spendCase) {
		in := v.tx.TxIn[v.j]
		in.SignatureScript = append(in.SignatureScript, txscript.OP_1)
	})
	add("OP_0 + scriptSig", func(v *spendCase) {
		in := v.tx.TxIn[v.j]
		in.SignatureScript = append([]byte{txscript.OP_0}, in.SignatureScript...)
	})
	add("OP_1 for the first push", func(v *spendCase) {
		in := v.tx.TxIn[v.j]
		if len(in.SignatureScript) > 0 && in.SignatureScript[0] == txscript.OP_0 {
			in.SignatureScript[0] = txscript.OP_1
		}
	})
	add("a PUSHDATA1 of nothing for OP_0", func(v *spendCase) {
		in := v.tx.TxIn[v.j]
		if len(in.SignatureScript) > 0 && in.SignatureScript[0] == txscript.OP_0 {
			in.SignatureScript = append([]byte{txscript.OP_PUSHDATA1, 0}, in.SignatureScript[1:]...)
		}
	})
	add("a byte for the dummy in the scriptSig", func(v *spendCase) {
		in := v.tx.TxIn[v.j]
		if len(in.SignatureScript) > 0 && in.SignatureScript[0] == txscript.OP_0 {
			in.SignatureScript = append([]byte{txscript.OP_DATA_1, 0}, in.SignatureScript[1:]...)
		}
	})
	add("no scriptSig", func(v *spendCase) { v.tx.TxIn[v.j].SignatureScript = nil })
	add("witness + empty item", func(v *spendCase) { in := v.tx.TxIn[v.j]; in.Witness = append(in.Witness, []byte{}) })
	add("witness + annex", func(v *spendCase) {
		in := v.tx.TxIn[v.j]
		in.Witness = append(in.Witness, []byte{txscript.TaprootAnnexTag})
	})
	add("empty item + witness", func(v *spendCase) {
		in := v.tx.TxIn[v.j]
		in.Witness = append(wire.TxWitness{{}}, in.Witness...)
	})
	add("witness less its first item", func(v *spendCase) {
		if in := v.tx.TxIn[v.j]; len(in.Witness) > 0 {
			in.Witness = in.Witness[1:]
		}
	})
	add("witness less its last item", func(v *spendCase) {
		if in := v.tx.TxIn[v.j]; len(in.Witness) > 0 {
			in.Witness = in.Witness[:len(in.Witness)-1]
		}
	})
	add("a byte for the dummy", func(v *spendCase) {
		if in := v.tx.TxIn[v.j]; len(in.Witness) > 2 && len(in.Witness[0]) == 0 {
			in.Witness[0] = []byte{0}
		}
	})
	add("no witness", func(v *spendCase) { v.tx.TxIn[v.j].Witness = nil })
	add("version + 1", func(v *spendCase) { v.tx.Version++ })
	add("lock time + 1", func(v *spendCase) { v.tx.LockTime++ })
	add("sequence - 1", func(v *spendCase) { v.tx.TxIn[v.j].Sequence-- })
	add("first output's value + 1", func(v *spendCase) {
		out := *v.tx.TxOut[0]
		out.Value++
		v.tx.TxOut[0] = &out
	})
	for _, flag := range []txscript.ScriptFlags{flagP2SH, flagWitness, flagTaproot, flagDERSig, flagNullDummy} {
		add(fmt.Sprintf("without flag %#x", flag), func(v *spendCase) { v.flags &^= flag })
	}
	add("with LOW_S and STRICTENC", func(v *spendCase) {
		v.flags |= txscript.ScriptVerifyLowS | txscript.ScriptVerifyStrictEncoding
	})
	return out
}

// FuzzVerifyStandard feeds verifyStandard a transaction, its prevouts,
// an input and flags from the fuzzer (seeded with every standard case):
// it must not panic, and whatever it settles as valid txscript must
// accept.
func FuzzVerifyStandard(f *testing.F) {
	consensusFlags := []txscript.ScriptFlags{flagP2SH, flagWitness, flagTaproot, flagDERSig, flagCLTV, flagCSV, flagNullDummy}
	for _, c := range standardCases(f) {
		var txBuf, outBuf bytes.Buffer
		if err := c.tx.Serialize(&txBuf); err != nil {
			f.Fatal(err)
		}
		if err := prevoutCarrier(c.prevouts).Serialize(&outBuf); err != nil {
			f.Fatal(err)
		}
		var bits uint8
		for i, flag := range consensusFlags {
			if c.flags&flag != 0 {
				bits |= 1 << i
			}
		}
		f.Add(txBuf.Bytes(), outBuf.Bytes(), uint8(c.j), bits)
	}
	cv := requireFastCurve(f)
	fetcher := newStandardFetcher()
	f.Fuzz(func(t *testing.T, rawTx, rawPrevouts []byte, input, flagBits uint8) {
		var tx, carrier wire.MsgTx
		if tx.Deserialize(bytes.NewReader(rawTx)) != nil || carrier.Deserialize(bytes.NewReader(rawPrevouts)) != nil {
			return
		}
		if len(tx.TxIn) == 0 || len(carrier.TxOut) != len(tx.TxIn) {
			return
		}
		var flags txscript.ScriptFlags
		for i, flag := range consensusFlags {
			if flagBits&(1<<i) != 0 {
				flags |= flag
			}
		}
		if flagBits&0x80 != 0 {
			flags |= txscript.ScriptVerifyLowS
		}
		c := spendCase{tx: &tx, prevouts: carrier.TxOut, j: int(input) % len(tx.TxIn), flags: flags}
		if n, ok := runStandard(cv, c, fetcher); ok {
			if err := runEngine(c.tx, c.prevouts, c.j, c.flags, nil); err != nil {
				t.Fatalf("verifyStandard settles input %d as valid (%d signatures) under flags %#x; txscript: %v", c.j, n, flags, err)
			}
		}
	})
}

// prevoutCarrier wraps prevouts as the outputs of a transaction, which
// wire serializes for the fuzzer's corpus.
func prevoutCarrier(prevouts []*wire.TxOut) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{})
	tx.TxOut = prevouts
	return tx
}
