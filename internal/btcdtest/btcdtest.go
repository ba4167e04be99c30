// Package btcdtest starts a real btcd node on regtest on loopback for
// integration tests.
//
// The btcd and btcctl binaries are pinned and installed into
// <module root>/.tools/bin by scripts/install-tools.sh (run by `make test`);
// the BTCD and BTCCTL environment variables override their paths. When they
// are missing, tests skip with a message saying how to install them, or fail
// when CI=true.
//
// Each Node gets its own temporary data and log directories and empty config
// files, free loopback ports for P2P and RPC, random RPC credentials and a
// random regtest mining address, so many nodes can run at once and none
// reads or writes ~/.btcd (btcd only creates that directory, empty, on
// start: it finds it through the passwd database, not $HOME).
// btcd's stdout and stderr go to a file whose tail is put into every failure
// message.
package btcdtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// DefaultStartTimeout is how long Start and Restart wait for btcd's RPC
	// server to answer when Options.StartTimeout is zero.
	DefaultStartTimeout = 30 * time.Second

	// StopTimeout is how long Stop waits after SIGINT before it kills btcd.
	StopTimeout = 15 * time.Second

	// rpcTimeout bounds every single btcctl call.
	rpcTimeout = 30 * time.Second

	// logTailLines is how many lines of btcd's output failure messages show.
	logTailLines = 40

	// installHint tells how to get the binaries.
	installHint = "run `make test` or scripts/install-tools.sh to install them " +
		"into <repo>/.tools/bin, or set BTCD and BTCCTL to their paths"
)

// Binaries returns the paths of btcd and btcctl: from the environment
// variables BTCD and BTCCTL if set, else <module root>/.tools/bin/btcd and
// btcctl, where the module root is the nearest folder at or above the working
// directory that holds go.mod. If a binary is missing it calls t.Fatalf when
// the environment variable CI is "true" and t.Skipf otherwise, in both cases
// with a message saying how to install them.
func Binaries(t testing.TB) (btcd, btcctl string) {
	t.Helper()
	btcd, btcctl = os.Getenv("BTCD"), os.Getenv("BTCCTL")
	if btcd == "" || btcctl == "" {
		root, err := moduleRoot()
		if err != nil {
			missing(t, "cannot locate the btcd binaries: %v; %s", err, installHint)
		}
		bin := filepath.Join(root, ".tools", "bin")
		if btcd == "" {
			btcd = filepath.Join(bin, "btcd")
		}
		if btcctl == "" {
			btcctl = filepath.Join(bin, "btcctl")
		}
	}
	for _, p := range []string{btcd, btcctl} {
		fi, err := os.Stat(p)
		if err != nil {
			missing(t, "btcd integration test needs %s: %v; %s", p, err, installHint)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing(t, "btcd integration test needs %s, which is not an executable file; %s", p, installHint)
		}
	}
	return btcd, btcctl
}

// missing fails the test on CI and skips it elsewhere.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// moduleRoot walks up from the working directory to the folder with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found at or above the working directory")
		}
		dir = parent
	}
}

// Options configures Start.
type Options struct {
	// Args are extra btcd command-line arguments, such as
	// "--connect=127.0.0.1:18444", "--addpeer=...", "--debuglevel=debug" or
	// "--v2transport". They are appended after the package's own arguments.
	Args []string

	// StartTimeout bounds how long Start and Restart wait for btcd's RPC
	// server to answer. Zero means DefaultStartTimeout.
	StartTimeout time.Duration
}

