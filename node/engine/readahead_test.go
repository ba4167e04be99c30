package engine

import (
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestReadAheadLeavesGenesis: a node that syncs headers and gets no block
// must read no block ahead, the genesis block included (the set starts on
// it, so the connector never takes it). Reading it was the only lookup
// in the block index of a header-only sync, and at a million headers that
// lookup cached a megabyte and more of the index.
func TestReadAheadLeavesGenesis(t *testing.T) {
	const n = 20
	c := newGeneratedChain(t, blockgen.Options{Seed: 9, Blocks: n, Now: time.Now()})
	r, addr := blockNode(t)
	p := netPeer{dialRaw(t, addr), protocol.Regtest.Magic()}
	p.handshake(950, n)
	go c.serve(p, func(int) []byte { return nil })
	waitFor(t, "the headers", func() bool { return r.e.Snapshot().Status.Headers == n })
	waitFor(t, "a target for the connector", func() bool { return r.e.connector.newest.Load() != nil })
	// The read-ahead wakes on every target; give it time to act on them.
	time.Sleep(300 * time.Millisecond)
	if held, cost := r.e.connector.handoff.size(); held != 0 {
		t.Errorf("the handoff holds %d blocks (%d bytes) read ahead of a connector with nothing to connect", held, cost)
	}
	r.stop(t)
}
