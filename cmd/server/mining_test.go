package main

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
)

// As in `make demo`: btcd, node A connected to it, node B connected to
// btcd and to A, btcd mining a block every 2 s for 5 minutes. Before the
// fix btcd dropped both nodes every 2-3 minutes: a node heard a new block
// from the other one a moment before btcd's own announcement, announced
// btcd's own block back to it, btcd asked with getblocks, nobody answered,
// and btcd's 30 s stall timer dropped the node. Now no connection ends.
// WATCHNODE_MINING_TEST_DURATION (seconds) shortens it by hand.
func TestMiningForFiveMinutesDropsNobody(t *testing.T) {
	duration := 5 * time.Minute
	if s := os.Getenv("WATCHNODE_MINING_TEST_DURATION"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		duration = time.Duration(n) * time.Second
	}
	btcd := btcdtest.Start(t, btcdtest.Options{})
	btcd.Generate(t, 101)
	a := startNode(t, "-connect="+btcd.P2PAddr())
	b := startNode(t, "-connect="+btcd.P2PAddr(), "-connect="+a.p2p)
	for _, n := range []*nodeProc{a, b} {
		n.waitFor(30*time.Second, "the node to sync", func() bool {
			var st engine.Status
			n.get("/api/status", &st)
			return st.Height == 101 && st.Peers >= 1
		})
	}
	b.waitFor(30*time.Second, "B to reach both btcd and A", func() bool { return len(b.peers()) == 2 && len(a.peers()) == 2 })
	idsA, idsB := peerIDs(a), peerIDs(b)
	height := 101
	for end := time.Now().Add(duration); time.Now().Before(end); {
		time.Sleep(2 * time.Second)
		btcd.Generate(t, 1)
		height++
	}
	for _, n := range []*nodeProc{a, b} {
		n.waitFor(30*time.Second, "the last block", func() bool {
			var st engine.Status
			n.get("/api/status", &st)
			return st.Height == int32(height)
		})
	}
	for name, n := range map[string]*nodeProc{"A": a, "B": b} {
		if ds := n.disconnects(); len(ds) != 0 {
			t.Errorf("node %s: %d disconnects, first %+v", name, len(ds), ds[0])
		}
	}
	if got := peerIDs(a); !slices.Equal(got, idsA) {
		t.Errorf("node A's peers changed: %v, then %v", idsA, got)
	}
	if got := peerIDs(b); !slices.Equal(got, idsB) {
		t.Errorf("node B's peers changed: %v, then %v", idsB, got)
	}
	if peers := btcd.Peers(t); len(peers) != 2 {
		t.Errorf("btcd has %d peers at the end, want our 2", len(peers))
	}
	t.Logf("%d blocks mined over %s, every one followed, no connection lost", height-101, duration)
}

func peerIDs(n *nodeProc) []engine.PeerID {
	var ids []engine.PeerID
	for _, p := range n.peers() {
		ids = append(ids, p.ID)
	}
	return ids
}
