package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/browsertest"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/protocol"
	"github.com/watchnode/watchnode/web"
)

// serverBin is the node binary the integration tests run, built once (with
// the race detector) by TestMain.
var serverBin string

func TestMain(m *testing.M) {
	if addr := os.Getenv(bareClientEnv); addr != "" {
		// Re-executed as the bare download client of a benchmark: a
		// process of its own, so that its start counts as the node's does.
		want, _ := strconv.Atoi(os.Getenv(bareClientWantEnv))
		if got, err := bareDownload(addr, want); err != nil || got != want {
			fmt.Fprintf(os.Stderr, "bare download: %d of %d headers: %v\n", got, want, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if base := os.Getenv(httpLoadEnv); base != "" {
		clients, _ := strconv.Atoi(os.Getenv(httpLoadClientsEnv))
		runHTTPLoad(base, clients)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "watchnode-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "server")
	if err := buildServer(dir); err != nil {
		fmt.Fprintln(os.Stderr, "building the server for the integration tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if err := benchBinary.remove(); err != nil {
		fmt.Fprintln(os.Stderr, "removing the benchmarks' binary:", err)
	}
	os.Exit(code)
}

// buildServer builds what `make build` does into dir: the server (with the
// race detector) and, next to it, the browser decoder and its loader.
func buildServer(dir string) error {
	build := exec.Command("go", "build", "-race", "-o", serverBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return err
	}
	fastServerBin = filepath.Join(dir, "server-norace")
	build = exec.Command("go", "build", "-o", fastServerBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return err
	}
	return browsertest.BuildDecoder(dir, "../../wasm")
}

// fastServerBin is the server built without the race detector, for the
// tests whose nodes verify thousands of signatures: the detector makes
// secp256k1 verification about 200 times slower (800 generated blocks take
// two minutes to validate instead of half a second). Every other test runs
// serverBin, with the detector.
var fastServerBin string

// nodeProc is one running instance of bin/server.
type nodeProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	started time.Time // just before the process was started
	dataDir string    // the network's folder
	http    string
	p2p     string
	log     *syncBuffer
	done    chan struct{}
	stopped bool
}

// syncBuffer collects a process's output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t testing.TB) string {
	t.Helper()
	return freePorts(t, 1)[0]
}

// freePorts returns n distinct free loopback addresses: each listener is
// held until all are picked, since one closed at once may be handed out
// again by the next call (two ports of one node once came out equal).
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

// startNode runs the node on regtest with free loopback ports and waits for
// its API. It is stopped with SIGINT when the test ends, and must exit
// cleanly within the 5 s the README promises.
func startNode(t testing.TB, args ...string) *nodeProc {
	t.Helper()
	return startNodeIn(t, t.TempDir(), args...)
}

// startNodeIn is startNode with a given data folder, to restart a node on
// the same data.
func startNodeIn(t testing.TB, root string, args ...string) *nodeProc {
	t.Helper()
	return startNodeBin(t, serverBin, root, args...)
}

// startNodeBin is startNodeIn running the server binary bin.
func startNodeBin(t testing.TB, bin, root string, args ...string) *nodeProc {
	t.Helper()
	ports := freePorts(t, 2)
	n := &nodeProc{t: t, dataDir: filepath.Join(root, "regtest"), http: ports[0], p2p: ports[1], log: &syncBuffer{}, done: make(chan struct{})}
	// An -http or -listen in args (a restart on the same addresses)
	// overrides the fresh ports: the last flag wins.
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "-http="); ok {
			n.http = v
		}
		if v, ok := strings.CutPrefix(a, "-listen="); ok && v != "" {
			n.p2p = v
		}
		if v, ok := strings.CutPrefix(a, "-network="); ok {
			n.dataDir = filepath.Join(root, v)
		}
	}
	all := append([]string{"-network=regtest", "-datadir=" + root, "-listen=" + n.p2p, "-http=" + n.http, "-loglevel=debug"}, args...)
	n.cmd = exec.Command(bin, all...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.started = time.Now()
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("starting node: %v", err)
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		n.stop()
		if t.Failed() {
			t.Logf("node %s log:\n%s", n.p2p, n.log.String())
		}
	})
	n.waitFor(10*time.Second, "the API to answer", func() bool {
		var s engine.Status
		return n.tryGet("/api/status", &s) == nil
	})
	return n
}

// stop sends SIGINT and checks the node exits with status 0 within 5 s.
func (n *nodeProc) stop() { n.stopWith(syscall.SIGINT) }

// stopWith is stop with another signal.
func (n *nodeProc) stopWith(sig syscall.Signal) {
	if n.stopped {
		return
	}
	n.stopped = true
	n.cmd.Process.Signal(sig)
	select {
	case <-n.done:
		if code := n.cmd.ProcessState.ExitCode(); code != 0 {
			n.t.Errorf("node exited with status %d after %v", code, sig)
		}
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
		n.t.Errorf("node did not exit within 5 s of %v", sig)
	}
}

