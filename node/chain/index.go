package chain

import (
	"crypto/rand"
	"encoding/binary"
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
type heightIndex struct {
	slots []int32 // height+1; 0 is empty
	count int
	shift uint // 64 - log2(len(slots))
	seed  uint64
	// keyOf returns the key of the main-chain header at height.
	keyOf func(height int32) uint64
}

func newHeightIndex(keyOf func(int32) uint64) *heightIndex {
	var b [8]byte
	rand.Read(b[:])
	x := &heightIndex{seed: binary.LittleEndian.Uint64(b[:]), keyOf: keyOf}
	x.resize(1 << 12)
	return x
}

func (x *heightIndex) slot(key uint64) int {
	return int(((key ^ x.seed) * 0x9e3779b97f4a7c15) >> x.shift)
}

func (x *heightIndex) resize(n int) {
	old := x.slots
	x.slots = make([]int32, n)
	x.shift = uint(64 - bitsLen(n))
	x.count = 0
	for _, v := range old {
		if v != 0 {
			x.insert(x.keyOf(v-1), v-1)
		}
	}
}

func bitsLen(n int) int {
	b := 0
	for n > 1 {
		n >>= 1
		b++
	}
	return b
}

// insert adds height under key, growing the table at half full.
func (x *heightIndex) insert(key uint64, height int32) {
	if 2*(x.count+1) > len(x.slots) {
		x.resize(2 * len(x.slots))
	}
	mask := len(x.slots) - 1
	i := x.slot(key)
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = height + 1
	x.count++
}

// lookup returns the height stored under key for which match holds.
func (x *heightIndex) lookup(key uint64, match func(int32) bool) (int32, bool) {
	mask := len(x.slots) - 1
	for i := x.slot(key); x.slots[i] != 0; i = (i + 1) & mask {
		if h := x.slots[i] - 1; match(h) {
			return h, true
		}
	}
	return 0, false
}

// remove deletes height (stored under key), shifting later entries of the
// probe run back so lookups still find them.
func (x *heightIndex) remove(key uint64, height int32) {
	mask := len(x.slots) - 1
	i := x.slot(key)
	for x.slots[i] != height+1 {
		if x.slots[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	x.slots[i] = 0
	x.count--
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		k := x.slot(x.keyOf(x.slots[j] - 1))
		// Move the entry at j into the hole at i unless its ideal slot k
		// lies cyclically in (i, j].
		if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			x.slots[i], x.slots[j] = x.slots[j], 0
			i = j
		}
	}
}

// reset empties the table.
func (x *heightIndex) reset() {
	clear(x.slots)
	x.count = 0
}
