package engine

import (
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestPublishesAreSpaced: a node connecting blocks one by one asks for a
// snapshot after each, and gets at most one every minPublishGap (besides
// the ticks'); the last one still comes (the wait above ends).
func TestPublishesAreSpaced(t *testing.T) {
	const n = 400
	c := newGeneratedChain(t, blockgen.Options{Seed: 5, Blocks: n, Now: time.Now()})
	r, addr := blockNode(t)
	p := netPeer{dialRaw(t, addr), protocol.Regtest.Magic()}
	start, before := time.Now(), r.e.publishes.Load()
	p.handshake(951, n)
	go c.serve(p, func(h int) []byte { return c.raw[h] })
	waitForWithin(t, time.Minute, "every block connected", func() bool { return r.e.Snapshot().Status.Blocks == n })
	elapsed := time.Since(start)
	published := r.e.publishes.Load() - before
	// One per gap, one per tick, and the first of each run of requests.
	bound := int64(elapsed/minPublishGap+elapsed/publishInterval) + 2
	t.Logf("%d blocks connected in %v with %d snapshots (bound %d)", n, elapsed, published, bound)
	if published > bound {
		t.Errorf("%d snapshots published while %d blocks connected in %v, want at most %d", published, n, elapsed, bound)
	}
	r.stop(t)
}
