package engine

import "sync"

// Ring is a bounded log that the engine appends to and observers read
// from, each at its own pace, by sequence number. Appending never blocks on
// a reader (the lock is held for a copy at most); a reader that falls more
// than the ring's capacity behind is told how many entries it missed.
type Ring[T any] struct {
	mu   sync.Mutex
	buf  []T
	next uint64 // sequence number of the next entry; entries start at 1
}

// NewRing returns a ring keeping the last capacity entries.
func NewRing[T any](capacity int) *Ring[T] {
	return &Ring[T]{buf: make([]T, capacity), next: 1}
}

// Append adds v and returns its sequence number.
func (r *Ring[T]) Append(v T) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := r.next
	r.buf[seq%uint64(len(r.buf))] = v
	r.next++
	return seq
}

// Since returns up to max entries after sequence number after, oldest
// first, with the sequence number of the first one returned and how many
// entries after `after` were already overwritten (skipped).
func (r *Ring[T]) Since(after uint64, max int) (first uint64, items []T, skipped uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	oldest := uint64(1)
	if r.next > uint64(len(r.buf)) {
		oldest = r.next - uint64(len(r.buf))
	}
	first = after + 1
	if first < oldest {
		skipped = oldest - first
		first = oldest
	}
	for seq := first; seq < r.next && len(items) < max; seq++ {
		items = append(items, r.buf[seq%uint64(len(r.buf))])
	}
	return first, items, skipped
}

// Last returns the sequence number of the newest entry (0 when empty).
func (r *Ring[T]) Last() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next - 1
}
