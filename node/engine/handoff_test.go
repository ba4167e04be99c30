package engine

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/consensus"
)

func handoffBlock(height int32) *consensus.Block {
	return &consensus.Block{Hash: chainhash.Hash{byte(height), byte(height >> 8), 0xb1}}
}

// TestHandoffKeepsWhatTheConnectorTakesNext: a download running ahead of
// the connector by more than the bound must leave the handoff holding the
// lowest blocks, not the newest; blocks the connector passed go first.
func TestHandoffKeepsWhatTheConnectorTakesNext(t *testing.T) {
	const cost = handoffBytes / 4 // four fit
	h := newBlockHandoff()
	// A side branch's block at height 3 arrives, then the connector asks
	// for the main chain's block at 5, which was never handed over.
	side := handoffBlock(1003)
	h.put(side, 3, cost)
	if got := h.take(handoffBlock(5).Hash, 5); got != nil {
		t.Fatal("take returned a block never put")
	}
	// The download stores 6..20, out of order at first.
	for _, height := range []int32{7, 6, 9, 8} {
		h.put(handoffBlock(height), height, cost)
	}
	for height := int32(10); height <= 20; height++ {
		h.put(handoffBlock(height), height, cost)
	}
	if blocks, bytes := h.size(); blocks != 4 || bytes != 4*cost {
		t.Fatalf("holds %d blocks, %d bytes; want 4 and %d", blocks, bytes, 4*cost)
	}
	if h.wanted(side.Hash, 3) {
		t.Error("a block below the connector's last is wanted")
	}
	for height := int32(6); height <= 9; height++ {
		if !h.wanted(handoffBlock(height+4).Hash, height+4) {
			t.Errorf("block %d is not wanted", height+4)
		}
		if got := h.take(handoffBlock(height).Hash, height); got == nil || got.Hash != handoffBlock(height).Hash {
			t.Fatalf("block %d was not handed over", height)
		}
	}
	if got := h.take(handoffBlock(10).Hash, 10); got != nil {
		t.Error("block 10, stored past the bound, was kept")
	}
	if hits, misses := h.counts(); hits != 4 || misses != 2 {
		t.Errorf("counts %d hits, %d misses; want 4 and 2", hits, misses)
	}
	// Space again: a late block is kept, and only a block that fits.
	h.put(handoffBlock(11), 11, cost)
	h.put(handoffBlock(12), 12, handoffBytes+1)
	if blocks, _ := h.size(); blocks != 1 {
		t.Errorf("holds %d blocks, want 1 (block 11)", blocks)
	}
}

// TestHandoffTakenItemsDoNotPile: a long run of blocks put and taken at
// once must not keep an item per block.
func TestHandoffTakenItemsDoNotPile(t *testing.T) {
	h := newBlockHandoff()
	for height := int32(1); height <= 10_000; height++ {
		b := handoffBlock(height)
		h.put(b, height, 1000)
		if h.take(b.Hash, height) == nil {
			t.Fatalf("block %d not handed over", height)
		}
	}
	if n := len(h.order); n > 2*64+2 {
		t.Errorf("%d items kept for an empty handoff", n)
	}
}

// TestHandoffProgressSignals: the read-ahead wakes on every take and every
// nudge, without either blocking.
func TestHandoffProgressSignals(t *testing.T) {
	h := newBlockHandoff()
	passed, moved := h.progress()
	if passed != -1 {
		t.Fatalf("passed %d before any take, want -1", passed)
	}
	h.take(handoffBlock(1).Hash, 1)
	h.take(handoffBlock(2).Hash, 2) // the signal is pending: must not block
	select {
	case <-moved:
	default:
		t.Fatal("no signal after a take")
	}
	if passed, _ := h.progress(); passed != 2 {
		t.Errorf("passed %d, want 2", passed)
	}
	h.nudge()
	h.nudge()
	select {
	case <-moved:
	default:
		t.Fatal("no signal after a nudge")
	}
}

// TestHandoffBorrowsUnusedCoinCache: half of what the coin cache leaves
// unused may hold blocks too, and giving it back drops the highest.
func TestHandoffBorrowsUnusedCoinCache(t *testing.T) {
	const cost = handoffBytes / 4
	h := newBlockHandoff()
	h.lend(4 * handoffBytes) // twice handoffBytes lent: 12 blocks fit
	for height := int32(1); height <= 20; height++ {
		h.put(handoffBlock(height), height, cost)
	}
	if blocks, bytes := h.size(); blocks != 12 || bytes != 12*cost {
		t.Fatalf("with the loan: %d blocks, %d bytes; want 12 and %d", blocks, bytes, 12*cost)
	}
	h.lend(-1) // the coin cache is over its bound: no loan
	if blocks, _ := h.size(); blocks != 4 {
		t.Fatalf("after the loan ended: %d blocks, want 4", blocks)
	}
	for height := int32(1); height <= 4; height++ {
		if h.take(handoffBlock(height).Hash, height) == nil {
			t.Errorf("block %d was dropped; the highest should go first", height)
		}
	}
}
