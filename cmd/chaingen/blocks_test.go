package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/protocol"
)

// readBlockFile reads path with the node's own parser of Core block files.
func readBlockFile(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var raws [][]byte
	if err := blockstore.ScanBlockFile(f, protocol.Regtest.Magic(), func(_ int64, raw []byte) error {
		raws = append(raws, raw)
		return nil
	}); err != nil {
		t.Fatalf("scanning %s: %v", path, err)
	}
	return raws
}

// TestRunWritesBlockFile checks that -format blocks writes, record by
// record, the chain blockgen makes for the same options, in Core's layout:
// regtest magic as on the wire (fa bf b5 da), then the size.
func TestRunWritesBlockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blk00000.dat")
	var stdout, stderr bytes.Buffer
	args := []string{"-format", "blocks", "-n", "110", "-txs", "5", "-tail", "3", "-o", path, "-end", "2025-06-01T12:00:00Z", "-seed", "3"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte{0xfa, 0xbf, 0xb5, 0xda}) {
		t.Fatalf("file starts %x, want the regtest magic fabfb5da", data[:min(8, len(data))])
	}
	raws := readBlockFile(t, path)
	end := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	want, err := blockgen.Generate(blockgen.Options{Seed: 3, Blocks: 110, TxPerBlock: 5, TailBlocks: 3, Now: end})
	if err != nil {
		t.Fatal(err)
	}
	if len(raws) != len(want.Blocks) {
		t.Fatalf("file has %d blocks, want %d", len(raws), len(want.Blocks))
	}
	var total int64
	txs := 0
	for i, raw := range raws {
		if !bytes.Equal(raw, want.Raw(i)) {
			t.Fatalf("block %d differs from the library's chain for the same options", i+1)
		}
		total += int64(len(raw))
		txs += len(want.Blocks[i].Transactions)
	}
	if got := int64(len(data)); got != total+8*int64(len(raws)) {
		t.Errorf("file is %d bytes, want %d blocks' bytes and 8 per record", got, total)
	}
	if txs <= len(raws) {
		t.Errorf("%d transactions in %d blocks: no spends", txs, len(raws))
	}
	last := want.Blocks[len(want.Blocks)-1]
	out := stdout.String()
	for _, s := range []string{"wrote 113 regtest blocks", last.BlockHash().String(), "elapsed", "MB/s"} {
		if !strings.Contains(out, s) {
			t.Errorf("stdout lacks %q:\n%s", s, out)
		}
	}
}

// TestRunBlockFileSize checks that -size without -n stops at the first
// block that reaches the size.
func TestRunBlockFileSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blk00000.dat")
	var stdout, stderr bytes.Buffer
	const size = 150_000
	if code := run([]string{"-format", "blocks", "-size", "150000", "-txs", "40", "-o", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	raws := readBlockFile(t, path)
	var total int64
	for _, raw := range raws {
		total += int64(len(raw))
	}
	if last := int64(len(raws[len(raws)-1])); total < size || total-last >= size {
		t.Errorf("%d blocks of %d bytes (the last %d) for -size %d", len(raws), total, last, size)
	}
}

func TestRunBlocksBadFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-format", "json", "-n", "10", "-o", out}, "-format must be headers or blocks"},
		{[]string{"-n", "10", "-o", out, "-txs", "3"}, "apply to -format blocks only"},
		{[]string{"-n", "10", "-o", out, "-size", "1000"}, "apply to -format blocks only"},
		{[]string{"-format", "blocks", "-o", out}, "needs -n BLOCKS or -size BYTES"},
		{[]string{"-format", "blocks", "-n", "-1", "-o", out}, "-n must not be negative"},
		{[]string{"-format", "blocks", "-n", "10", "-txs", "-1", "-o", out}, "-txs must not be negative"},
		{[]string{"-format", "blocks", "-size", "-5", "-o", out}, "-size must not be negative"},
		{[]string{"-format", "blocks", "-n", "10", "-tail", "-1", "-o", out}, "-tail must not be negative"},
		{[]string{"-n", "10", "-o", out, "-tail", "5"}, "apply to -format blocks only"},
		{[]string{"-format", "blocks", "-n", "10", "-spacing", "1m", "-o", out}, "applies to headers only"},
		{[]string{"-format", "blocks", "-n", "10", "-network", "mainnet", "-o", out}, "regtest chains only"},
		{[]string{"-format", "blocks", "-n", "10"}, "-o FILE is required"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, stderr.String(), tc.want)
		}
	}
}

func TestRunBlocksWriteFailure(t *testing.T) {
	var stdout, stderr bytes.Buffer
	path := filepath.Join(t.TempDir(), "missing", "blk00000.dat")
	if code := run([]string{"-format", "blocks", "-n", "3", "-o", path}, &stdout, &stderr); code != 1 {
		t.Errorf("exit %d, want 1; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "writing block file") {
		t.Errorf("stderr %q does not say what failed", stderr.String())
	}
}
