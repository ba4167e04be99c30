package main

import (
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
)

// TestSyncFromBtcd: the node syncs the header chain btcd mined to the same
// best hash, follows new blocks, and after a restart resumes from its store
// without downloading the chain again.
func TestSyncFromBtcd(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{})
	const blocks = 4500
	btcd.Generate(t, blocks)
	want := btcd.BestBlockHash(t)

	root := t.TempDir()
	n := startNodeIn(t, root, "-connect="+btcd.P2PAddr())
	start := time.Now()
	var st engine.Status
	n.waitFor(60*time.Second, "the node to sync btcd's chain", func() bool {
		n.get("/api/status", &st)
		return st.Height == blocks
	})
	t.Logf("synced %d headers from btcd in %s", blocks, time.Since(start).Round(time.Millisecond))
	if st.BestHash != want {
		t.Fatalf("best hash %s, btcd's %s", st.BestHash, want)
	}
	n.waitFor(10*time.Second, "sync state synced", func() bool {
		n.get("/api/status", &st)
		return st.Sync.State == engine.SyncSynced && st.Sync.Progress == 1
	})

	// btcd mines more; the node follows.
	btcd.Generate(t, 3)
	want = btcd.BestBlockHash(t)
	mined := time.Now()
	n.waitFor(10*time.Second, "the node to follow new blocks", func() bool {
		n.get("/api/status", &st)
		return st.BestHash == want
	})
	t.Logf("followed btcd's new tip %s after it was mined", time.Since(mined).Round(time.Millisecond))

	var h engine.HeaderView
	n.get("/api/headers/"+want, &h)
	if h.Height != blocks+3 || !h.MainChain || h.Hash != want {
		t.Errorf("header by hash: %+v", h)
	}
	n.get("/api/headers/1", &h)
	if h.Height != 1 || !h.MainChain || h.Next == "" || !strings.HasPrefix(h.ChainWork, "0000") {
		t.Errorf("header by height: %+v", h)
	}
	var tips []engine.TipView
	n.get("/api/tips", &tips)
	if len(tips) != 1 || tips[0].Hash != want || tips[0].Status != "active" {
		t.Errorf("tips: %+v", tips)
	}

	// Restart: the chain is loaded from the store before any peer connects.
	n.stop()
	n2 := startNodeIn(t, root)
	n2.get("/api/status", &st)
	if st.Height != blocks+3 || st.BestHash != want {
		t.Errorf("after restart: height %d hash %s, want %d %s", st.Height, st.BestHash, blocks+3, want)
	}
}
