package engine

import (
	"slices"
	"testing"
)

func TestRing(t *testing.T) {
	r := NewRing[int](4)
	if first, items, skipped := r.Since(0, 10); first != 1 || len(items) != 0 || skipped != 0 {
		t.Fatalf("empty: %d %v %d", first, items, skipped)
	}
	for i := 1; i <= 6; i++ {
		if seq := r.Append(i * 10); seq != uint64(i) {
			t.Fatalf("seq %d for entry %d", seq, i)
		}
	}
	// Entries 1 and 2 were overwritten.
	first, items, skipped := r.Since(0, 10)
	if first != 3 || !slices.Equal(items, []int{30, 40, 50, 60}) || skipped != 2 {
		t.Fatalf("since 0: first %d items %v skipped %d", first, items, skipped)
	}
	first, items, skipped = r.Since(4, 1)
	if first != 5 || !slices.Equal(items, []int{50}) || skipped != 0 {
		t.Fatalf("since 4, max 1: first %d items %v skipped %d", first, items, skipped)
	}
	if _, items, _ := r.Since(6, 10); len(items) != 0 || r.Last() != 6 {
		t.Fatalf("caught up: %v, last %d", items, r.Last())
	}
}
