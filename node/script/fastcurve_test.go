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
