package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/coder/websocket"
	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/protocol"
)

// benchBinary is the server built without the race detector (TestMain's
// is built with it, for the tests), which the benchmarks and the memory
// bound of TestFloodingPeers run. TestMain removes its folder at the end.
var benchBinary = &lazyBuild{build: func(path string) error {
	if out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", path, err, out)
	}
	return nil
}}

// useBenchBinary makes serverBin the benchBinary for the rest of b.
func useBenchBinary(b testing.TB) {
	b.Helper()
	bin, err := benchBinary.get()
	if err != nil {
		b.Fatal(err)
	}
	old := serverBin
	serverBin = bin
	b.Cleanup(func() { serverBin = old })
}

// lazyBuild builds a binary into a temporary folder of its own on first
// use. Every caller gets the same path, or the same error if that build
// failed (never the path of a binary that is not there); remove deletes
// the folder.
type lazyBuild struct {
	build func(path string) error

	once sync.Once
	dir  string
	path string
	err  error
}

func (l *lazyBuild) get() (string, error) {
	l.once.Do(func() {
		l.dir, l.err = os.MkdirTemp("", "watchnode-bench-bin")
		if l.err != nil {
			l.err = fmt.Errorf("making a folder for the binary: %w", l.err)
			return
		}
		l.path = filepath.Join(l.dir, "server")
		l.err = l.build(l.path)
	})
	return l.path, l.err
}

// remove deletes the folder, if get made one.
func (l *lazyBuild) remove() error {
	if l.dir == "" {
		return nil
	}
	return os.RemoveAll(l.dir)
}

// TestLazyBuild: a failed build gives every caller its error, a good one
// the same path, and remove leaves no folder behind either way.
func TestLazyBuild(t *testing.T) {
	broken := errors.New("compile error")
	builds := 0
	failing := &lazyBuild{build: func(path string) error { builds++; return broken }}
	for range 2 {
		if _, err := failing.get(); !errors.Is(err, broken) {
			t.Fatalf("a failed build: %v, want %v", err, broken)
		}
	}
	if builds != 1 {
		t.Errorf("built %d times, want once", builds)
	}
	good := &lazyBuild{build: func(path string) error { return os.WriteFile(path, []byte("binary"), 0o755) }}
	first, err := good.get()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := good.get(); again != first || err != nil {
		t.Errorf("second get: %q, %v; want %q", again, err, first)
	}
	for _, l := range []*lazyBuild{failing, good} {
		dir := l.dir
		if err := l.remove(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("folder %s is left after remove: %v", dir, err)
		}
	}
}

