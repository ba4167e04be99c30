package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
)

// demoStopLimit is how long the demo may take to stop after SIGTERM: its
// nodes promise 5 s each, stopped together, and btcd a few; an unbounded
// wait would hide the script looping on after its trap.
const demoStopLimit = 30 * time.Second

// freePortNumber returns a free loopback port's number.
func freePortNumber(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(freePort(t))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestDemoScript runs scripts/demo.sh itself on free ports with a short
// mining interval, waits for both dashboards and for node B to follow the
// mined blocks, stops it and checks that it exits promptly, that none of
// its processes survives, and that its folder keeps the chains, the
// captures and the logs, and that btcd and both nodes logged their clean
// shutdown. It does so three times on the same folder, each run carrying
// on from the last, stopping it each way: SIGTERM to the script, and, to
// its whole process group as a terminal sends them, Ctrl-C (SIGINT) and
// SIGHUP (the terminal closed). Each signal lands while the script waits
// for btcctl to mine a block, a command whose output goes to /dev/null:
// the script must still say that it stopped.
func TestDemoScript(t *testing.T) {
	defaultHangup(t)
	btcd, realBtcctl := btcdtest.Binaries(t)
	dir := filepath.Join(t.TempDir(), "demo")
	btcctl, mining := slowMiningBtcctl(t, realBtcctl)
	ports := map[string]string{}
	for _, v := range []string{"DEMO_BTCD_PORT", "DEMO_BTCD_RPC_PORT", "DEMO_A_PORT", "DEMO_B_PORT", "DEMO_A_HTTP_PORT", "DEMO_B_HTTP_PORT"} {
		ports[v] = freePortNumber(t)
	}
	env := append(os.Environ(), "DEMO_DIR="+dir, "SERVER="+serverBin, "BTCD="+btcd, "BTCCTL="+btcctl, "DEMO_MINE_INTERVAL=0.2", "FRESH=")
	for k, v := range ports {
		env = append(env, k+"="+v)
	}
	a := &nodeProc{t: t, http: "127.0.0.1:" + ports["DEMO_A_HTTP_PORT"]}
	b := &nodeProc{t: t, http: "127.0.0.1:" + ports["DEMO_B_HTTP_PORT"]}

	var height int32
	stops := []struct {
		sig   syscall.Signal
		group bool
	}{{syscall.SIGTERM, false}, {syscall.SIGINT, true}, {syscall.SIGHUP, true}}
	for i, stop := range stops {
		round := i + 1
		out := runDemo(t, env, stop.sig, stop.group, func(done <-chan struct{}) {
			waitUntil(t, done, 60*time.Second, "both dashboards to answer", func() bool {
				var sa, sb engine.Status
				return a.tryGet("/api/status", &sa) == nil && b.tryGet("/api/status", &sb) == nil
			})
			// B follows btcd's mining, beyond what an earlier run left.
			waitUntil(t, done, 60*time.Second, "node B to follow the mined blocks", func() bool {
				var s engine.Status
				return b.tryGet("/api/status", &s) == nil && s.Height > max(height, 101)+2
			})
			var s engine.Status
			b.get("/api/status", &s)
			height = s.Height
			// The marker goes when btcctl ends; a fresh one means the
			// script is inside "ctl generate 1 >/dev/null" for 0.5 s.
			os.Remove(mining)
			waitUntil(t, done, 30*time.Second, "the script to mine a block", func() bool {
				_, err := os.Stat(mining)
				return err == nil
			})
		})
		if !strings.Contains(out, "demo: data and logs in "+dir) || !strings.Contains(out, "demo: stopped; data and logs are in "+dir) {
			t.Errorf("run %d: the script did not say where its folder is at start and at exit:\n%s", round, out)
		}
		for _, f := range []string{"btcd.log", "a.log", "b.log", "a/regtest/headers.dat", "b/regtest/headers.dat", "a/regtest/message_capture"} {
			info, err := os.Stat(filepath.Join(dir, f))
			if err != nil || !info.IsDir() && info.Size() == 0 {
				t.Errorf("run %d: %s is missing or empty after the demo stopped: %v", round, f, err)
			}
		}
		if log, _ := os.ReadFile(filepath.Join(dir, "a.log")); strings.Count(string(log), "=== demo started") != round {
			t.Errorf("run %d: a.log does not keep the earlier runs' logs:\n%s", round, log)
		}
		// One clean shutdown per run: a child killed by the signal
		// (SIGHUP without a handler) logs none.
		for f, stopped := range map[string]string{"btcd.log": "Shutdown complete", "a.log": "msg=stopped", "b.log": "msg=stopped"} {
			if log, _ := os.ReadFile(filepath.Join(dir, f)); strings.Count(string(log), stopped) != round {
				t.Errorf("run %d: %s records %d clean shutdowns (%q), want %d:\n%s", round, f, strings.Count(string(log), stopped), stopped, round, log)
			}
		}
	}
}

// defaultHangup makes this process handle SIGHUP for the rest of t, so the
// demo's processes start with SIGHUP's default action whatever this one
// started with: under nohup it is ignored, a child inherits that, and a
// shell cannot trap a signal that was ignored when it started. The script
// then never saw the hangup while its nodes stopped on it, and it reported
// "node A exited" with status 1 instead of 129.
func defaultHangup(t *testing.T) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	t.Cleanup(func() { signal.Stop(c) })
}

