package engine

import (
	"slices"
	"sort"
	"sync"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/consensus"
)

// handoffBytes is what the blocks the handoff keeps may always cost (the
// decoded message's estimate from the reader, which counts what decoding
// allocated): 32 MiB, a few dozen full blocks, on top of the download
// window's MaxBlockBytesPending. The handoff may keep more while the coin
// cache leaves part of -dbcache unused (lend).
const handoffBytes = 32 << 20

// blockHandoff passes decoded blocks from the store pipeline's writer to
// the connector, so that a block downloaded during IBD is connected without
// being read back from disk and decoded a second time. It holds at most
// handoffBytes plus what the connector lends it of the coin cache's unused
// budget; the connector reads what it does not hold from the store, as it
// would after a restart. The writer, the connector and its read-ahead
// take its lock for a map operation and a short slice edit only.
//
// When it is full it keeps the lowest blocks, the ones the connector
// takes next, and drops first what the connector has passed (a side
// branch's block), then the highest. Dropping the oldest instead, as a
// plain cache would, misses every block once the download runs ahead of
// the connector by more than the bound: the connector then wants exactly
// the blocks that were dropped first.
type blockHandoff struct {
	mu     sync.Mutex
	blocks map[chainhash.Hash]handoffEntry
	// order is every held block by height, lowest first, with blocks
	// already taken left in until they are passed or compacted away.
	order []handoffItem
	bytes int
	// limit bounds bytes: handoffBytes plus the loan (lend).
	limit int
	// passed is the height of the block the connector asked for last:
	// blocks at or below it are on a branch it left.
	passed int32
	// hits and misses count take's answers, for the status.
	hits, misses uint64
	// moved is signalled (without blocking) by every take and every new
	// target, for the read-ahead waiting for the connector to move.
	moved chan struct{}
}

type handoffEntry struct {
	b      *consensus.Block
	height int32
	cost   int
}

type handoffItem struct {
	height int32
	hash   chainhash.Hash
}

func newBlockHandoff() *blockHandoff {
	return &blockHandoff{blocks: make(map[chainhash.Hash]handoffEntry), passed: -1, limit: handoffBytes, moved: make(chan struct{}, 1)}
}

// put offers a written block at height to the connector.
func (h *blockHandoff) put(b *consensus.Block, height int32, cost int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cost > h.limit {
		return
	}
	if _, ok := h.blocks[b.Hash]; ok {
		return
	}
	h.blocks[b.Hash] = handoffEntry{b, height, cost}
	// Blocks arrive nearly in height order, so the search lands near
	// the end and the insert moves few items.
	i := sort.Search(len(h.order), func(i int) bool { return h.order[i].height > height })
	h.order = slices.Insert(h.order, i, handoffItem{height, b.Hash})
	h.bytes += cost
	for h.bytes > h.limit {
		h.dropOne()
	}
	if len(h.order) > 2*len(h.blocks)+64 {
		h.compact()
	}
}

// lend sets what the handoff may keep beyond handoffBytes: half of what
// the coin cache does not use of its bound (-dbcache), so that the two
// together never pass the bound plus handoffBytes. Early in IBD the coin
// cache is far from full, and a download running ahead of the connector
// then keeps its blocks decoded instead of reading them back; as the cache
// fills the loan shrinks, and the highest blocks go first.
func (h *blockHandoff) lend(cacheUnused int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.limit = handoffBytes + int(max(0, cacheUnused)/2)
	for h.bytes > h.limit {
		h.dropOne()
	}
}

// dropOne drops the held block the connector will want last, or an
// already taken one's item. h.bytes > 0 so order is not empty.
func (h *blockHandoff) dropOne() {
	var it handoffItem
	if first := h.order[0]; first.height <= h.passed || !h.holds(first) {
		it, h.order = first, h.order[1:]
	} else {
		it, h.order = h.order[len(h.order)-1], h.order[:len(h.order)-1]
	}
	if h.holds(it) {
		h.bytes -= h.blocks[it.hash].cost
		delete(h.blocks, it.hash)
	}
}

func (h *blockHandoff) holds(it handoffItem) bool {
	e, ok := h.blocks[it.hash]
	return ok && e.height == it.height
}

// compact forgets the items of blocks already taken.
func (h *blockHandoff) compact() {
	kept := make([]handoffItem, 0, len(h.blocks))
	for _, it := range h.order {
		if h.holds(it) {
			kept = append(kept, it)
		}
	}
	h.order = kept
}

// take returns the block with hash, which the connector is about to
// connect at height, and forgets it; nil when it is not held.
func (h *blockHandoff) take(hash chainhash.Hash, height int32) *consensus.Block {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.passed = height
	select {
	case h.moved <- struct{}{}:
	default:
	}
	e, ok := h.blocks[hash]
	if !ok {
		h.misses++
		return nil
	}
	h.hits++
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

// counts reports take's answers since start: blocks handed over, and
// blocks the connector had to read back.
func (h *blockHandoff) counts() (hits, misses uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits, h.misses
}

// wanted reports whether the connector will still ask for the block hash
// at height and the handoff does not hold it: whether reading it ahead
// is worth it.
func (h *blockHandoff) wanted(hash chainhash.Hash, height int32) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, held := h.blocks[hash]
	return !held && height > h.passed
}

// progress returns the height of the block the connector asked for last
// and a channel signalled when it asks for another or gets a new target.
func (h *blockHandoff) progress() (passed int32, moved <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.passed, h.moved
}

// nudge wakes the read-ahead: the connector has a new target.
func (h *blockHandoff) nudge() {
	select {
	case h.moved <- struct{}{}:
	default:
	}
}