// PeerInfo is one entry of btcd's getpeerinfo answer; the JSON tags are
// btcd's keys.
type PeerInfo struct {
	ID             int32   `json:"id"`                      // btcd's peer id, counting from 1
	Addr           string  `json:"addr"`                    // remote address, "127.0.0.1:port"
	AddrLocal      string  `json:"addrlocal,omitempty"`     // btcd's end of the connection
	Services       string  `json:"services"`                // service bits as 8 hex digits, e.g. "00001101"
	RelayTxes      bool    `json:"relaytxes"`               // the relay flag of the peer's version message
	LastSend       int64   `json:"lastsend"`                // Unix time of the last message sent
	LastRecv       int64   `json:"lastrecv"`                // Unix time of the last message received
	BytesSent      uint64  `json:"bytessent"`               // bytes sent to the peer
	BytesRecv      uint64  `json:"bytesrecv"`               // bytes received from the peer
	ConnTime       int64   `json:"conntime"`                // Unix time the connection was made
	TimeOffset     int64   `json:"timeoffset"`              // peer clock minus btcd's, in seconds
	PingTime       float64 `json:"pingtime"`                // last ping round trip, in microseconds
	PingWait       float64 `json:"pingwait,omitempty"`      // time an unanswered ping has waited, in microseconds
	Version        uint32  `json:"version"`                 // protocol version the peer announced
	SubVer         string  `json:"subver"`                  // user agent, e.g. "/btcwire:0.5.0/btcd:0.26.2/"
	Inbound        bool    `json:"inbound"`                 // whether the peer connected to btcd
	StartingHeight int32   `json:"startingheight"`          // height in the peer's version message
	CurrentHeight  int32   `json:"currentheight,omitempty"` // btcd's latest estimate of the peer's height
	BanScore       int32   `json:"banscore"`                // btcd's misbehaviour score for the peer
	FeeFilter      int64   `json:"feefilter"`               // the peer's feefilter, in satoshis per kB
	SyncNode       bool    `json:"syncnode"`                // whether btcd syncs its chain from this peer
	V2Connection   bool    `json:"v2_connection"`           // whether the connection uses BIP324 v2 transport
}

// Node is a btcd process running on regtest on loopback. Its methods are
// safe for concurrent use.
type Node struct {
	btcd, btcctl string
	dir          string // root of this node's temporary files
	logPath      string // btcd's captured stdout and stderr
	p2pAddr      string
	rpcAddr      string
	rpcUser      string
	rpcPass      string
	miningAddr   string
	opts         Options

	mu   sync.Mutex
	proc *process // nil while stopped
}

// process is one run of btcd.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start launches btcd --regtest listening on free loopback ports, with a
// temporary data and log directory, a --notls RPC server with random
// credentials and a random regtest --miningaddr, and waits until its RPC
// server answers. The node is stopped when the test ends.
func Start(t testing.TB, opts Options) *Node {
	t.Helper()
	btcd, btcctl := Binaries(t)
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	n := &Node{
		btcd:       btcd,
		btcctl:     btcctl,
		dir:        t.TempDir(),
		rpcUser:    "u" + randomHex(t, 8),
		rpcPass:    randomHex(t, 16),
		miningAddr: base58CheckEncode(randomBytes(t, 20), regtestP2PKHVersion),
		opts:       opts,
	}
	n.logPath = filepath.Join(n.dir, "btcd.out")
	for _, d := range []string{"data", "logs"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o700); err != nil {
			t.Fatalf("btcdtest: %v", err)
		}
	}
	// Empty config files keep the user's ~/.btcd/btcd.conf and
	// ~/.btcctl/btcctl.conf out of the picture.
	for _, f := range []string{"btcd.conf", "btcctl.conf"} {
		if err := os.WriteFile(filepath.Join(n.dir, f), nil, 0o600); err != nil {
			t.Fatalf("btcdtest: %v", err)
		}
	}
	t.Cleanup(func() { n.Stop(t) })

	// Free ports are found by listening on :0 and closing, so another
	// process can take one before btcd binds it; retry with new ports then.
	const attempts = 3
	for i := 1; ; i++ {
		n.p2pAddr, n.rpcAddr = freeAddr(t), freeAddr(t)
		err := n.launch(t)
		if err == nil {
			return n
		}
		if i < attempts && strings.Contains(n.LogTail(logTailLines), "address already in use") {
			t.Logf("btcdtest: port taken, retrying: %v", err)
			continue
		}
		t.Fatalf("btcdtest: starting btcd: %v\n--- btcd output (last %d lines, %s) ---\n%s",
			err, logTailLines, n.logPath, n.LogTail(logTailLines))
	}
}

