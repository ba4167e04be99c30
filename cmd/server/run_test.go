package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/web"
	"go.uber.org/goleak"
)

// TestRunLeavesNoGoroutines runs the whole program in-process against btcd,
// cancels it as SIGINT would, and checks that it returns promptly, removes
// its cookie and leaves no goroutine behind.
func TestRunLeavesNoGoroutines(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{})
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	root := t.TempDir()
	httpAddr, p2p := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, "server", []string{"-network=regtest", "-datadir=" + root, "-listen=" + p2p, "-http=" + httpAddr, "-connect=" + btcd.P2PAddr()}, &logs, &logs)
	}()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var peers []engine.PeerInfo
		if resp, err := client.Get("http://" + httpAddr + "/api/peers"); err == nil {
			json.NewDecoder(resp.Body).Decode(&peers)
			resp.Body.Close()
		}
		if len(peers) == 1 && peers[0].Established && strings.Contains(peers[0].UserAgent, "btcd") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no handshake with btcd; log:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := time.Now()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run returned %d; log:\n%s", code, logs.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("run did not return within 5 s of cancellation")
	}
	t.Logf("shut down in %s", time.Since(stopped).Round(time.Millisecond))
	if m, _ := filepath.Glob(filepath.Join(root, "regtest", ".cookie")); len(m) != 0 {
		t.Errorf("cookie left behind after shutdown")
	}
	if m, _ := filepath.Glob(filepath.Join(root, "regtest", "peers.json")); len(m) != 1 {
		t.Errorf("address book not saved at shutdown")
	}
}

// TestSignalsStopCleanly: SIGINT, SIGTERM and SIGHUP (the terminal closed)
// each run the node's shutdown, which logs that it stopped and removes
// the cookie, and it exits with status 0; without a handler, SIGHUP would
// kill it before it saves its address book.
func TestSignalsStopCleanly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			n := startNode(t)
			n.stopWith(sig)
			if !strings.Contains(n.log.String(), "msg=stopped") {
				t.Errorf("the node did not log that it stopped after %v:\n%s", sig, n.log.String())
			}
			if _, err := os.Stat(filepath.Join(n.dataDir, web.CookieFile)); err == nil {
				t.Errorf("the cookie is left after %v", sig)
			}
		})
	}
}