// logDemoTails logs the end of each node's log in the demo's folder: the
// folder goes with the test, and "node A exited" says nothing of why.
func logDemoTails(t *testing.T, env []string) {
	var dir string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "DEMO_DIR="); ok {
			dir = v
		}
	}
	for _, f := range []string{"a.log", "b.log"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Logf("%s: %v", f, err)
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		t.Logf("the last lines of %s:\n%s", f, strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}

// slowMiningBtcctl writes a btcctl wrapper that, for "generate", creates
// the file mining, waits 0.5 s, runs the real btcctl and removes the file,
// so a test can signal the demo while it waits for a mined block. It
// returns the wrapper's path and the file's.
func slowMiningBtcctl(t *testing.T, real string) (wrapper, mining string) {
	t.Helper()
	dir := t.TempDir()
	wrapper, mining = filepath.Join(dir, "btcctl"), filepath.Join(dir, "mining")
	script := fmt.Sprintf(`#!/bin/sh
case " $* " in
*" generate "*) touch %[1]q; sleep 0.5; %[2]q "$@"; rc=$?; rm -f %[1]q; exit $rc ;;
esac
exec %[2]q "$@"
`, mining, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, mining
}

// startDemo starts the demo script with env in a process group of its
// own; done is closed when it exits. The caller defers end, which kills the
// whole group whatever happened (nothing of one run outlives it) and, in a
// failed test, logs the script's output and the end of each node's log.
func startDemo(t *testing.T, env []string) (cmd *exec.Cmd, out *syncBuffer, done <-chan struct{}, end func()) {
	t.Helper()
	cmd = exec.Command("../../scripts/demo.sh")
	cmd.Env = env
	out = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the demo: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	end = func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("demo output:\n%s", out.String())
			logDemoTails(t, env)
		}
	}
	return cmd, out, exited, end
}

// runDemo runs the demo script in a process group of its own, calls check
// while it runs (done is closed if the script exits), sends sig to the
// script (to its whole group if group), and checks that it exits within
// demoStopLimit with the status a shell gives that signal (128+sig) and
// leaves no process of its group behind. It returns the script's output.
func runDemo(t *testing.T, env []string, sig syscall.Signal, group bool, check func(done <-chan struct{})) string {
	t.Helper()
	cmd, out, done, end := startDemo(t, env)
	defer end()
	pgid := cmd.Process.Pid
	check(done)

	target := pgid
	if group {
		target = -pgid
	}
	if err := syscall.Kill(target, sig); err != nil {
		t.Fatalf("signalling the demo: %v", err)
	}
	select {
	case <-done:
	case <-time.After(demoStopLimit):
		t.Fatalf("the demo did not exit within %s of %v", demoStopLimit, sig)
	}
	if code := cmd.ProcessState.ExitCode(); code != 128+int(sig) {
		t.Errorf("the demo exited with status %d after %v, want %d", code, sig, 128+int(sig))
	}
	// A signal to the whole group also ends the script's grandchildren
	// (btcctl's wrapper and its sleep); one orphaned that way may still be
	// on its way out for a moment after the script exits.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of the demo survive it by 2 s (signalling its group: %v)", err)
			break
		}
	}
	return out.String()
}

