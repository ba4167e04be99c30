package main

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/watchnode/watchnode/node/engine"
)

// kill ends the node with SIGKILL: no shutdown code runs.
func (n *nodeProc) kill() {
	n.stopped = true
	n.cmd.Process.Kill()
	<-n.done
}

// TestKill9DuringSync kills a syncing node 20 times at random moments.
// Every restart must reopen the store to a valid prefix of the chain (the
// node starts, its tip is a header of the real chain), and sync completes.
func TestKill9DuringSync(t *testing.T) {
	const n = 60_000
	rootA := t.TempDir()
	tip := importChain(t, rootA, n)
	a := startNodeIn(t, rootA)
	rootB := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var heights []int32
	for i := range 20 {
		b := startNodeIn(t, rootB, "-connect="+a.p2p)
		var st engine.Status
		b.get("/api/status", &st)
		// The reopened tip must be on A's chain.
		if st.Height > 0 {
			var h engine.HeaderView
			if err := a.tryGet("/api/headers/"+st.BestHash, &h); err != nil || !h.MainChain || h.Height != st.Height {
				t.Fatalf("restart %d: tip %d %s is not on the real chain (%v)", i, st.Height, st.BestHash, err)
			}
		}
		heights = append(heights, st.Height)
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		b.kill()
	}
	t.Logf("heights at the 20 restarts: %v", heights)
	b := startNodeIn(t, rootB, "-connect="+a.p2p)
	var st engine.Status
	b.waitFor(60*time.Second, "sync to complete after the crashes", func() bool {
		b.get("/api/status", &st)
		return st.Height == n
	})
	if st.BestHash != tip {
		t.Fatalf("tip %s, want %s", st.BestHash, tip)
	}
}
