package script

import (
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"go.uber.org/goleak"
)

// biggest returns the block of the test chain with the most inputs.
func biggest(t *testing.T) chainBlock {
	t.Helper()
	chain := loadChain(t)
	best := chain[0]
	for _, cb := range chain {
		if inputCount(cb.block) > inputCount(best.block) {
			best = cb
		}
	}
	if inputCount(best.block) < 20 {
		t.Fatalf("the test chain's biggest block has %d inputs", inputCount(best.block))
	}
	return best
}

// TestInputErrorText checks the message names the full txid, the input
// and the outpoint, and that txscript's error stays reachable.
func TestInputErrorText(t *testing.T) {
	id, _ := chainhash.NewHashFromStr("4f2a000000000000000000000000000000000000000000000000000000000001")
	prev, _ := chainhash.NewHashFromStr("9a10000000000000000000000000000000000000000000000000000000000002")
	inner := txscript.Error{ErrorCode: txscript.ErrEvalFalse, Description: "false stack entry at end of script execution"}
	e := &InputError{TxIndex: 3, TxID: *id, Input: 0, Prevout: wire.OutPoint{Hash: *prev, Index: 1}, Err: inner}
	want := "tx " + id.String() + " input 0 spending " + prev.String() + ":1: script failed: false stack entry at end of script execution"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	var se txscript.Error
	if !errors.As(e, &se) || se.ErrorCode != txscript.ErrEvalFalse {
		t.Errorf("txscript's error is not reachable through Unwrap")
	}
}

// TestLowestFailure damages several inputs of one block and checks the
// lowest is reported, whatever the number of workers. The lowest is the
// last input of the first chunk and the next is the first of the second
// chunk, so with two or more workers the higher failure is usually found
// first: reporting the first failure found would fail here.
func TestLowestFailure(t *testing.T) {
	cb := biggest(t)
	var refs []spendRef // the block's inputs in order
	for ti, tx := range cb.block.Msg.Transactions[1:] {
		for j, in := range tx.TxIn {
			refs = append(refs, spendRef{0, ti + 1, j, kindOf(cb.prevouts[ti+1][j].PkScript, in)})
		}
	}
	for _, workers := range []int{1, 2, 7} {
		v := NewVerifier(workers, 0)
		probe := v.Start(cb.block, cb.prevouts, cb.flags)
		if err := probe.Wait(); err != nil {
			t.Fatal(err)
		}
		chunk := probe.chunk
		if chunk < 2 || len(refs) <= chunk+1 {
			t.Fatalf("%d workers: chunks of %d inputs out of %d, want several inputs in each of several chunks", workers, chunk, len(refs))
		}
		bad := cb.block
		for _, g := range []int{len(refs) - 1, chunk, chunk - 1} {
			r := refs[g]
			bad = withTx(t, bad, r.tx, func(tx *wire.MsgTx) { damage(signatureOf(t, r.kind, tx.TxIn[r.input])) })
		}
		lowest := refs[chunk-1]
		for range 5 {
			err := v.Start(bad, cb.prevouts, cb.flags).Wait()
			wantInputError(t, "three damaged inputs", err, bad, lowest.tx, lowest.input)
		}
		v.Close()
	}
}

// TestPrevoutShape checks that prevouts not matching the block end the
// check with ErrPrevouts at once.
func TestPrevoutShape(t *testing.T) {
	cb := biggest(t)
	v := NewVerifier(2, 0)
	defer v.Close()
	short := cb.prevouts[:len(cb.prevouts)-1]
	missing := append([][]*wire.TxOut(nil), cb.prevouts...)
	missing[1] = missing[1][:len(missing[1])-1]
	nilOut := append([][]*wire.TxOut(nil), cb.prevouts...)
	nilOut[2] = append([]*wire.TxOut(nil), nilOut[2]...)
	nilOut[2][0] = nil
	for name, p := range map[string][][]*wire.TxOut{"short": short, "missing": missing, "nil": nilOut} {
		c := v.Start(cb.block, p, cb.flags)
		if err := c.Wait(); !errors.Is(err, ErrPrevouts) {
			t.Errorf("%s prevouts: %v, want ErrPrevouts", name, err)
		}
		if c.Verified() != 0 {
			t.Errorf("%s prevouts: %d inputs verified", name, c.Verified())
		}
	}
}

