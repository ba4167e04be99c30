package chain

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// heightIndex maps main-chain hashes to heights in 4 bytes a slot: an
// open-addressing table of heights with linear probing, where the key of a
// slot is not stored but read from the chain (the hash at that height).
//
// Written by hand because the chain's memory target (at most 150 bytes per
// header at a million headers, 80 of them the header itself) leaves no room
// for a Go map, which costs about 40 bytes per entry with its hash keys. A
// random seed mixes the keys, so a peer cannot grind headers that pile up
// in one probe run.
//
// The table is append-only, so that Views can probe it while the owner
// inserts, without locks. A reorg does not remove the entries of the old
// main chain: a lookup verifies every candidate against the chain it
// answers for (the height exists there and its hash is the one sought), so
// a stale entry only costs a probe step, and stale entries vanish at the
// next rebuild, which inserts the live main chain only. Slots go from empty
// to a height exactly once in a table's life, by an atomic store; readers
// use atomic loads. A rebuild makes a new table and never writes the old
// one again.
//
// Why a reader never misses an entry that was in the table when its View
// was taken: the entry sits at the end of a run of occupied slots starting
// at its key's home slot (linear probing put it at the first free slot).
// Without removals an occupied slot stays occupied, so that run can only
// grow, and a probe from the home slot, which stops only at an empty slot,
// passes every slot of it and reaches the entry. The View keeps the table
// that was current when it was taken: a later rebuild drops the entries of
// branches the live chain left, which the View's chain may still hold.
type heightIndex struct {
	// table is the current table. Only the owner reads this field (a View
	// copies the pointer when it is taken, on the owner's goroutine), so
	// it needs no atomic: the slots are what readers share.
	table *indexTable
	count int // entries in table, stale ones included
	seed  uint64
	// keyOf returns the key of the live main-chain header at height.
	keyOf func(height int32) uint64
}

// indexTable is one generation of the index: its size and mixing are fixed
// for its life.
type indexTable struct {
	slots []int32 // height+1; 0 is empty; atomic once the table is shared
	shift uint    // 64 - log2(len(slots))
	seed  uint64
}

// minIndexSize is the smallest table.
const minIndexSize = 1 << 12

func newHeightIndex(keyOf func(int32) uint64) *heightIndex {
	var b [8]byte
	rand.Read(b[:])
	x := &heightIndex{seed: binary.LittleEndian.Uint64(b[:]), keyOf: keyOf}
	x.rebuild(minIndexSize, 0)
	return x
}

func (t *indexTable) slot(key uint64) int {
	return int(((key ^ t.seed) * 0x9e3779b97f4a7c15) >> t.shift)
}

// rebuild replaces the table by one of size slots holding the live main
// chain's heights [0, live).
func (x *heightIndex) rebuild(size int, live int32) {
	t := &indexTable{slots: make([]int32, size), shift: uint(64 - bitsLen(size)), seed: x.seed}
	mask := size - 1
	for h := range live {
		// Plain stores: no View holds t before this returns, and a View
		// taken later is handed to its readers through a synchronizing
		// operation that orders these stores before their loads.
		i := t.slot(x.keyOf(h))
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = h + 1
	}
	x.table, x.count = t, int(live)
}

func bitsLen(n int) int {
	b := 0
	for n > 1 {
		n >>= 1
		b++
	}
	return b
}

// add inserts height, the live main chain's new top, under key. At half
// full the table is rebuilt from the live chain: twice as large when the
// live entries fill more than a quarter of it (plain growth, as before the
// index became append-only), at the same size otherwise (stale entries of
// reorgs made up the rest). Either way the rebuilt table is at most a
// quarter full, so rebuilds stay at least a quarter of the table apart.
func (x *heightIndex) add(key uint64, height int32) {
	if size := len(x.table.slots); 2*(x.count+1) > size {
		if 4*(int(height)+1) > size {
			size *= 2
		}
		x.rebuild(size, height)
	}
	t := x.table
	mask := len(t.slots) - 1
	i := t.slot(key)
	for atomic.LoadInt32(&t.slots[i]) != 0 {
		i = (i + 1) & mask
	}
	atomic.StoreInt32(&t.slots[i], height+1)
	x.count++
}

// grow rebuilds the table for at least n live entries at half load, with
// the live main chain's heights [0, live).
func (x *heightIndex) grow(n int, live int32) {
	size := len(x.table.slots)
	if 2*n <= size {
		return
	}
	for size < 2*n {
		size *= 2
	}
	x.rebuild(size, live)
}

// lookup returns a height stored under key for which match holds: match
// checks the candidate against the chain asked about. It is safe to call
// from any goroutine while the owner adds entries.
func (t *indexTable) lookup(key uint64, match func(int32) bool) (int32, bool) {
	mask := len(t.slots) - 1
	for i := t.slot(key); ; i = (i + 1) & mask {
		v := atomic.LoadInt32(&t.slots[i])
		if v == 0 {
			return 0, false
		}
		if h := v - 1; match(h) {
			return h, true
		}
	}
}