// TestDemoFolderGuard: the demo refuses a non-empty folder it did not
// make, without marking it, so a later FRESH=1 cannot delete it either; it
// marks a folder it finds empty, which FRESH=1 may then delete. Stand-ins
// for the binaries end the script early: /bin/true as btcd and the nodes,
// /bin/false as btcctl, which never answers.
func TestDemoFolderGuard(t *testing.T) {
	demo := func(dir, fresh string) (string, error) {
		cmd := exec.Command("../../scripts/demo.sh")
		cmd.Env = append(os.Environ(), "DEMO_DIR="+dir, "FRESH="+fresh, "SERVER=/bin/true", "BTCD=/bin/true", "BTCCTL=/bin/false")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	root := t.TempDir()
	theirs := filepath.Join(root, "theirs")
	if err := os.MkdirAll(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(theirs, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, fresh := range []string{"", "1"} {
		out, err := demo(theirs, fresh)
		if err == nil || !strings.Contains(out, "refusing to use "+theirs) {
			t.Errorf("FRESH=%q on a folder the demo did not make: %v, want a refusal:\n%s", fresh, err, out)
		}
		if _, err := os.Stat(filepath.Join(theirs, ".watchnode-demo")); err == nil {
			t.Errorf("FRESH=%q: the demo marked a folder it did not make", fresh)
		}
		if got, err := os.ReadFile(keep); err != nil || string(got) != "mine" {
			t.Fatalf("FRESH=%q: the folder's file is gone or changed: %q, %v", fresh, got, err)
		}
	}

	empty := filepath.Join(root, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, _ := demo(empty, ""); !strings.Contains(out, "demo: data and logs in "+empty) {
		t.Fatalf("the demo did not take an empty folder:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(empty, ".watchnode-demo")); err != nil {
		t.Fatalf("the demo did not mark the empty folder it took: %v", err)
	}
	stale := filepath.Join(empty, "stale")
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := demo(empty, "1"); !strings.Contains(out, "demo: data and logs in "+empty) {
		t.Fatalf("FRESH=1 refused the demo's own folder:\n%s", out)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("FRESH=1 did not start the demo's own folder afresh")
	}
}

// TestDemoNamesANodeThatStops: a node that stops on its own (here node A
// alone, sent SIGTERM) stops the demo with status 1 and names the node.
func TestDemoNamesANodeThatStops(t *testing.T) {
	btcd, btcctl := btcdtest.Binaries(t)
	dir := filepath.Join(t.TempDir(), "demo")
	env := append(os.Environ(), "DEMO_DIR="+dir, "SERVER="+serverBin, "BTCD="+btcd, "BTCCTL="+btcctl, "DEMO_MINE_INTERVAL=0.2", "FRESH=")
	ports := map[string]string{}
	for _, v := range []string{"DEMO_BTCD_PORT", "DEMO_BTCD_RPC_PORT", "DEMO_A_PORT", "DEMO_B_PORT", "DEMO_A_HTTP_PORT", "DEMO_B_HTTP_PORT"} {
		ports[v] = freePortNumber(t)
		env = append(env, v+"="+ports[v])
	}
	a := &nodeProc{t: t, http: "127.0.0.1:" + ports["DEMO_A_HTTP_PORT"]}
	cmd, out, done, end := startDemo(t, env)
	defer end()
	waitUntil(t, done, 60*time.Second, "node A's dashboard to answer", func() bool {
		var s engine.Status
		return a.tryGet("/api/status", &s) == nil
	})
	pid := processWithArg(t, "-datadir="+filepath.Join(dir, "a"))
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(demoStopLimit):
		t.Fatalf("the demo did not exit within %s of node A stopping", demoStopLimit)
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(out.String(), "demo: node A exited") {
		t.Errorf("the demo exited with status %d after node A stopped, want 1 and a line naming node A", code)
	}
}

// processWithArg is the pid of the one process whose command line has arg.
func processWithArg(t *testing.T, arg string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && slices.Contains(strings.Split(string(cmdline), "\x00"), arg) {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d processes with %q on their command line, want 1: %v", len(found), arg, found)
	}
	return found[0]
}
