package script

import (
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestMainnetBlocks verifies every input of btcd's first 14,132 real
// mainnet blocks, with prevouts from a map of every output seen so far,
// then checks that a damaged signature in a real input is caught and named.
// Without btcd's module it skips, except under CI=true where it fails.
func TestMainnetBlocks(t *testing.T) {
	raws := mainnetdata.BtcdBlocks(t)
	if len(raws) != 14_132 {
		t.Fatalf("%d blocks in btcd's file, want 14,132", len(raws))
	}
	p := consensus.ParamsFor(protocol.Mainnet)
	if b, err := consensus.DecodeBlock(raws[0]); err != nil || b.Hash != p.GenesisHash {
		t.Fatalf("the first block is not mainnet's genesis (%v)", err)
	}

	v := NewVerifier(0, 0)
	defer v.Close()
	l := ledger{}
	type started struct {
		block    *consensus.Block
		prevouts [][]*wire.TxOut
		check    *Check
	}
	// Every block is started before any is waited for: the queue holds
	// thousands of checks, as it would when the caller runs ahead.
	all := make([]started, len(raws))
	want := 0
	for h, raw := range raws {
		b, err := consensus.DecodeBlock(raw)
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		if h > 0 && b.Msg.Header.PrevBlock != all[h-1].block.Hash {
			t.Fatalf("block %d does not follow block %d", h, h-1)
		}
		prevouts, err := l.connect(b)
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		want += inputCount(b)
		all[h] = started{b, prevouts, v.Start(b, prevouts, Flags(p, int32(h), b.Hash))}
	}
	got := 0
	best := 0 // the block with the most inputs
	for h, s := range all {
		if err := s.check.Wait(); err != nil {
			t.Fatalf("block %d (%s): %v", h, s.block.Hash, err)
		}
		got += s.check.Verified()
		if inputCount(s.block) > inputCount(all[best].block) {
			best = h
		}
	}
	t.Logf("%d inputs verified in %d blocks; block %d has the most, %d", got, len(all), best, inputCount(all[best].block))
	if want == 0 || got != want {
		t.Fatalf("%d inputs verified, the blocks have %d", got, want)
	}

	// Damage the signature of the last input of the block with the most
	// inputs, and of the one before it: the lower one is reported.
	s := all[best]
	var refs []spendRef
	for ti, tx := range s.block.Msg.Transactions[1:] {
		for j, in := range tx.TxIn {
			refs = append(refs, spendRef{best, ti + 1, j, kindOf(s.prevouts[ti+1][j].PkScript, in)})
		}
	}
	if len(refs) < 2 {
		t.Fatalf("block %d has %d inputs, want two to damage", best, len(refs))
	}
	lo, hi := refs[len(refs)-2], refs[len(refs)-1]
	bad := s.block
	for _, r := range []spendRef{hi, lo} {
		if r.kind != kindP2PK && r.kind != kindP2PKH {
			t.Fatalf("block %d tx %d input %d spends a %q output, want P2PK or P2PKH", best, r.tx, r.input, r.kind)
		}
		bad = withTx(t, bad, r.tx, func(tx *wire.MsgTx) {
			damage(signatureOf(t, r.kind, tx.TxIn[r.input]))
		})
	}
	err := v.Start(bad, s.prevouts, Flags(p, int32(best), bad.Hash)).Wait()
	wantInputError(t, "a real input with a damaged signature", err, bad, lo.tx, lo.input)
	t.Logf("damaged block %d: %v", best, err)
}
