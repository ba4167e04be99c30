package p2p_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/node/p2p"
)

func addedNode(t *testing.T, h *harness, addr string) p2p.AddedNode {
	t.Helper()
	for _, a := range h.c.Snapshot(h.Now()).AddedNodes {
		if a.Addr == addr {
			return a
		}
	}
	t.Fatalf("%s is not among the added nodes", addr)
	return p2p.AddedNode{}
}

// do runs fn on the node's core and carries out its actions.
func do(h *harness, fn func(c *p2p.Core) error) error {
	var err error
	h.N.Do(func(c *p2p.Core) { err = fn(c) })
	return err
}

func warnings(h *harness, msg string) int {
	n := 0
	for _, l := range h.N.Logs {
		if l.Level == slog.LevelWarn && l.Msg == msg {
			n++
		}
	}
	return n
}

// An added node nobody answers at is shown with its state, last error and
// next attempt, and each failed attempt is logged once at WARN.
func TestAddedNodeUnreachableIsShown(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) {
		c.BackoffMin = time.Second
		c.BackoffMax = time.Minute
	})
	h.S.Latency = 100 * time.Millisecond
	const addr = "127.0.0.1:19999"
	if err := do(h, func(c *p2p.Core) error { return c.Connect(h.Now(), addr) }); err != nil {
		t.Fatal(err)
	}
	if a := addedNode(t, h, addr); a.State != "connecting" || a.Source != p2p.SourceOperator || a.Attempts != 1 || !a.AddedAt.Equal(h.Now()) {
		t.Fatalf("while dialling: %+v", a)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		h.Advance(100 * time.Millisecond) // the dial fails
		a := addedNode(t, h, addr)
		delay := time.Second << (attempt - 1)
		if a.State != "waiting" || a.Attempts != attempt || a.Failures != attempt ||
			!strings.Contains(a.LastError, "connection refused") || !a.NextAttempt.Equal(h.Now().Add(delay)) {
			t.Fatalf("after failed attempt %d: %+v, want waiting %v", attempt, a, delay)
		}
		if n := warnings(h, "added node unreachable"); n != attempt {
			t.Fatalf("after %d failed attempts, %d WARN logs", attempt, n)
		}
		h.Advance(delay)
		h.Tick() // redials
	}
}

// A removed added node is not dialled again, and removing an unknown one
// says so.
func TestRemoveAddedNode(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) {
		c.AddNode = []string{"127.0.0.1:1"}
		c.BackoffMin = time.Second
	})
	h.Tick()
	if a := addedNode(t, h, "127.0.0.1:1"); a.Source != p2p.SourceAddNode || a.State != "waiting" {
		t.Fatalf("added node = %+v", a)
	}
	dials := len(h.N.Dials)
	if err := do(h, func(c *p2p.Core) error { return c.RemoveAddedNode(h.Now(), "127.0.0.1:1") }); err != nil {
		t.Fatal(err)
	}
	if l := h.c.Snapshot(h.Now()).AddedNodes; len(l) != 0 {
		t.Fatalf("added nodes after removal: %+v", l)
	}
	h.Advance(time.Hour)
	h.Tick()
	if len(h.N.Dials) != dials {
		t.Errorf("a removed node was dialled again: %v", h.N.Dials[dials:])
	}
	last := h.N.Events[len(h.N.Events)-1]
	if last.Kind != p2p.EventRemoved || !strings.Contains(last.Text, "127.0.0.1:1") {
		t.Errorf("last event = %+v", last)
	}
	if err := h.c.RemoveAddedNode(h.Now(), "127.0.0.1:1"); !errors.Is(err, p2p.ErrNoSuchAddedNode) {
		t.Errorf("removing it again: %v", err)
	}
}

// An added node that connects shows as connected with its peer; removing
// it leaves the connection up (Core's "addnode remove") but it is not
// re-established once it ends.
func TestAddedNodeConnected(t *testing.T) {
	h := newHarness(t)
	const addr = "203.0.113.10:40000"
	if err := do(h, func(c *p2p.Core) error { return c.Connect(h.Now(), addr) }); err != nil {
		t.Fatal(err)
	}
	r, adm := h.N.ConnectRemoteAt(netip.MustParseAddrPort(addr), p2p.ConnInfo{Target: addr, Manual: true})
	if adm.Refused {
		t.Fatal(adm.Reason.Text)
	}
	if a := addedNode(t, h, addr); a.State != "connecting" || a.Peer != r.ID {
		t.Fatalf("before the handshake: %+v", a)
	}
	h.Handshake(r, 0)
	if a := addedNode(t, h, addr); a.State != "connected" || a.Peer != r.ID || a.Failures != 0 || !a.ConnectedAt.Equal(h.Now()) {
		t.Fatalf("after the handshake: %+v", a)
	}
	if err := do(h, func(c *p2p.Core) error { return c.RemoveAddedNode(h.Now(), addr) }); err != nil {
		t.Fatal(err)
	}
	if !r.Alive() {
		t.Fatal("removing an added node dropped its connection")
	}
	dials := len(h.N.Dials)
	h.N.Do(func(c *p2p.Core) { c.Drop(r.ID, p2p.Because(p2p.DropOperator, "test")) })
	h.Advance(time.Hour)
	h.Tick()
	for _, d := range h.N.Dials[dials:] {
		if d == addr {
			t.Fatal("a removed added node was redialled after its connection ended")
		}
	}
}

func TestAddedNodesBounded(t *testing.T) {
	h := newHarness(t)
	for i := range p2p.MaxAddedNodes {
		if err := h.c.Connect(h.Now(), fmt.Sprintf("203.0.113.%d:8333", i+1)); err != nil {
			t.Fatalf("target %d: %v", i, err)
		}
	}
	if err := h.c.Connect(h.Now(), "198.51.100.1:8333"); !errors.Is(err, p2p.ErrTooManyAddedNodes) {
		t.Fatalf("target past the bound: %v", err)
	}
	// Asking again for one already there only hurries its next attempt.
	if err := h.c.Connect(h.Now(), "203.0.113.1:8333"); err != nil {
		t.Fatalf("repeated target: %v", err)
	}
	if n := len(h.c.Snapshot(h.Now()).AddedNodes); n != p2p.MaxAddedNodes {
		t.Fatalf("%d added nodes", n)
	}
}
