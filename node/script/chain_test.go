package script

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

func regtestParams() *consensus.Params { return consensus.ParamsFor(protocol.Regtest) }

// chainBlock is one block of a generated chain with what checking it
// needs.
type chainBlock struct {
	block    *consensus.Block
	prevouts [][]*wire.TxOut
	flags    txscript.ScriptFlags
}

// spendRef names one input of a generated chain and its kind.
type spendRef struct {
	block, tx, input int
	kind             string
}

// generateChain makes a regtest chain with blockgen and pairs every block
// with its prevouts and flags.
func generateChain(opts blockgen.Options) ([]chainBlock, error) {
	c, err := blockgen.Generate(opts)
	if err != nil {
		return nil, err
	}
	p := regtestParams()
	l := ledger{}
	out := make([]chainBlock, len(c.Blocks))
	for i := range c.Blocks {
		b, err := consensus.DecodeBlock(c.Raw(i))
		if err != nil {
			return nil, err
		}
		prevouts, err := l.connect(b)
		if err != nil {
			return nil, err
		}
		out[i] = chainBlock{block: b, prevouts: prevouts, flags: Flags(p, int32(i+1), b.Hash)}
	}
	return out, nil
}

// testChain is a regtest chain of 120 blocks with 20 spends a block from
// maturity, made once for all the tests that read it (making it signs a
// few thousand inputs).
var testChain = sync.OnceValues(func() ([]chainBlock, error) {
	return generateChain(blockgen.Options{Seed: 1, Blocks: 120, TxPerBlock: 20,
		Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
})

func loadChain(t *testing.T) []chainBlock {
	t.Helper()
	chain, err := testChain()
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

// spends lists every input of chain with its kind.
func spends(chain []chainBlock) []spendRef {
	var refs []spendRef
	for bi, cb := range chain {
		for ti, tx := range cb.block.Msg.Transactions {
			if ti == 0 {
				continue
			}
			for j, in := range tx.TxIn {
				refs = append(refs, spendRef{bi, ti, j, kindOf(cb.prevouts[ti][j].PkScript, in)})
			}
		}
	}
	return refs
}

// firstOfEachKind returns the first spend of each kind in chain, by
// kind; it fails if an input spends an output of no known kind or a kind
// is never spent.
func firstOfEachKind(tb testing.TB, chain []chainBlock) map[string]spendRef {
	tb.Helper()
	first := map[string]spendRef{}
	for _, r := range spends(chain) {
		if r.kind == "" {
			tb.Fatalf("block %d tx %d input %d spends an output of no known kind", r.block+1, r.tx, r.input)
		}
		if _, ok := first[r.kind]; !ok {
			first[r.kind] = r
		}
	}
	for _, k := range allKinds {
		if _, ok := first[k]; !ok {
			tb.Fatalf("the chain spends no %s output", k)
		}
	}
	return first
}

// wantInputError fails unless err is an *InputError naming input j of
// transaction ti of b, wrapping a txscript.Error.
func wantInputError(t *testing.T, what string, err error, b *consensus.Block, ti, j int) {
	t.Helper()
	if wantInputErrorAny(t, what, err, b, ti, j) {
		var se txscript.Error
		if !errors.As(err, &se) {
			t.Errorf("%s: %v does not wrap a txscript.Error", what, err)
		}
	}
}

// wantInputErrorAny is wantInputError for failures txscript reports with
// another package's error (btcec's, for a key off the curve). It returns
// whether err is the right *InputError.
func wantInputErrorAny(t *testing.T, what string, err error, b *consensus.Block, ti, j int) bool {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Errorf("%s: error %v, want an *InputError", what, err)
		return false
	}
	in := b.Msg.Transactions[ti].TxIn[j]
	if ie.TxIndex != ti || ie.Input != j || ie.TxID != b.TxIDs[ti] || ie.Prevout != in.PreviousOutPoint {
		t.Errorf("%s: error names tx %d (%s) input %d spending %v, want tx %d (%s) input %d spending %v",
			what, ie.TxIndex, ie.TxID, ie.Input, ie.Prevout, ti, b.TxIDs[ti], j, in.PreviousOutPoint)
		return false
	}
	if ie.Err == nil {
		t.Errorf("%s: the *InputError wraps no error", what)
		return false
	}
	return true
}

// TestGeneratedChain verifies a generated chain in which every output
// kind is spent, then tampers with one input of each kind.
func TestGeneratedChain(t *testing.T) {
	chain := loadChain(t)
	v := NewVerifier(0, 1000)
	defer v.Close()

	// Every block passes, every input is verified, every kind is spent.
	checks := make([]*Check, len(chain))
	for i, cb := range chain {
		checks[i] = v.Start(cb.block, cb.prevouts, cb.flags)
	}
	total := 0
	for i, c := range checks {
		if err := c.Wait(); err != nil {
			t.Fatalf("block %d: %v", i+1, err)
		}
		if got, want := c.Verified(), inputCount(chain[i].block); got != want {
			t.Errorf("block %d: %d inputs verified, want %d", i+1, got, want)
		}
		total += c.Verified()
	}
	refs := spends(chain)
	if total != len(refs) || total == 0 {
		t.Fatalf("%d inputs verified, the chain has %d", total, len(refs))
	}
	first := firstOfEachKind(t, chain)

	// A flipped signature byte fails exactly that input, for every kind.
	for _, k := range allKinds {
		r := first[k]
		cb := chain[r.block]
		bad := withTx(t, cb.block, r.tx, func(tx *wire.MsgTx) {
			damage(signatureOf(t, k, tx.TxIn[r.input]))
		})
		err := v.Start(bad, cb.prevouts, cb.flags).Wait()
		wantInputError(t, k+" with a damaged signature", err, bad, r.tx, r.input)
		// The flags reach the engine: with none, a P2SH spend only has
		// to push a script of the right hash, as before BIP16, and
		// witness programs are anyone-can-spend.
		if k == kindP2SH {
			if err := v.Start(bad, cb.prevouts, 0).Wait(); err != nil {
				t.Errorf("p2sh with a damaged signature and no flags: %v", err)
			}
		}
	}

	// A segwit signature commits to the amount spent: claiming one
	// satoshi more fails the input. The input must be the lowest one of
	// its transaction that commits to that amount, and taproot
	// signatures commit to every input's amount, so no taproot input may
	// come before it.
	found := false
	for _, r := range refs {
		if r.kind != kindP2WPKH && r.kind != kindP2WSH {
			continue
		}
		cb := chain[r.block]
		earlierTaproot := false
		for j := range r.input {
			earlierTaproot = earlierTaproot || txscript.IsPayToTaproot(cb.prevouts[r.tx][j].PkScript)
		}
		if earlierTaproot {
			continue
		}
		prevouts := append([][]*wire.TxOut(nil), cb.prevouts...)
		prevouts[r.tx] = append([]*wire.TxOut(nil), prevouts[r.tx]...)
		old := prevouts[r.tx][r.input]
		prevouts[r.tx][r.input] = &wire.TxOut{Value: old.Value + 1, PkScript: old.PkScript}
		err := v.Start(cb.block, prevouts, cb.flags).Wait()
		wantInputError(t, r.kind+" with a wrong amount", err, cb.block, r.tx, r.input)
		found = true
		break
	}
	if !found {
		t.Fatal("no segwit v0 input without a taproot input before it")
	}

	// A taproot script-path spend whose control block is damaged no
	// longer proves the leaf is committed to: with the output key's
	// parity bit flipped the commitment fails; with a byte of the
	// internal key flipped that key is (here) off the curve, which
	// txscript reports with btcec's error.
	r := first[kindP2TRScript]
	cb := chain[r.block]
	bad := withTx(t, cb.block, r.tx, func(tx *wire.MsgTx) {
		tx.TxIn[r.input].Witness[2][0] ^= 0x01
	})
	err := v.Start(bad, cb.prevouts, cb.flags).Wait()
	wantInputError(t, "p2tr script path with the control block's parity flipped", err, bad, r.tx, r.input)
	bad = withTx(t, cb.block, r.tx, func(tx *wire.MsgTx) {
		tx.TxIn[r.input].Witness[2][5] ^= 0x01
	})
	err = v.Start(bad, cb.prevouts, cb.flags).Wait()
	wantInputErrorAny(t, "p2tr script path with the control block's internal key damaged", err, bad, r.tx, r.input)
}
