package btcdtest

import (
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestNodeLifecycle mines blocks, crashes btcd with SIGKILL, restarts it on
// the same data directory and ports, and checks what survives.
func TestNodeLifecycle(t *testing.T) {
	start := time.Now()
	n := Start(t, Options{})
	t.Logf("Start took %v", time.Since(start))

	if got := n.BlockCount(t); got != 0 {
		t.Fatalf("fresh regtest node: BlockCount = %d, want 0", got)
	}
	hashes := n.Generate(t, 3)
	if got := n.BlockCount(t); got != 3 {
		t.Fatalf("after Generate(3): BlockCount = %d, want 3", got)
	}
	if best := n.BestBlockHash(t); best != hashes[2] {
		t.Fatalf("best block %s, want the last generated %s", best, hashes[2])
	}
	raw := n.RawBlocks(t)
	if len(raw) != 3 {
		t.Fatalf("RawBlocks returned %d blocks, want 3", len(raw))
	}

	p2p := n.P2PAddr()
	n.Kill(t)
	if n.Running() {
		t.Fatal("Running after Kill")
	}
	start = time.Now()
	n.Restart(t)
	t.Logf("Restart after SIGKILL took %v", time.Since(start))
	if n.P2PAddr() != p2p {
		t.Fatalf("P2PAddr changed across Restart: %s, then %s", p2p, n.P2PAddr())
	}
	// btcd removes its regtest block database on every start, so the
	// chain is back at genesis.
	if got := n.BlockCount(t); got != 0 {
		t.Fatalf("after Kill and Restart: BlockCount = %d, want 0 (btcd wipes regtest on start)", got)
	}
	if !strings.Contains(n.LogTail(30), "Removing regression test database") {
		t.Errorf("btcd's log does not show the regtest wipe:\n%s", n.LogTail(30))
	}

	// The old chain can be put back block by block.
	n.SubmitBlocks(t, raw)
	if got := n.BlockCount(t); got != 3 {
		t.Fatalf("after SubmitBlocks: BlockCount = %d, want 3", got)
	}
	if best := n.BestBlockHash(t); best != hashes[2] {
		t.Fatalf("after SubmitBlocks: best block %s, want %s", best, hashes[2])
	}
	n.Generate(t, 1)
	if got := n.BlockCount(t); got != 4 {
		t.Fatalf("after another Generate(1): BlockCount = %d, want 4", got)
	}

	// A graceful restart wipes the regtest chain too.
	n.Restart(t)
	if got := n.BlockCount(t); got != 0 {
		t.Fatalf("after graceful Restart: BlockCount = %d, want 0", got)
	}

	n.Stop(t)
	if n.Running() {
		t.Fatal("Running after Stop")
	}
	if !strings.Contains(n.LogTail(10), "Shutdown complete") {
		t.Errorf("btcd's log does not end with a clean shutdown:\n%s", n.LogTail(10))
	}
	n.Stop(t) // a second Stop is a no-op
}

// TestTwoNodesConnect starts a second node with --connect to the first and
// checks both see the connection, and that blocks propagate.
func TestTwoNodesConnect(t *testing.T) {
	a := Start(t, Options{})
	a.Generate(t, 2)
	b := Start(t, Options{Args: []string{"--connect=" + a.P2PAddr()}})

	out := b.WaitForPeers(t, 20*time.Second, func(p PeerInfo) bool {
		return p.Addr == a.P2PAddr() && !p.Inbound
	})
	in := a.WaitForPeers(t, 20*time.Second, func(p PeerInfo) bool { return p.Inbound })
	t.Logf("b's outbound peer: %+v", out)
	t.Logf("a's inbound peer: %+v", in)

	for _, p := range []PeerInfo{out, in} {
		if !strings.Contains(p.SubVer, "btcd") {
			t.Errorf("peer %s: subver %q does not name btcd", p.Addr, p.SubVer)
		}
		if p.Version < 70001 {
			t.Errorf("peer %s: protocol version %d, want >= 70001", p.Addr, p.Version)
		}
	}
	if !strings.HasPrefix(in.Addr, "127.0.0.1:") {
		t.Errorf("a's inbound peer addr %q, want 127.0.0.1:<port>", in.Addr)
	}

	// b syncs the blocks a mined before and after the connection.
	b.WaitForBlockCount(t, 2, 20*time.Second)
	a.Generate(t, 1)
	b.WaitForBlockCount(t, 3, 20*time.Second)
	if ha, hb := a.BestBlockHash(t), b.BestBlockHash(t); ha != hb {
		t.Fatalf("best blocks differ: a %s, b %s", ha, hb)
	}
}

// TestBase58Check checks the hand-written encoder against known addresses.
func TestBase58Check(t *testing.T) {
	zero := make([]byte, 20)
	for _, tc := range []struct {
		version byte
		payload []byte
		want    string
	}{
		{0x00, zero, "1111111111111111111114oLvT2"},
		{0x6f, zero, "mfWxJ45yp2SFn7UciZyNpvDKrzbhyfKrY8"},
		{0x00, []byte{}, "1Wh4bh"},
		{0x6f, unhex(t, "0000b8b96b030d5f342668cb4ce83b0b1e314f21"), "mfWyABzB9VLKX7SmrwQRHJWBD6XVta3dvP"},
		{0x00, unhex(t, "0000b8b96b030d5f342668cb4ce83b0b1e314f21"), "111s8uCLTu4jzyA9NS3TPHrM6vnyuKujE"},
		{0x6f, unhex(t, "b17796acbc2606f67456cbfd8896f66e7091910b"), "mwhKAAgYDgit3FwE6b8A7U2TD7A4hXDsEg"},
	} {
		if got := base58CheckEncode(tc.payload, tc.version); got != tc.want {
			t.Errorf("base58CheckEncode(%x, %#x) = %s, want %s", tc.payload, tc.version, got, tc.want)
		}
	}
}

// TestLogTail checks the line trimming of LogTail on a fake log.
func TestLogTail(t *testing.T) {
	n := &Node{logPath: t.TempDir() + "/log"}
	if got := n.LogTail(3); !strings.Contains(got, "cannot read") {
		t.Errorf("missing log: %q", got)
	}
	writeFile(t, n.logPath, "a\nb\nc\nd\n")
	if got := n.LogTail(2); got != "c\nd" {
		t.Errorf("LogTail(2) = %q", got)
	}
	if got := n.LogTail(10); got != "a\nb\nc\nd" {
		t.Errorf("LogTail(10) = %q", got)
	}
}

// writeFile writes s to path or fails the test.
func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// unhex decodes s or fails the test.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeTB records Fatalf and Skipf instead of ending the test, so failure
// paths can be checked. Everything else goes to the real test.
type fakeTB struct {
	testing.TB
	outcome string // "fatal" or "skip"
	msg     string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.outcome, f.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.outcome, f.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with f on a new goroutine, so Goexit ends only fn.
func (f *fakeTB) run(fn func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
}

// TestBinariesMissing checks that missing binaries skip with an install hint,
// and fail instead when CI=true.
func TestBinariesMissing(t *testing.T) {
	missingPath := t.TempDir() + "/no-such-btcd"
	t.Setenv("BTCD", missingPath)
	t.Setenv("BTCCTL", missingPath)

	t.Setenv("CI", "")
	f := &fakeTB{TB: t}
	f.run(func(tb testing.TB) { Binaries(tb) })
	if f.outcome != "skip" || !strings.Contains(f.msg, "scripts/install-tools.sh") || !strings.Contains(f.msg, missingPath) {
		t.Errorf("without CI: outcome %q, message %q; want a skip naming the path and the install script", f.outcome, f.msg)
	}

	t.Setenv("CI", "true")
	f = &fakeTB{TB: t}
	f.run(func(tb testing.TB) { Binaries(tb) })
	if f.outcome != "fatal" || !strings.Contains(f.msg, "make test") {
		t.Errorf("with CI=true: outcome %q, message %q; want a failure naming make test", f.outcome, f.msg)
	}
}

// TestStartEarlyExit checks that a btcd that exits at once fails Start with
// its own output in the message.
func TestStartEarlyExit(t *testing.T) {
	Binaries(t)
	f := &fakeTB{TB: t}
	f.run(func(tb testing.TB) { Start(tb, Options{Args: []string{"--no-such-flag"}}) })
	t.Log(f.msg)
	if f.outcome != "fatal" || !strings.Contains(f.msg, "exited before") || !strings.Contains(f.msg, "no-such-flag") {
		t.Errorf("outcome %q, message %q; want a failure with btcd's complaint", f.outcome, f.msg)
	}
}