// rssBytes reads a process's resident memory from /proc.
func rssBytes(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// syncTime waits until node n reaches height and returns, by the node's
// own clock, the time from its connection to the peer at from (the node it
// syncs from) to the moment it caught up.
func syncTime(b *testing.B, n *nodeProc, from string, height int32) time.Duration {
	var connected time.Time
	var st engine.Status
	n.waitFor(5*time.Minute, "sync", func() bool {
		// The peer at from, not the first listed: another (the
		// pinger of BenchmarkHTTPLoad) may have connected before it.
		for _, p := range n.peers() {
			if connected.IsZero() && p.Addr == from {
				connected = p.ConnectedAt
			}
		}
		n.get("/api/status", &st)
		return st.Height == height && st.Sync.State == engine.SyncSynced
	})
	if connected.IsZero() {
		b.Fatalf("never saw the node's peer %s connected", from)
	}
	return st.Sync.SyncedAt.Sub(connected)
}

// BenchmarkNodeToNodeSync1M: node B syncs 1,000,000 headers from node A
// over loopback (two processes), from connection to tip. Also reports B's
// resident memory per header against a node holding only genesis.
func BenchmarkNodeToNodeSync1M(b *testing.B) {
	useBenchBinary(b)
	const n = 1_000_000
	rootA := b.TempDir()
	importChain(b, rootA, n)
	a := startNodeIn(b, rootA)
	base := startNode(b)
	time.Sleep(500 * time.Millisecond)
	baseRSS, err := rssBytes(base.cmd.Process.Pid)
	if err != nil {
		b.Skipf("cannot read resident memory: %v", err)
	}
	b.ResetTimer()
	var total time.Duration
	var perHeader float64
	for b.Loop() {
		// v1, as this benchmark's history was measured (BIP324's cost is
		// BenchmarkHeadersV2AgainstV1's).
		node := startNode(b, "-connect="+a.p2p, "-v2transport=0")
		total += syncTime(b, node, a.p2p, n)
		b.StopTimer()
		rss, _ := rssBytes(node.cmd.Process.Pid)
		perHeader = float64(rss-baseRSS) / n
		node.stop()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/sync")
	b.ReportMetric(perHeader, "rss-bytes/header")
}

// BenchmarkBtcdSync40k compares syncing btcd's 40,000-header regtest chain
// with merely downloading the same headers from btcd without validating
// them (a bare protocol client, one getheaders at a time), in the same run.
func BenchmarkBtcdSync40k(b *testing.B) {
	useBenchBinary(b)
	const n = 40_000
	btcd := btcdtest.Start(b, btcdtest.Options{})
	for mined := 0; mined < n; mined += 5000 {
		btcd.Generate(b, 5000)
	}
	b.ResetTimer()
	var ours, bare time.Duration
	for b.Loop() {
		start := time.Now()
		if got := downloadHeaders(b, btcd.P2PAddr(), n); got != n {
			b.Fatalf("bare download got %d headers", got)
		}
		bare += time.Since(start)
		node := startNode(b, "-connect="+btcd.P2PAddr())
		ours += syncTime(b, node, btcd.P2PAddr(), n)
		if os.Getenv("BENCH_LOG") != "" {
			b.Log(node.log.String())
		}
		node.stop()
	}
	b.ReportMetric(ours.Seconds()/float64(b.N), "s/sync")
	b.ReportMetric(bare.Seconds()/float64(b.N), "s/bare-download")
	b.ReportMetric(ours.Seconds()/bare.Seconds(), "ratio")
}

// downloadHeaders handshakes with addr and fetches headers with getheaders
// until it has want of them, without validating anything; it returns the
// count.
func downloadHeaders(b *testing.B, addr string, want int) int {
	got, err := bareDownload(addr, want)
	if err != nil {
		b.Fatal(err)
	}
	return got
}

// bareDownload is the bare protocol client: a handshake, then one
// getheaders at a time, reading only each batch's count and last header
// (no decoding, no validation, nothing stored).
func bareDownload(addr string, want int) (int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	magic := protocol.Regtest.Magic()
	var werr error
	send := func(m wire.Message) {
		f, err := protocol.EncodeFrame(magic, m)
		if err == nil {
			_, err = conn.Write(f)
		}
		if werr == nil {
			werr = err
		}
	}
	send(versionMsg("/bare/", 7))
	genesis := *protocol.Regtest.Params().GenesisHash
	last := genesis
	got := 0
	requested := false
	for got < want && werr == nil {
		f, err := protocol.ReadFrame(conn, magic)
		if err != nil {
			return got, err
		}
		switch f.Command {
		case wire.CmdVersion:
			send(wire.NewMsgVerAck())
		case wire.CmdVerAck:
			if !requested {
				requested = true
				gh := wire.NewMsgGetHeaders()
				gh.AddBlockLocatorHash(&last)
				send(gh)
			}
		case wire.CmdPing:
			m, _ := protocol.Decode(f.Command, f.Payload)
			send(wire.NewMsgPong(m.(*wire.MsgPing).Nonce))
		case wire.CmdHeaders:
			// Only the count and the last header's hash, for the next
			// locator: no decoding of the batch, no validation.
			count := (len(f.Payload) - 3) / 81
			got += count
			if count == 0 {
				return got, werr
			}
			lastHeader := f.Payload[len(f.Payload)-81 : len(f.Payload)-1]
			last = chainhash.DoubleHashH(lastHeader)
			gh := wire.NewMsgGetHeaders()
			gh.AddBlockLocatorHash(&last)
			send(gh)
		}
	}
	return got, werr
}

// BenchmarkSyncWithStalledWebSocket: node B syncs 1,000,000 headers from A,
// alternately with and without a WebSocket client on B that subscribed to
// everything (state and the full message log) and then never reads. The
// client must not slow the engine: the two times should be within noise.
func BenchmarkSyncWithStalledWebSocket(b *testing.B) {
	useBenchBinary(b)
	const n = 1_000_000
	rootA := b.TempDir()
	importChain(b, rootA, n)
	a := startNodeIn(b, rootA)
	b.ResetTimer()
	var with, without time.Duration
	for b.Loop() {
		for _, stalled := range []bool{false, true} {
			node := startNode(b, "-connect="+a.p2p)
			if stalled {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				c, _, err := websocket.Dial(ctx, "ws://"+node.http+"/ws", nil)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"subscribe"}`))
				defer c.CloseNow()
			}
			d := syncTime(b, node, a.p2p, n)
			if stalled {
				with += d
			} else {
				without += d
			}
			node.stop()
		}
	}
	b.ReportMetric(without.Seconds()/float64(b.N), "s/sync")
	b.ReportMetric(with.Seconds()/float64(b.N), "s/sync-stalled-ws")
	b.ReportMetric(with.Seconds()/without.Seconds(), "ratio")
}
