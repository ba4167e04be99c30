package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestConnectorBadSignatureWhilePipelined: a peer serves a generated chain
// of signed spends in which one block carries a bad signature (a witness
// signature changed, so txids stay and the blocks after it are valid but
// for their parent). The connector begins each next block while the
// scripts of the one before are verified, so the block after the bad one
// is begun on the bad block's pending changes: the bad block must be
// marked failed with the script rule, its descendants never connected,
// and the set must stay exactly at its parent (the parent's outputs there,
// none of the bad block's).
func TestConnectorBadSignatureWhilePipelined(t *testing.T) {
	gen, err := blockgen.Generate(blockgen.Options{Seed: 21, Blocks: 112, TxPerBlock: 4, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// The first block from 104 on with a witness signature to damage.
	bad := -1
	for i := 103; i < len(gen.Blocks)-3 && bad < 0; i++ {
		for _, tx := range gen.Blocks[i].Transactions[1:] {
			if w := tx.TxIn[0].Witness; len(w) > 0 && len(w[0]) >= 64 {
				w[0][10] ^= 0x01
				bad = i
				break
			}
		}
	}
	if bad < 0 {
		t.Fatal("no witness signature to damage in the generated chain")
	}
	// Reseal the bad block and relink every block after it.
	prev := gen.Blocks[bad-1].BlockHash()
	for _, b := range gen.Blocks[bad:] {
		b.Header.PrevBlock = prev
		blockgen.Reseal(b)
		prev = b.BlockHash()
	}
	badHash := gen.Blocks[bad].BlockHash()
	badHeight := int32(bad + 1)

	raw := [][]byte{serialize(t, protocol.Regtest.Params().GenesisBlock)}
	for i := range gen.Blocks {
		raw = append(raw, gen.Raw(i))
	}
	r, addr := blockNode(t)
	c := newServedChain(t, raw)
	p := netPeer{dialRaw(t, addr), protocol.Regtest.Magic()}
	p.handshake(950, int32(len(gen.Blocks)))
	go c.serve(p, func(h int) []byte { return c.raw[h] })

	waitForWithin(t, 60*time.Second, "the bad block to be marked failed", func() bool {
		_, failed := r.e.Snapshot().FailedBlocks[badHash]
		return failed
	})
	// The node settles on the bad block's parent.
	waitForWithin(t, 30*time.Second, "the set at the bad block's parent", func() bool {
		st := r.e.Snapshot().Status
		return st.Blocks == badHeight-1 && st.UTXO != nil && st.UTXO.Height == badHeight-1
	})
	s := r.e.Snapshot()
	if rule := s.FailedBlocks[badHash]; rule != "mandatory-script-verify-flag-failed" {
		t.Errorf("the bad block failed with %q, want mandatory-script-verify-flag-failed", rule)
	}
	if want := gen.Blocks[bad-1].BlockHash().String(); s.Status.BestHash != want {
		t.Errorf("best block %s at %d, want the bad block's parent %s", s.Status.BestHash, s.Status.Blocks, want)
	}
	// Give a wrongly continuing connector time to go on, then look again.
	time.Sleep(300 * time.Millisecond)
	if st := r.e.Snapshot().Status; st.Blocks != badHeight-1 {
		t.Errorf("the node went on to %d past the failed block %d", st.Blocks, badHeight)
	}
	parentCoinbase := gen.Blocks[bad-1].Transactions[0].TxHash()
	if _, err := r.e.TxOut(t.Context(), parentCoinbase.String(), 0); err != nil {
		t.Errorf("the parent's coinbase output: %v", err)
	}
	for _, b := range gen.Blocks[bad : bad+2] {
		id := b.Transactions[0].TxHash()
		if _, err := r.e.TxOut(t.Context(), id.String(), 0); !errors.Is(err, ErrNoCoin) {
			t.Errorf("coinbase output of block %s (the bad block or the one begun on it): %v, want ErrNoCoin", b.BlockHash(), err)
		}
	}
	// A spent output of the bad block's inputs is still unspent.
	in := gen.Blocks[bad].Transactions[1].TxIn[0].PreviousOutPoint
	if _, err := r.e.TxOut(t.Context(), in.Hash.String(), in.Index); err != nil {
		t.Errorf("an output the bad block spends: %v, want it unspent", err)
	}
}
