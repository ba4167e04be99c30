package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/engine"
)

// TestSyncFromBtcd: the node syncs the header chain btcd mined to the same
// best hash, follows new blocks, and after a restart resumes from its store
// without downloading the chain again.
func TestSyncFromBtcd(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{})
	const blocks = 40_000
	for mined := 0; mined < blocks; mined += 5000 {
		btcd.Generate(t, 5000)
	}
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

// importChain generates a regtest chain of n headers and imports it into the
// data folder root with the import-headers command; it returns the tip hash.
func importChain(t testing.TB, root string, n int) string {
	t.Helper()
	headers := chaingen.Generate(n, chaingen.Options{Seed: 99})
	file := filepath.Join(t.TempDir(), "chain.bin")
	if err := chaingen.WriteFile(file, headers); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(serverBin, "import-headers", "-network=regtest", "-datadir="+root, file).CombinedOutput()
	if err != nil {
		t.Fatalf("import-headers: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	return headers[len(headers)-1].BlockHash().String()
}

// TestTwoNodesSyncEachOther: B, connected only to A, syncs A's chain to
// the same tip.
func TestTwoNodesSyncEachOther(t *testing.T) {
	const n = 30_000
	rootA := t.TempDir()
	tip := importChain(t, rootA, n)
	a := startNodeIn(t, rootA)
	b := startNode(t, "-connect="+a.p2p)
	start := time.Now()
	var st engine.Status
	b.waitFor(60*time.Second, "B to sync A's chain", func() bool {
		b.get("/api/status", &st)
		return st.Height == n
	})
	t.Logf("B synced %d headers from A in %s", n, time.Since(start).Round(time.Millisecond))
	if st.BestHash != tip {
		t.Fatalf("B's tip %s, A's %s", st.BestHash, tip)
	}
}

// TestImportExportHeaders: a file of headers imports with the full rules, an
// export gives the same bytes back, and a bad file is refused naming the
// header and the rule.
func TestImportExportHeaders(t *testing.T) {
	root := t.TempDir()
	headers := chaingen.Generate(5000, chaingen.Options{Seed: 5})
	file := filepath.Join(t.TempDir(), "in.bin")
	chaingen.WriteFile(file, headers)
	var out strings.Builder
	if code := run(t.Context(), "server", []string{"import-headers", "-network=regtest", "-datadir=" + root, file}, &out, &out); code != 0 {
		t.Fatalf("import: %d %s", code, out.String())
	}
	exported := filepath.Join(t.TempDir(), "out.bin")
	out.Reset()
	if code := run(t.Context(), "server", []string{"export-headers", "-network=regtest", "-datadir=" + root, exported}, &out, &out); code != 0 {
		t.Fatalf("export: %d %s", code, out.String())
	}
	back, err := chaingen.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 5001 || back[5000].BlockHash() != headers[4999].BlockHash() {
		t.Fatalf("exported %d headers", len(back))
	}
	// Importing the export again adds nothing.
	out.Reset()
	if code := run(t.Context(), "server", []string{"import-headers", "-network=regtest", "-datadir=" + root, exported}, &out, &out); code != 0 || !strings.Contains(out.String(), "imported 0 new headers (5001 already known)") {
		t.Fatalf("re-import: %d %s", code, out.String())
	}

	// A corrupted header is refused with its index and rule; the valid
	// prefix is kept.
	bad := append([]wire.BlockHeader(nil), headers...)
	bad[100].Bits = 0x1d00ffff
	badFile := filepath.Join(t.TempDir(), "bad.bin")
	chaingen.WriteFile(badFile, bad)
	fresh := t.TempDir()
	out.Reset()
	code := run(t.Context(), "server", []string{"import-headers", "-network=regtest", "-datadir=" + fresh, badFile}, &out, &out)
	if code != 1 || !strings.Contains(out.String(), "header 100 of") || !strings.Contains(out.String(), "at height 101") || !strings.Contains(out.String(), "rule") {
		t.Errorf("bad file: %d %s", code, out.String())
	}
	// A file that is not whole headers is refused.
	os.WriteFile(badFile, make([]byte, 81), 0o600)
	out.Reset()
	if code := run(t.Context(), "server", []string{"import-headers", "-network=regtest", "-datadir=" + fresh, badFile}, &out, &out); code != 1 || !strings.Contains(out.String(), "not a whole number of 80-byte headers") {
		t.Errorf("81-byte file: %d %s", code, out.String())
	}
}