func (n *nodeProc) url(path string) string { return "http://" + n.http + path }

func (n *nodeProc) tryGet(path string, v any) error {
	resp, err := http.Get(n.url(path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (n *nodeProc) get(path string, v any) {
	n.t.Helper()
	if err := n.tryGet(path, v); err != nil {
		n.t.Fatal(err)
	}
}

func (n *nodeProc) peers() []engine.PeerInfo {
	var ps []engine.PeerInfo
	n.get("/api/peers", &ps)
	return ps
}

func (n *nodeProc) disconnects() []engine.Disconnect {
	var ds []engine.Disconnect
	n.get("/api/disconnects", &ds)
	return ds
}

func (n *nodeProc) token() string {
	n.t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dataDir, web.CookieFile))
	if err != nil {
		n.t.Fatalf("reading cookie: %v", err)
	}
	return string(b)
}

// call makes an API request and returns the status code and body.
func (n *nodeProc) call(method, path, token string, body any) (int, string) {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.url(path), rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds, failing the test after timeout or if
// the node exits first (its log follows when the test ends).
func (n *nodeProc) waitFor(timeout time.Duration, what string, cond func() bool) {
	n.t.Helper()
	waitUntil(n.t, n.done, timeout, what, cond)
}

// waitUntil polls cond until it holds, failing the test after timeout or if
// done is closed first (the process it waits on exited).
func waitUntil(t testing.TB, done <-chan struct{}, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-done:
			t.Fatalf("exited while waiting for %s", what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// messageLog returns the node's whole message log, oldest first, paging
// through /api/messages. It fails the test if the log no longer holds
// every line (skipped): its callers count or pair lines and need them all.
func (n *nodeProc) messageLog() []web.MessageLine {
	n.t.Helper()
	var all []web.MessageLine
	after := uint64(0)
	for {
		var page struct {
			Skipped  uint64            `json:"skipped"`
			Messages []web.MessageLine `json:"messages"`
		}
		n.get("/api/messages?after="+strconv.FormatUint(after, 10), &page)
		if page.Skipped > 0 {
			n.t.Fatalf("the message log lost %d messages after %d; the test needs them all", page.Skipped, after)
		}
		if len(page.Messages) == 0 {
			return all
		}
		all = append(all, page.Messages...)
		after = page.Messages[len(page.Messages)-1].Seq
	}
}

// established returns the established peer whose user agent contains ua.
func (n *nodeProc) established(ua string) (engine.PeerInfo, bool) {
	for _, p := range n.peers() {
		if p.Established && strings.Contains(p.UserAgent, ua) {
			return p, true
		}
	}
	return engine.PeerInfo{}, false
}

// rawPeer is a hand-driven TCP connection to the node, for bad input.
type rawPeer struct {
	t  testing.TB
	nc net.Conn
}

func dialRaw(t testing.TB, addr string) *rawPeer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawPeer{t: t, nc: nc}
}

func (r *rawPeer) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("writing to node: %v", err)
	}
}

// closedByNode waits until the node closes the connection.
func (r *rawPeer) closedByNode(timeout time.Duration) bool {
	r.nc.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, r.nc)
	// EOF, or a reset when the node closed with our bytes still unread.
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// send writes m to the node as one regtest frame.
func (r *rawPeer) send(m wire.Message) {
	r.t.Helper()
	r.write(regtestMsg(r.t, m))
}

// regtestMsg is m as a regtest frame.
func regtestMsg(t testing.TB, m wire.Message) []byte {
	t.Helper()
	b, err := protocol.EncodeFrame(protocol.Regtest.Magic(), m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// versionMsg is the version message of a peer at 127.0.0.1 with user
// agent ua and nonce, at our protocol version.
func versionMsg(ua string, nonce uint64) *wire.MsgVersion {
	me := wire.NewNetAddressIPPort(net.IPv4(127, 0, 0, 1), 0, 0)
	v := wire.NewMsgVersion(me, me, nonce, 0)
	v.ProtocolVersion = int32(protocol.ProtocolVersion)
	v.UserAgent = ua
	return v
}

// versionFrame is versionMsg as a regtest frame.
func versionFrame(t testing.TB, ua string, nonce uint64) []byte {
	t.Helper()
	return regtestMsg(t, versionMsg(ua, nonce))
}

// regtestFrame is a regtest frame of any command and payload, sound or not.
func regtestFrame(t testing.TB, command string, payload []byte) []byte {
	t.Helper()
	b, err := protocol.AppendFrame(nil, protocol.Regtest.Magic(), command, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
