package engine

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// seedBlocks writes a generated chain's headers and blocks into the data
// folder dir, as import-blocks would, for an engine to start from.
func seedBlocks(t *testing.T, dir string, gen *blockgen.Chain) {
	t.Helper()
	params := consensus.ParamsFor(protocol.Regtest)
	c, hs, err := chain.Open(dir, params, nil)
	if err != nil {
		t.Fatal(err)
	}
	headers := make([]consensus.Header, len(gen.Blocks))
	for i, b := range gen.Blocks {
		headers[i] = consensus.FromWire(&b.Header)
	}
	res, err := c.Accept(headers, nil, time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Writes {
		hs.Write(w)
	}
	if err := hs.Close(); err != nil {
		t.Fatal(err)
	}
	bs, err := blockstore.Open(blockstore.Options{Dir: dir, Magic: protocol.Regtest.Magic()})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range gen.Blocks {
		if _, err := bs.WriteBlock(b.BlockHash(), int32(i+1), gen.Raw(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPruneKeepsTheLastBlocks: a node with -prune downloads a chain whose
// blocks do not fit its target, deletes the oldest block files once their
// blocks are connected and the UTXO set flushed past them, never one holding a block within 288 of the tip,
// offers NODE_NETWORK_LIMITED, answers no more for pruned blocks, and at a
// restart resumes above them instead of downloading them again.
func TestPruneKeepsTheLastBlocks(t *testing.T) {
	const blocks = 700
	gen, err := blockgen.Generate(blockgen.Options{Seed: 5, Blocks: blocks, TxPerBlock: 4})
	if err != nil {
		t.Fatal(err)
	}
	dirA := t.TempDir()
	seedBlocks(t, dirA, gen)
	// Scripts are not what this test is about, and under the race
	// detector they would take minutes: both nodes skip them.
	a := startEngine(t, Config{Network: protocol.Regtest, DataDir: dirA, Listen: "127.0.0.1:0", skipScripts: true})
	waitFor(t, "A to listen", func() bool { return a.e.Snapshot().Status.Listen != "" })
	// A validates the stored blocks as it starts.
	waitForWithin(t, 60*time.Second, "A to connect the stored blocks", func() bool { return a.e.Snapshot().Status.Blocks == blocks })

	dirB := t.TempDir()
	cfgB := Config{Network: protocol.Regtest, DataDir: dirB, Connect: []string{a.e.Snapshot().Status.Listen},
		PruneMiB: 1, blockFileSize: 64 << 10, skipScripts: true}
	b := startEngine(t, cfgB)
	waitForWithin(t, 60*time.Second, "B to download every block", func() bool { return b.e.Snapshot().Status.Blocks == blocks })
	waitForWithin(t, 30*time.Second, "B to prune", func() bool { return b.e.blocks.HavePruned() })
	st := b.e.Snapshot().Status
	if !st.Pruned {
		t.Error("status does not say pruned")
	}
	pruned := b.e.blocks.PruneHeight()
	if pruned < 1 || pruned > blocks-blockstore.MinBlocksToKeep {
		t.Fatalf("pruned up to %d, want some blocks and none within %d of the tip %d", pruned, blockstore.MinBlocksToKeep, blocks)
	}
	t.Logf("pruned up to height %d; %d bytes on disk", pruned, b.e.blocks.SizeOnDisk())
	if _, err := b.e.RawBlock(t.Context(), "1"); !errors.Is(err, ErrNoBlockData) {
		t.Errorf("block 1 after pruning: %v, want ErrNoBlockData", err)
	}
	for h := blocks - blockstore.MinBlocksToKeep + 1; h <= blocks; h++ {
		raw, err := b.e.RawBlock(t.Context(), strconv.Itoa(h))
		if err != nil || string(raw) != string(gen.Raw(h-1)) {
			t.Fatalf("block %d, within %d of the tip, is gone or differs: %v", h, blockstore.MinBlocksToKeep, err)
		}
	}
	// A sees B offer the last blocks only.
	waitFor(t, "A to see B offer NETWORK_LIMITED|WITNESS", func() bool {
		peers := a.e.Snapshot().Peers
		return len(peers) == 1 && peers[0].Services == uint64(wire.SFNodeNetworkLimited|wire.SFNodeWitness)
	})

	// Restart B: it resumes above the pruned blocks without fetching any.
	b.stop(t)
	b2 := startEngine(t, cfgB)
	st = b2.e.Snapshot().Status
	if st.Blocks != blocks {
		t.Fatalf("after a restart B has %d blocks connected, want %d", st.Blocks, blocks)
	}
	time.Sleep(500 * time.Millisecond)
	if got := b2.e.Snapshot().Status.Sync.Blocks.Received; got != 0 {
		t.Errorf("B fetched %d blocks again after the restart", got)
	}
}
