package main

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
)

// getRaw fetches path and returns its body, failing on a status other than
// 200.
func (n *nodeProc) getRaw(path string) []byte {
	n.t.Helper()
	resp, err := http.Get(n.url(path))
	if err != nil {
		n.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		n.t.Fatalf("GET %s: status %d, err %v: %s", path, resp.StatusCode, err, body)
	}
	return body
}

// TestBlocksFromAndToBtcd: the node downloads every block of btcd's regtest
// chain, byte for byte as btcd's getblock gives them, and a fresh btcd
// connected only to our node then syncs every block from us and reaches the
// same tip with its own full validation: the proof that we serve blocks
// correctly.
func TestBlocksFromAndToBtcd(t *testing.T) {
	src := btcdtest.Start(t, btcdtest.Options{})
	const blocks = 300
	src.Generate(t, blocks)
	want := src.RawBlocks(t)
	tip := src.BestBlockHash(t)

	n := startNode(t, "-connect="+src.P2PAddr())
	start := time.Now()
	var st engine.Status
	n.waitFor(90*time.Second, "the node to download btcd's blocks", func() bool {
		n.get("/api/status", &st)
		return st.Blocks == blocks
	})
	t.Logf("downloaded %d blocks from btcd in %s; %d bytes on disk", blocks, time.Since(start).Round(time.Millisecond), st.SizeOnDisk)
	if st.Headers != blocks || st.BestHash != tip || st.SizeOnDisk <= 0 {
		t.Fatalf("status after download: headers %d best %s size_on_disk %d; want %d %s", st.Headers, st.BestHash, st.SizeOnDisk, blocks, tip)
	}
	for h := 1; h <= blocks; h++ {
		raw := n.getRaw("/api/blocks/" + strconv.Itoa(h) + "/raw")
		if w, _ := hex.DecodeString(want[h-1]); !bytes.Equal(raw, w) {
			t.Fatalf("block %d: our bytes differ from btcd's getblock (%d vs %d bytes)", h, len(raw), len(w))
		}
	}
	var bv engine.BlockView
	n.get("/api/blocks/"+tip, &bv)
	if !bv.HaveData || !bv.Connected || bv.Height != blocks || bv.TxCount != 1 || len(bv.TxIDs) != 1 || bv.Size == 0 || bv.Weight == 0 {
		t.Errorf("block view of the tip: %+v", bv)
	}

	dst := btcdtest.Start(t, btcdtest.Options{Args: []string{"--connect=" + n.p2p}})
	start = time.Now()
	dst.WaitForBlockCount(t, blocks, 90*time.Second)
	t.Logf("a fresh btcd synced %d blocks from us in %s", blocks, time.Since(start).Round(time.Millisecond))
	if got := dst.BestBlockHash(t); got != tip {
		t.Fatalf("btcd synced from us to %s, want %s", got, tip)
	}
}