// TestCoinbaseOnly checks a block with nothing to verify is over at once.
func TestCoinbaseOnly(t *testing.T) {
	cb := loadChain(t)[0]
	if len(cb.block.Msg.Transactions) != 1 {
		t.Fatalf("block 1 has %d transactions", len(cb.block.Msg.Transactions))
	}
	v := NewVerifier(1, 0)
	defer v.Close()
	if err := v.Start(cb.block, [][]*wire.TxOut{nil}, cb.flags).Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestCancel cancels a check queued behind others, one running, and one
// already over.
func TestCancel(t *testing.T) {
	cb := biggest(t)
	v := NewVerifier(1, 0)
	defer v.Close()

	// One worker, three big checks ahead: the fourth cannot have started
	// when it is canceled, so Wait must not wait for the others.
	var ahead []*Check
	for range 3 {
		ahead = append(ahead, v.Start(cb.block, cb.prevouts, cb.flags))
	}
	queued := v.Start(cb.block, cb.prevouts, cb.flags)
	queued.Cancel()
	if err := queued.Wait(); !errors.Is(err, ErrCanceled) {
		t.Errorf("canceled while queued: %v, want ErrCanceled", err)
	}
	if queued.Verified() != 0 {
		t.Errorf("canceled while queued: %d inputs verified", queued.Verified())
	}
	// Cancel the one running (or still queued): it stops early or, if it
	// just finished, passes.
	ahead[0].Cancel()
	if err := ahead[0].Wait(); err != nil && !errors.Is(err, ErrCanceled) {
		t.Errorf("canceled while running: %v", err)
	}
	for _, c := range ahead[1:] {
		if err := c.Wait(); err != nil {
			t.Errorf("a check not canceled: %v", err)
		}
	}
	// Canceling a check that is over changes nothing.
	ahead[2].Cancel()
	if err := ahead[2].Wait(); err != nil {
		t.Errorf("canceled after it passed: %v", err)
	}
	if ahead[2].Verified() != inputCount(cb.block) {
		t.Errorf("%d inputs verified, want %d", ahead[2].Verified(), inputCount(cb.block))
	}
}

// TestCancelIsPrompt checks that Wait after Cancel does not wait for the
// rest of a large block.
func TestCancelIsPrompt(t *testing.T) {
	cb := biggest(t)
	v := NewVerifier(1, 0)
	defer v.Close()
	start := time.Now()
	if err := v.Start(cb.block, cb.prevouts, cb.flags).Wait(); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	// Ten copies of the block take about ten times as long; canceling
	// them all at once must take far less than one.
	var checks []*Check
	for range 10 {
		checks = append(checks, v.Start(cb.block, cb.prevouts, cb.flags))
	}
	start = time.Now()
	for _, c := range checks {
		c.Cancel()
	}
	for _, c := range checks {
		if err := c.Wait(); err != nil && !errors.Is(err, ErrCanceled) {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > 5*full {
		t.Errorf("canceling ten blocks took %v, one block takes %v", took, full)
	}
}

// TestClose closes a Verifier with checks queued: they end (ErrClosed, or
// nil for one that finished), Start afterwards ends at once with
// ErrClosed, Close is idempotent, and no goroutine is left.
func TestClose(t *testing.T) {
	cb := biggest(t)
	v := NewVerifier(2, 100)
	var checks []*Check
	for range 5 {
		checks = append(checks, v.Start(cb.block, cb.prevouts, cb.flags))
	}
	v.Close()
	closed := 0
	for _, c := range checks {
		err := c.Wait()
		switch {
		case errors.Is(err, ErrClosed):
			closed++
		case err != nil:
			t.Errorf("check ended with %v", err)
		}
	}
	if closed == 0 {
		t.Errorf("closing with five big blocks queued ended none of them with ErrClosed")
	}
	if err := v.Start(cb.block, cb.prevouts, cb.flags).Wait(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
	checks[4].Cancel() // after Close: must not block or panic
	v.Close()
	goleak.VerifyNone(t)
}

// TestSigCacheMadeByFirstStart: the signature cache's map (allocated whole
// by txscript) is made only when the first block is started, so a node
// that never verifies a block never holds it; later checks share it.
func TestSigCacheMadeByFirstStart(t *testing.T) {
	cb := biggest(t)
	v := NewVerifier(2, 10_000)
	defer v.Close()
	if v.sigCache != nil {
		t.Fatal("the cache exists before any Start")
	}
	if err := v.Start(cb.block, cb.prevouts, cb.flags).Wait(); err != nil {
		t.Fatal(err)
	}
	if v.sigCache == nil {
		t.Fatal("no cache after the first Start")
	}
	made := v.sigCache
	c := v.Start(cb.block, cb.prevouts, cb.flags)
	if err := c.Wait(); err != nil {
		t.Fatalf("the same block again, with its signatures cached: %v", err)
	}
	if c.sigCache != made || v.sigCache != made {
		t.Error("a second Start made another cache")
	}

	none := NewVerifier(1, 0)
	defer none.Close()
	if err := none.Start(cb.block, cb.prevouts, cb.flags).Wait(); err != nil {
		t.Fatal(err)
	}
	if none.sigCache != nil {
		t.Error("a Verifier sized zero made a cache")
	}
}
