package utxo

// scriptArena holds the coin cache's scripts in large byte blocks, so that
// the cache itself (a map of fixed-size entries) holds no pointer and the
// garbage collector never scans it: with scripts as slices of their own,
// a full cache was millions of pointers to mark in every collection, about
// a fifth of a node's CPU while it downloads (BENCHMARKS.md).
//
// The arena only grows until reset, which the set calls when its flush
// empties the cache: a script is never moved or overwritten, so a slice
// handed out (a coin Get returned) stays valid for as long as its holder
// keeps it, the block under it with it.
type scriptArena struct {
	blocks [][]byte
	// bytes is the memory of every block allocated since the last reset.
	bytes int64
}

// arenaBlockSize is an arena block's size. A script longer than a quarter
// of it gets a block of its own, so no block wastes more than a quarter.
const arenaBlockSize = 1 << 20

// scriptRef locates a script in the arena: the block, the offset in it and
// the length.
type scriptRef struct {
	block, off, n uint32
}

// put copies script into the arena.
func (a *scriptArena) put(script []byte) scriptRef {
	n := len(script)
	if n == 0 {
		return scriptRef{}
	}
	if n > arenaBlockSize/4 {
		a.blocks = append(a.blocks, append(make([]byte, 0, n), script...))
		a.bytes += int64(n)
		return scriptRef{block: uint32(len(a.blocks) - 1), n: uint32(n)}
	}
	last := len(a.blocks) - 1
	if last < 0 || cap(a.blocks[last])-len(a.blocks[last]) < n || cap(a.blocks[last]) != arenaBlockSize {
		a.blocks = append(a.blocks, make([]byte, 0, arenaBlockSize))
		a.bytes += arenaBlockSize
		last++
	}
	off := len(a.blocks[last])
	a.blocks[last] = append(a.blocks[last], script...)
	return scriptRef{block: uint32(last), off: uint32(off), n: uint32(n)}
}

// get returns the script at r, capped at its length so an append by its
// holder cannot write over the next one. An empty script is nil.
func (a *scriptArena) get(r scriptRef) []byte {
	if r.n == 0 {
		return nil
	}
	b := a.blocks[r.block]
	return b[r.off : r.off+r.n : r.off+r.n]
}

// reset forgets every script; slices handed out keep their blocks.
func (a *scriptArena) reset() {
	a.blocks, a.bytes = nil, 0
}
