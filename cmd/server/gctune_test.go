package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	const floor = 64 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 400},               // no collection yet
		{1 << 20, 400},         // 6,300% would reach the floor: capped
		{16 << 20, 300},        // 16 MiB + 300% = 64 MiB
		{32 << 20, 100},        // 32 MiB + 100%
		{40 << 20, 60},         // 40 MiB + 60%
		{48 << 20, 50},         // 33% would do, but never below the base
		{floor, 50},            // at the floor
		{1 << 30, 50},          // far past it
		{floor - 1, 50},        // just under: the base
		{floor / 5, 400},       // 400% exactly
		{floor/5 - 1<<10, 400}, // a little more than 400%: capped
	} {
		if got := gcPercentFor(c.live, floor, 50, 400); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// TestGCTunerFollowsTheLiveHeap: the tuner sets GOGC after each real
// collection from the heap it left live, and stop sets the base and ends
// the tuning.
func TestGCTunerFollowsTheLiveHeap(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	const floor = 32 << 20
	tuner := startGCTuner(floor, 50, 400)
	percent := func() int {
		tuner.mu.Lock()
		defer tuner.mu.Unlock()
		return tuner.percent
	}
	waitPercent := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for percent() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOGC %d, want %d", what, percent(), want)
			}
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
		if got := debug.SetGCPercent(want); got != want {
			t.Fatalf("%s: the runtime's GOGC is %d, the tuner's %d", what, got, want)
		}
	}
	waitPercent(400, "a small heap")

	held := make([][]*int, 0, 64)
	for range 64 {
		chunk := make([]*int, (1<<20)/8) // 1 MiB of pointers: the GC scans it
		held = append(held, chunk)
	}
	waitPercent(50, "64 MiB live, past the floor")
	runtime.KeepAlive(held)
	held = nil

	waitPercent(400, "the 64 MiB released")

	tuner.stop()
	if got := debug.SetGCPercent(50); got != 50 {
		t.Fatalf("stop set GOGC %d, want the base 50", got)
	}
	runtime.GC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("GOGC %d after stop and two collections: the tuner still runs", got)
	}
}
