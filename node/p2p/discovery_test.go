package p2p_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// An offline start: the DNS seeds fail, are asked again with a doubling
// delay, and a minute without any outbound peer brings in Core's fixed
// seeds, which the node then dials.
func TestOfflineStartRetriesSeedsThenUsesFixedSeeds(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.Network = protocol.Mainnet })
	queries := 0
	h.N.Seeds = func([]string, uint16) ([]netip.AddrPort, []string) {
		queries++
		return nil, []string{"seed.example: no such host"}
	}
	start := h.Now()
	h.N.Start()
	h.S.Settle() // the seeds answer
	if queries != 1 {
		t.Fatalf("%d queries at start", queries)
	}
	if got := h.c.DiscoveryText(); !strings.Contains(got, "DNS seeds failed") || !strings.Contains(got, "asking again in 15s") {
		t.Errorf("after the first failure: %q", got)
	}
	for _, step := range []struct {
		wait    time.Duration
		queries int
	}{{14 * time.Second, 1}, {time.Second, 2}, {29 * time.Second, 2}, {time.Second, 3}} {
		h.Advance(step.wait)
		h.Tick()
		if queries != step.queries {
			t.Fatalf("%s after start: %d queries, want %d", h.Now().Sub(start), queries, step.queries)
		}
	}
	if n, tried := h.c.Addrs().Counts(); n+tried != 0 || len(h.N.Dials) != 0 {
		t.Fatalf("before the fixed seeds: %d addresses, dials %v", n+tried, h.N.Dials)
	}
	h.Advance(start.Add(time.Minute).Sub(h.Now()))
	h.Tick()
	n, _ := h.c.Addrs().Counts()
	if n < len(protocol.FixedSeeds(protocol.Mainnet))/2 {
		t.Fatalf("after a minute without peers the book has %d addresses, want most of the %d fixed seeds", n, len(protocol.FixedSeeds(protocol.Mainnet)))
	}
	fixed := map[string]bool{}
	for _, s := range protocol.FixedSeeds(protocol.Mainnet) {
		fixed[s.String()] = true
	}
	if len(h.N.Dials) == 0 {
		t.Fatal("no fixed seed dialled")
	}
	for _, d := range h.N.Dials {
		if !fixed[d] {
			t.Errorf("dialled %s, not a fixed seed", d)
		}
	}
	var ev *p2p.Event
	for i := range h.N.Events {
		if h.N.Events[i].Kind == p2p.EventDiscovery && strings.Contains(h.N.Events[i].Text, "fixed seed") {
			ev = &h.N.Events[i]
		}
	}
	if ev == nil {
		t.Error("no event says the fixed seeds were added")
	}
	if got := h.c.DiscoveryText(); !strings.Contains(got, "fixed seed addresses added") {
		t.Errorf("discovery after the fixed seeds: %q", got)
	}
	// Added once only.
	before, _ := h.c.Addrs().Counts()
	h.Advance(time.Hour)
	h.Tick()
	if after, _ := h.c.Addrs().Counts(); after > before {
		t.Errorf("fixed seeds added again: %d -> %d addresses", before, after)
	}
}

// With two outbound peers up, a due re-query is skipped; -connect never
// asks the seeds nor adds fixed seeds.
func TestSeedsNotAskedWhenNotNeeded(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.Network = protocol.Mainnet })
	queries := 0
	h.N.Seeds = func([]string, uint16) ([]netip.AddrPort, []string) { queries++; return nil, nil }
	h.N.Start()
	h.S.Settle()
	h.Established(false)
	h.Established(false)
	// Past the next query's time and the fixed seeds' minute, well
	// within the ping timeout that would drop the silent peers.
	h.Advance(61 * time.Second)
	h.Tick()
	if queries != 1 {
		t.Errorf("%d queries with two outbound peers up, want the first only", queries)
	}
	if n, _ := h.c.Addrs().Counts(); n != 0 {
		t.Errorf("fixed seeds added with outbound peers up: %d addresses", n)
	}

	hc := newHarness(t, func(c *p2p.Config) { c.Network = protocol.Mainnet; c.Connect = []string{"127.0.0.1:1"} })
	queries = 0
	hc.N.Seeds = func([]string, uint16) ([]netip.AddrPort, []string) { queries++; return nil, nil }
	hc.N.Start()
	hc.Advance(time.Hour)
	hc.Tick()
	if n, _ := hc.c.Addrs().Counts(); queries != 0 || n != 0 {
		t.Errorf("-connect: %d queries, %d addresses", queries, n)
	}
}
