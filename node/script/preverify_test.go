package script

import (
	"os"
	"testing"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// requireFastCurve returns the build's libsecp256k1, or skips when the
// build does not link it; under CI=true it fails instead, since the
// Makefile builds with it and a silent skip would hide a missing library.
func requireFastCurve(tb testing.TB) curve {
	tb.Helper()
	cv := newFastCurve()
	if cv == nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("built without libsecp256k1 (the libsecp256k1 build tag and cgo); make test builds with it")
		}
		tb.Skip("built without libsecp256k1; run with -tags libsecp256k1")
	}
	tb.Cleanup(cv.close)
	return cv
}

// TestPreverifyFindsEverySignature runs preverify with libsecp256k1 over
// every input of the generated chain: it must find the signature txscript
// checks first in every spend of every kind, and only valid ones, since
// txscript then verifies the same inputs.
func TestPreverifyFindsEverySignature(t *testing.T) {
	cv := requireFastCurve(t)
	chain := loadChain(t)
	f := newPreverifyFetcher()
	seen := map[string]int{}
	for _, r := range spends(chain) {
		cb := chain[r.block]
		tx := cb.block.Msg.Transactions[r.tx]
		if _, ok := preverifyInput(cv, tx, cb.prevouts[r.tx], r.input, cb.flags, f); !ok {
			t.Fatalf("block %d tx %d input %d (%s): preverify found no valid signature", r.block, r.tx, r.input, r.kind)
		}
		seen[r.kind]++
	}
	for _, kind := range allKinds {
		if seen[kind] == 0 {
			t.Errorf("the chain has no %s spend", kind)
		}
	}
}

// yesCurve calls every signature valid. Handing its answers to txscript
// for a corrupted signature shows whether txscript used them: the script
// passes only if the engine looked up exactly the triple handed over.
type yesCurve struct{}

func (yesCurve) name() string                                    { return "yes" }
func (yesCurve) verifyECDSA(*[64]byte, []byte, []byte) bool      { return true }
func (yesCurve) verifySchnorr([]byte, []byte, []byte) bool       { return true }
func (yesCurve) checkTapTweak([]byte, []byte, []byte, bool) bool { return true }
func (yesCurve) close()                                          {}

// TestPreverifyHandsOverWhatTxscriptLooksUp corrupts, in one spend of
// every kind, the signature txscript checks first, and runs the engine
// twice: with what preverify (over yesCurve) hands over, it must pass,
// which it can only do by finding that triple in the cache instead of
// verifying; without, it must fail, which shows the corruption real. A
// sighash, signature or key computed differently from txscript's, or a
// multisig walked in another order, fails this test; it needs no
// libsecp256k1.
func TestPreverifyHandsOverWhatTxscriptLooksUp(t *testing.T) {
	chain := loadChain(t)
	f := newPreverifyFetcher()
	for _, r := range firstOfEachKind(t, chain) {
		cb := chain[r.block]
		tx := cb.block.Msg.Transactions[r.tx].Copy()
		corruptFirstChecked(t, r.kind, tx.TxIn[r.input])
		prevouts := cb.prevouts[r.tx]
		p, ok := preverifyInput(yesCurve{}, tx, prevouts, r.input, cb.flags, f)
		if !ok {
			t.Fatalf("%s: preverify handed nothing over", r.kind)
		}
		cache := txscript.NewSigCache(1)
		cache.Add(p.sigHash, p.sig, p.pubKey)
		if err := runEngine(tx, prevouts, r.input, cb.flags, cache); err != nil {
			t.Errorf("%s: txscript did not use the signature handed over: %v", r.kind, err)
		}
		if err := runEngine(tx, prevouts, r.input, cb.flags, nil); err == nil {
			t.Errorf("%s: the corrupted spend passes without a cache; the test shows nothing", r.kind)
		}
	}
}

