package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/node/engine"
)

// TestCPUProfileWritten runs the node with -cpuprofile while it syncs
// headers from another node, stops it, and checks that the file is a
// profile go tool pprof reads, naming the node's own functions.
func TestCPUProfileWritten(t *testing.T) {
	rootA := t.TempDir()
	importChain(t, rootA, 20_000)
	a := startNodeIn(t, rootA)
	path := filepath.Join(t.TempDir(), "cpu.prof")
	b := startNode(t, "-connect="+a.p2p, "-cpuprofile="+path)
	b.waitFor(60*time.Second, "the profiled node to sync", func() bool {
		var st engine.Status
		b.get("/api/status", &st)
		return st.Height == 20_000
	})
	b.stop()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// runtime/pprof writes gzip-compressed protocol buffers.
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		t.Fatalf("profile of %d bytes does not start with gzip's magic: %x", len(data), data[:min(4, len(data))])
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", serverBin, path).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "watchnode") {
		t.Errorf("the profile names none of the node's functions:\n%s", out)
	}
}

// TestCPUProfileUnwritable: a profile path that cannot be created stops
// the node before it starts, saying why.
func TestCPUProfileUnwritable(t *testing.T) {
	var out bytes.Buffer
	path := filepath.Join(t.TempDir(), "missing", "cpu.prof")
	code := run(context.Background(), "server", []string{"-network=regtest", "-datadir=" + t.TempDir(), "-cpuprofile=" + path}, &out, &out)
	if code != 1 || !strings.Contains(out.String(), "-cpuprofile: creating the profile") {
		t.Errorf("exit %d, output %q; want 1 and the reason", code, out.String())
	}
}
