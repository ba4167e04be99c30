package engine

import (
	"bytes"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestRestartResumesBlockDownload: a node that stored a chain's headers
// but not its blocks, restarted, downloads the blocks from a peer whose
// version announces exactly its header height. Such a peer is no header
// sync candidate (it claims nothing above us), so the node must still ask
// it for its tip (Core's first getheaders, from the best header's parent)
// to learn that it has the blocks. The peer here, like the node's own
// serving side, sends no getheaders of its own, which would tell the node
// as much. (TestKill9DuringBlockDownload in cmd/server meets the same
// after every crash.)
func TestRestartResumesBlockDownload(t *testing.T) {
	const n = 20
	c := newGeneratedChain(t, blockgen.Options{Seed: 9, Blocks: n, Now: time.Now()})
	cfg := Config{Network: protocol.Regtest, DataDir: t.TempDir(), Listen: "127.0.0.1:0"}
	magic := protocol.Regtest.Magic()

	// First run: the peer serves the headers and holds back every block.
	r := startEngine(t, cfg)
	var addr string
	waitFor(t, "the engine to listen", func() bool { addr = r.e.Snapshot().Status.Listen; return addr != "" })
	p := netPeer{dialRaw(t, addr), magic}
	p.handshake(940, n)
	go c.serve(p, func(int) []byte { return nil })
	waitFor(t, "the headers", func() bool { return r.e.Snapshot().Status.Headers == n })
	r.stop(t)

	// Restart on the same data: the headers are loaded, no block is.
	r = startEngine(t, cfg)
	waitFor(t, "the engine to listen again", func() bool { addr = r.e.Snapshot().Status.Listen; return addr != "" })
	if st := r.e.Snapshot().Status; st.Headers != n || st.Blocks != 0 {
		t.Fatalf("after the restart: headers %d blocks %d, want %d and 0", st.Headers, st.Blocks, n)
	}
	q := netPeer{dialRaw(t, addr), magic}
	q.handshake(941, n)
	go c.serve(q, func(h int) []byte { return c.raw[h] })
	for deadline := time.Now().Add(30 * time.Second); r.e.Snapshot().Status.Blocks != n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			s := r.e.Snapshot()
			known := map[PeerID]int32{}
			for _, pi := range s.Peers {
				known[pi.ID] = pi.SyncedHeight
			}
			t.Fatalf("no download after the restart within 30 s: blocks %d of %d, sync state %s, block status %+v, peers' known heights %v",
				s.Status.Blocks, n, s.Status.Sync.State, *s.Status.Sync.Blocks, known)
		}
	}
	for h := 1; h <= n; h++ {
		got, err := r.e.RawBlock(t.Context(), c.headers[h].BlockHash().String())
		if err != nil || !bytes.Equal(got, c.raw[h]) {
			t.Fatalf("block %d after the restart: %d bytes, %v", h, len(got), err)
		}
	}
}
