package engine

import (
	"sync"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/consensus"
)

// handoffBytes bounds the blocks the handoff keeps, by their cost (the
// decoded message's estimate from the reader, which counts what decoding
// allocated): 32 MiB, a few dozen full blocks, on top of the download
// window's MaxBlockBytesPending.
const handoffBytes = 32 << 20

// blockHandoff passes decoded blocks from the store pipeline's writer to
// the connector, so that a block downloaded during IBD is connected without
// being read back from disk and decoded a second time. It holds at most
// handoffBytes: past that the oldest blocks are dropped, and the connector
// reads those from the store as it would after a restart. Both sides take
// its lock for a map operation only.
type blockHandoff struct {
	mu     sync.Mutex
	blocks map[chainhash.Hash]handoffEntry
	order  []chainhash.Hash // insertion order, with hashes already taken
	bytes  int
}

type handoffEntry struct {
	b    *consensus.Block
	cost int
}

func newBlockHandoff() *blockHandoff {
	return &blockHandoff{blocks: make(map[chainhash.Hash]handoffEntry)}
}

// put offers a written block to the connector.
func (h *blockHandoff) put(b *consensus.Block, cost int) {
	if cost > handoffBytes {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.blocks[b.Hash]; ok {
		return
	}
	h.blocks[b.Hash] = handoffEntry{b, cost}
	h.order = append(h.order, b.Hash)
	h.bytes += cost
	for h.bytes > handoffBytes && len(h.order) > 0 {
		oldest := h.order[0]
		h.order = h.order[1:]
		if e, ok := h.blocks[oldest]; ok {
			delete(h.blocks, oldest)
			h.bytes -= e.cost
		}
	}
	if len(h.order) > 2*len(h.blocks)+64 {
		// Most entries were taken: drop their hashes from the order.
		kept := h.order[:0]
		for _, hash := range h.order {
			if _, ok := h.blocks[hash]; ok {
				kept = append(kept, hash)
			}
		}
		h.order = kept
	}
}

// take returns the block with hash and forgets it, or nil.
func (h *blockHandoff) take(hash chainhash.Hash) *consensus.Block {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.blocks[hash]
	if !ok {
		return nil
	}
	delete(h.blocks, hash)
	h.bytes -= e.cost
	return e.b
}

// size reports what the handoff holds.
func (h *blockHandoff) size() (blocks, bytes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.blocks), h.bytes
}