// args returns btcd's command line.
func (n *Node) args() []string {
	args := []string{
		"--regtest",
		"--configfile=" + filepath.Join(n.dir, "btcd.conf"),
		"--datadir=" + filepath.Join(n.dir, "data"),
		"--logdir=" + filepath.Join(n.dir, "logs"),
		"--listen=" + n.p2pAddr,
		"--rpclisten=" + n.rpcAddr,
		"--rpcuser=" + n.rpcUser,
		"--rpcpass=" + n.rpcPass,
		"--notls",
		"--nodnsseed",
		"--nostalldetect",
		"--miningaddr=" + n.miningAddr,
	}
	return append(args, n.opts.Args...)
}

// launch starts btcd and waits for its RPC server. On error btcd is not
// running.
func (n *Node) launch(t testing.TB) error {
	t.Helper()
	logFile, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child keeps its own descriptor
	args := n.args()
	fmt.Fprintf(logFile, "=== btcdtest %s: %s %s\n", time.Now().Format(time.RFC3339Nano), n.btcd, strings.Join(args, " "))

	cmd := exec.Command(n.btcd, args...)
	cmd.Dir = n.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	p := &process{cmd: cmd, done: make(chan struct{})}

	started := make(chan error, 1)
	go func() {
		// A parent-death signal fires when the thread that forked the
		// child exits; keep that thread busy with this goroutine alone
		// for btcd's whole life.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return err
	}

	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()

	start := time.Now()
	if err := n.waitReady(p, n.opts.StartTimeout); err != nil {
		n.kill(p)
		n.mu.Lock()
		if n.proc == p {
			n.proc = nil
		}
		n.mu.Unlock()
		return err
	}
	t.Logf("btcdtest: btcd up in %v (p2p %s, rpc %s, dir %s)",
		time.Since(start).Round(time.Millisecond), n.p2pAddr, n.rpcAddr, n.dir)
	return nil
}