// preverifyInput runs preverify on input j of tx as a worker does.
func preverifyInput(cv curve, tx *wire.MsgTx, prevouts []*wire.TxOut, j int, flags txscript.ScriptFlags, f *prevoutFetcher) (preverified, bool) {
	var hashes *txscript.TxSigHashes
	if tx.HasWitness() {
		f.reset(tx, prevouts, 0)
		hashes = txscript.NewTxSigHashes(tx, f)
	}
	f.reset(tx, prevouts, j)
	return preverify(cv, tx, j, prevouts[j], flags, hashes, f)
}

// runEngine runs txscript on input j of tx with cache.
func runEngine(tx *wire.MsgTx, prevouts []*wire.TxOut, j int, flags txscript.ScriptFlags, cache *txscript.SigCache) error {
	var f prevoutFetcher
	f.reset(tx, prevouts, 0)
	hashes := txscript.NewTxSigHashes(tx, &f)
	f.reset(tx, prevouts, j)
	vm, err := txscript.NewEngine(prevouts[j].PkScript, tx, j, flags, cache, hashes, prevouts[j].Value, &f)
	if err != nil {
		return err
	}
	return vm.Execute()
}

// corruptFirstChecked flips a bit of the signature txscript checks first
// in in (of the given kind), keeping its encoding valid: the last byte of
// an ECDSA signature's r, or a byte of a BIP340 signature's s. For a
// multisig that is the last signature pushed.
func corruptFirstChecked(t *testing.T, kind string, in *wire.TxIn) {
	t.Helper()
	var sig []byte
	switch kind {
	case kindP2PK, kindP2PKH:
		sig = pushData(t, in.SignatureScript)[0]
	case kindP2SH:
		p := pushData(t, in.SignatureScript)
		sig = p[len(p)-2]
	case kindP2WPKH, kindP2TRKey, kindP2TRScript:
		sig = in.Witness[0]
	case kindP2WSH:
		sig = in.Witness[len(in.Witness)-2]
	default:
		t.Fatalf("no signature to corrupt in a %s spend", kind)
	}
	if kind == kindP2TRKey || kind == kindP2TRScript {
		sig[40] ^= 1
		return
	}
	// DER: 0x30 len 0x02 rlen r... ; r's last byte is at 3+rlen.
	sig[3+int(sig[3])] ^= 1
}

// pushData returns the data of script's pushes, as slices of script.
func pushData(t *testing.T, script []byte) [][]byte {
	t.Helper()
	var out [][]byte
	tok := txscript.MakeScriptTokenizer(0, script)
	for tok.Next() {
		out = append(out, tok.Data())
	}
	if tok.Err() != nil {
		t.Fatal(tok.Err())
	}
	return out
}

// TestVerifierUsesFastCurve checks that a Verifier of a build linking
// libsecp256k1 says so and verifies the chain's signatures through it:
// every signature of every spend, as verifyStandard settles them all.
func TestVerifierUsesFastCurve(t *testing.T) {
	requireFastCurve(t)
	chain := loadChain(t)
	v := NewVerifier(2, 0)
	defer v.Close()
	if got := v.SignatureLibrary(); got != "libsecp256k1" {
		t.Errorf("SignatureLibrary() = %q, want libsecp256k1", got)
	}
	// Every signature a spend needs: verifyStandard settles them all.
	want := 0
	for _, r := range spends(chain) {
		cb := chain[r.block]
		want += signaturesNeeded(cb.prevouts[r.tx][r.input].PkScript, cb.block.Msg.Transactions[r.tx].TxIn[r.input])
	}
	for i, cb := range chain {
		if err := v.Start(cb.block, cb.prevouts, cb.flags).Wait(); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
	}
	if got := v.FastVerified(); got != int64(want) {
		t.Errorf("FastVerified() = %d, want %d", got, want)
	}
	// And every check: blockgen signs a multisig with its first m keys,
	// and CHECKMULTISIG walks from the last key, so an m-of-n spend
	// makes n checks.
	checks := 0
	for _, r := range spends(chain) {
		cb := chain[r.block]
		in := cb.block.Msg.Transactions[r.tx].TxIn[r.input]
		checks += keysTried(cb.prevouts[r.tx][r.input].PkScript, in)
	}
	if got := v.SignatureChecks(); got != int64(checks) {
		t.Errorf("SignatureChecks() = %d, want %d", got, checks)
	}
}
