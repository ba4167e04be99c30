package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// GC policy: the node collects at defaultGCPercent, but not before its heap
// reaches gcHeapFloor, as far as a GOGC of gcMaxPercent allows. A node's heap starts at a few megabytes, and at
// GOGC 50 Go's first targets are 2 MiB, 3, 4.5...: a node syncing 40,000
// headers from btcd collected 21 times in its first 0.3 s (4 times with
// this policy), on a machine two cores wide where btcd needed the other. So
// while the live heap is small, GOGC is raised until the next target is
// the floor (at most gcMaxPercent); once the live heap passes the floor's
// two thirds, GOGC is defaultGCPercent and resident memory follows the
// live data as before (a node with a million headers, or a full coin
// cache, is far past it). The floor costs at most that much memory in a
// node whose live heap is smaller, and nothing in one whose heap is
// larger.
//
// Written by hand: the technique (a finalizer that runs once per
// collection and sets the next GOGC from the live heap, as bytedance's
// gctuner does) is thirty lines, and that library is a part of a large
// utility module.
const (
	gcHeapFloor  = 64 << 20
	gcMaxPercent = 400
)

// gcTuner sets GOGC after every collection; see the GC policy above.
type gcTuner struct {
	floor                  uint64
	minPercent, maxPercent int

	mu      sync.Mutex // serializes tune (the finalizer goroutine) and stop
	stopped bool
	percent int // what GOGC was last set to
	live    []metrics.Sample
}

// gcSentinel is the object whose finalizer runs once per collection. It
// holds a pointer so it is not one of the tiny pointer-free allocations
// that share a block and may never be finalized.
type gcSentinel struct{ _ *byte }

// startGCTuner sets GOGC for the current heap and keeps it tuned until
// stop, which sets GOGC back to minPercent.
func startGCTuner(floor uint64, minPercent, maxPercent int) *gcTuner {
	t := &gcTuner{floor: floor, minPercent: minPercent, maxPercent: maxPercent, live: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.tune()
	runtime.SetFinalizer(&gcSentinel{}, t.collected)
	return t
}

// collected runs on the runtime's finalizer goroutine after a collection
// found the sentinel unreachable: it tunes, and re-arms the sentinel for
// the next collection.
func (t *gcTuner) collected(s *gcSentinel) {
	if t.tune() {
		runtime.SetFinalizer(s, t.collected)
	}
}

// tune sets GOGC from the live heap the last collection marked; it
// reports false once stopped.
func (t *gcTuner) tune() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.live)
	var live uint64
	if t.live[0].Value.Kind() == metrics.KindUint64 {
		live = t.live[0].Value.Uint64()
	}
	if p := gcPercentFor(live, t.floor, t.minPercent, t.maxPercent); p != t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
	return true
}

// stop ends the tuning and sets GOGC to minPercent.
func (t *gcTuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	debug.SetGCPercent(t.minPercent)
}

// gcPercentFor is the GOGC that puts the next collection's target at the
// floor for a live heap of live bytes (0: no collection yet), within
// [lo, hi].
func gcPercentFor(live, floor uint64, lo, hi int) int {
	if live == 0 {
		return hi
	}
	if live >= floor {
		return lo
	}
	p := (floor - live) * 100 / live
	return int(min(max(p, uint64(lo)), uint64(hi)))
}