// waitReady polls getblockcount until it answers, btcd exits or timeout.
func (n *Node) waitReady(p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		if p.exited() {
			return fmt.Errorf("btcd exited before its RPC server answered: %v", p.waitErr)
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, err := n.ctl(ctx, "getblockcount")
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("btcd RPC did not answer within %v: %v", timeout, lastErr)
		}
		select {
		case <-p.done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ctl runs btcctl against this node and returns its trimmed stdout.
func (n *Node) ctl(ctx context.Context, args ...string) (string, error) {
	return n.ctlStdin(ctx, "", args...)
}

// ctlStdin is ctl with stdin as btcctl's standard input, which btcctl reads
// a line at a time for each "-" argument. That keeps long parameters such as
// raw blocks off the command line, whose arguments Linux caps at 128 KiB.
func (n *Node) ctlStdin(ctx context.Context, stdin string, args ...string) (string, error) {
	full := append([]string{
		"--configfile=" + filepath.Join(n.dir, "btcctl.conf"),
		"--regtest",
		"--notls",
		"--rpcserver=" + n.rpcAddr,
		"--rpcuser=" + n.rpcUser,
		"--rpcpass=" + n.rpcPass,
	}, args...)
	cmd := exec.CommandContext(ctx, n.btcctl, full...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String() + " " + stdout.String())
		return "", fmt.Errorf("btcctl %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// rpcStdin is RPC with standard input for btcctl's "-" arguments.
func (n *Node) rpcStdin(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	out, err := n.ctlStdin(ctx, stdin, args...)
	if err != nil {
		n.fatalf(t, "%v", err)
	}
	return out
}

// RPC runs btcctl with args (a command and its parameters, such as
// "getblockhash", "1") against the node and returns its trimmed output. It
// fails the test, with btcd's log tail, if btcctl fails.
func (n *Node) RPC(t testing.TB, args ...string) string {
	t.Helper()
	return n.rpcStdin(t, "", args...)
}

// fatalf fails the test with btcd's log tail appended.
func (n *Node) fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Fatalf("btcdtest: %s\n--- btcd output (last %d lines, %s) ---\n%s",
		fmt.Sprintf(format, args...), logTailLines, n.logPath, n.LogTail(logTailLines))
}

// P2PAddr returns the node's P2P listening address, "127.0.0.1:port".
func (n *Node) P2PAddr() string { return n.p2pAddr }

// RPCAddr returns the node's RPC listening address, "127.0.0.1:port".
func (n *Node) RPCAddr() string { return n.rpcAddr }

// RPCUser returns the RPC user name; the server does not use TLS.
func (n *Node) RPCUser() string { return n.rpcUser }

// RPCPass returns the RPC password.
func (n *Node) RPCPass() string { return n.rpcPass }

// MiningAddr returns the regtest P2PKH address that mined blocks pay to.
func (n *Node) MiningAddr() string { return n.miningAddr }

// Dir returns the node's temporary directory, holding data/, logs/ and
// btcd.out (btcd's captured output).
func (n *Node) Dir() string { return n.dir }

// LogPath returns the file that holds btcd's stdout and stderr, across
// restarts.
func (n *Node) LogPath() string { return n.logPath }

// Generate mines blocks blocks with btcctl generate and returns their hashes.
func (n *Node) Generate(t testing.TB, blocks int) []string {
	t.Helper()
	out := n.RPC(t, "generate", strconv.Itoa(blocks))
	var hashes []string
	if err := json.Unmarshal([]byte(out), &hashes); err != nil {
		n.fatalf(t, "parsing generate output %q: %v", out, err)
	}
	if len(hashes) != blocks {
		n.fatalf(t, "generate %d returned %d hashes", blocks, len(hashes))
	}
	return hashes
}

// BlockCount returns the height of the node's best chain.
func (n *Node) BlockCount(t testing.TB) int {
	t.Helper()
	out := n.RPC(t, "getblockcount")
	c, err := strconv.Atoi(out)
	if err != nil {
		n.fatalf(t, "parsing getblockcount output %q: %v", out, err)
	}
	return c
}

// BestBlockHash returns the hash of the tip of the node's best chain.
func (n *Node) BestBlockHash(t testing.TB) string {
	t.Helper()
	return n.RPC(t, "getbestblockhash")
}

// RawBlocks returns the hex of the node's best-chain blocks from height 1 to
// the tip, in order, for SubmitBlocks. Since btcd wipes its regtest chain on
// every start (see Restart), this is the way to carry a chain across one.
func (n *Node) RawBlocks(t testing.TB) []string {
	t.Helper()
	tip := n.BlockCount(t)
	raw := make([]string, 0, tip)
	for h := 1; h <= tip; h++ {
		hash := n.RPC(t, "getblockhash", strconv.Itoa(h))
		raw = append(raw, n.RPC(t, "getblock", hash, "0"))
	}
	return raw
}

// SubmitBlocks submits raw blocks, as hex, to the node in order with
// submitblock and fails the test if btcd rejects one.
func (n *Node) SubmitBlocks(t testing.TB, raw []string) {
	t.Helper()
	for i, b := range raw {
		if out := n.rpcStdin(t, b+"\n", "submitblock", "-"); out != "" {
			n.fatalf(t, "submitblock of block %d of %d: %s", i+1, len(raw), out)
		}
	}
}

// SubmitBlock submits one raw block, as hex, and returns btcd's answer:
// empty when it accepted the block, its reason otherwise.
func (n *Node) SubmitBlock(t testing.TB, raw string) string {
	t.Helper()
	return n.rpcStdin(t, raw+"\n", "submitblock", "-")
}

// Peers returns the node's connected peers as reported by getpeerinfo.
func (n *Node) Peers(t testing.TB) []PeerInfo {
	t.Helper()
	out := n.RPC(t, "getpeerinfo")
	var peers []PeerInfo
	if err := json.Unmarshal([]byte(out), &peers); err != nil {
		n.fatalf(t, "parsing getpeerinfo output %q: %v", out, err)
	}
	return peers
}

// WaitForPeers polls getpeerinfo until match accepts a peer and returns that
// peer; a nil match accepts any. It fails the test after timeout.
func (n *Node) WaitForPeers(t testing.TB, timeout time.Duration, match func(PeerInfo) bool) PeerInfo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []PeerInfo
	for {
		last = n.Peers(t)
		for _, p := range last {
			if match == nil || match(p) {
				return p
			}
		}
		if time.Now().After(deadline) {
			n.fatalf(t, "no matching peer within %v; peers: %+v", timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitForBlockCount polls getblockcount until it is at least height and
// returns it. It fails the test after timeout.
func (n *Node) WaitForBlockCount(t testing.TB, height int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c := n.BlockCount(t)
		if c >= height {
			return c
		}
		if time.Now().After(deadline) {
			n.fatalf(t, "block count still %d, want >= %d, after %v", c, height, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Running reports whether btcd is running.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil && !n.proc.exited()
}

// Pid is btcd's process id, or 0 while it is not running (benchmarks read
// its CPU time from /proc).
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.proc.exited() {
		return 0
	}
	return n.proc.cmd.Process.Pid
}

// Kill sends btcd SIGKILL and waits for it to exit, simulating a crash. It
// does nothing if btcd is not running. Connected peers see their TCP
// connections reset or closed.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p != nil {
		n.kill(p)
	}
}

// kill sends SIGKILL to p and waits for it to exit.
func (n *Node) kill(p *process) {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// Stop shuts btcd down gracefully with SIGINT and waits up to StopTimeout,
// then kills it. It does nothing if btcd is not running. An unclean exit is
// reported with t.Errorf.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p == nil {
		return
	}
	if p.exited() {
		t.Errorf("btcdtest: btcd had already exited: %v\n--- btcd output (last %d lines, %s) ---\n%s",
			p.waitErr, logTailLines, n.logPath, n.LogTail(logTailLines))
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		if p.waitErr != nil {
			t.Errorf("btcdtest: btcd exited uncleanly after SIGINT: %v\n--- btcd output (last %d lines, %s) ---\n%s",
				p.waitErr, logTailLines, n.logPath, n.LogTail(logTailLines))
		}
	case <-time.After(StopTimeout):
		n.kill(p)
		t.Errorf("btcdtest: btcd did not stop within %v of SIGINT; killed it\n--- btcd output (last %d lines, %s) ---\n%s",
			StopTimeout, logTailLines, n.logPath, n.LogTail(logTailLines))
	}
}

// Restart starts btcd again with the same ports, data directory, credentials
// and options, and waits until its RPC server answers. A running btcd is
// stopped gracefully first.
//
// btcd deletes its regtest block database on every start, so after Restart
// the chain is back at the genesis block (height 0) whether btcd was killed
// or stopped; its peers.json survives. Use RawBlocks before and SubmitBlocks
// after to bring a chain back.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.Stop(t)
	if err := n.launch(t); err != nil {
		n.fatalf(t, "restarting btcd: %v", err)
	}
}

// LogTail returns the last lines lines of btcd's captured stdout and stderr.
func (n *Node) LogTail(lines int) string {
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", n.logPath, err)
	}
	s := strings.TrimRight(string(b), "\n")
	if lines <= 0 || s == "" {
		return ""
	}
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("btcdtest: finding a free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	return addr
}

// randomBytes returns n random bytes.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	return b
}

// randomHex returns 2n random hex digits.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	return hex.EncodeToString(randomBytes(t, n))
}
