package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
)

// btcdMainnet is a btcd on mainnet, connected only to one peer on
// loopback: internal/btcdtest runs btcd on regtest only (it hard-codes
// --regtest and its btcctl calls), and BenchmarkMainnetIBDFromOurNode
// needs btcd to sync real mainnet blocks from our node.
type btcdMainnet struct {
	cmd     *exec.Cmd
	done    chan struct{}
	started time.Time
	rpc     string
	user    string
	pass    string
	logPath string
}

// startBtcdMainnet starts btcd --connect=peer on mainnet with a temporary
// data folder, empty config file, free loopback ports and no DNS seeds,
// and waits until its RPC server answers. It is stopped when b ends.
// btcd keeps its defaults otherwise (checkpoints, the committed filter
// index): it is compared as users run it.
func startBtcdMainnet(b *testing.B, peer string) *btcdMainnet {
	b.Helper()
	bin, _ := btcdtest.Binaries(b)
	dir := b.TempDir()
	conf := filepath.Join(dir, "btcd.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	n := &btcdMainnet{rpc: freePort(b), user: "bench", pass: "bench", logPath: filepath.Join(dir, "btcd.out"), done: make(chan struct{})}
	logFile, err := os.Create(n.logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	// No --nostalldetect: btcd refuses it on mainnet.
	n.cmd = exec.Command(bin,
		"--configfile="+conf,
		"--datadir="+filepath.Join(dir, "data"),
		"--logdir="+filepath.Join(dir, "logs"),
		"--listen="+freePort(b),
		"--rpclisten="+n.rpc,
		"--rpcuser="+n.user,
		"--rpcpass="+n.pass,
		"--notls",
		"--nodnsseed",
		"--connect="+peer,
	)
	n.cmd.Dir = dir
	n.cmd.Stdout, n.cmd.Stderr = logFile, logFile
	n.started = time.Now()
	if err := n.cmd.Start(); err != nil {
		b.Fatalf("starting btcd: %v", err)
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	b.Cleanup(func() {
		n.stop(b)
		if b.Failed() {
			out, _ := os.ReadFile(n.logPath)
			b.Logf("btcd output:\n%s", out)
		}
	})
	waitUntil(b, n.done, 30*time.Second, "btcd's RPC server", func() bool {
		_, err := n.blockCount()
		return err == nil
	})
	return n
}

// blockCount asks btcd's JSON-RPC for getblockcount, over HTTP from here:
// a btcctl process per poll would take CPU from btcd on a small machine.
func (n *btcdMainnet) blockCount() (int32, error) {
	body := []byte(`{"jsonrpc":"1.0","id":1,"method":"getblockcount","params":[]}`)
	req, err := http.NewRequest(http.MethodPost, "http://"+n.rpc, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(n.user, n.pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Result int32
		Error  *struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("getblockcount: status %s: %w", resp.Status, err)
	}
	if out.Error != nil {
		return 0, fmt.Errorf("getblockcount: %s", out.Error.Message)
	}
	return out.Result, nil
}

// waitForHeight polls btcd until it reaches height, or its height has
// not moved for stall (btcd waiting for blocks that will not come), or
// timeout. It returns the height reached, the time from btcd's start to
// the last height change, and whether height was reached.
func (n *btcdMainnet) waitForHeight(b *testing.B, height int32, stall, timeout time.Duration) (int32, time.Duration, bool) {
	b.Helper()
	var last int32 = -1
	var lastChange time.Duration
	for {
		select {
		case <-n.done:
			b.Fatalf("btcd exited while syncing, at height %d", last)
		default:
		}
		h, err := n.blockCount()
		if err != nil {
			b.Fatal(err)
		}
		now := time.Since(n.started)
		if h != last {
			last, lastChange = h, now
		}
		if h >= height {
			return h, now, true
		}
		if now-lastChange > stall || now > timeout {
			return last, lastChange, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop interrupts btcd and waits for it, killing it after 15 s.
func (n *btcdMainnet) stop(b *testing.B) {
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
		b.Errorf("btcd did not exit within 15 s of SIGINT")
	}
}
