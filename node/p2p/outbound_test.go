package p2p_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/node/addrman"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

func TestManualTargetBackoff(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) {
		c.Connect = []string{"127.0.0.1:1"}
		c.BackoffMin = time.Second
		c.BackoffMax = 4 * time.Second
	})
	if !strings.Contains(h.c.DiscoveryText(), "-connect") {
		t.Errorf("discovery = %q", h.c.DiscoveryText())
	}
	wantDelays := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, delay := range wantDelays {
		h.Tick() // dials; the sim finds nothing listening
		if len(h.N.Dials) != i+1 || h.N.Dials[i] != "127.0.0.1:1" {
			t.Fatalf("attempt %d: dials %v", i, h.N.Dials)
		}
		tg := h.c.Targets()[0]
		if tg.Failures != i+1 || !tg.NextAttempt.Equal(h.Now().Add(delay)) || !strings.Contains(tg.LastError, "connection refused") {
			t.Fatalf("after attempt %d: %+v, want next attempt in %v", i, tg, delay)
		}
		if h.c.Dialing() != 0 {
			t.Fatal("still marked as dialing")
		}
		h.Advance(delay - time.Millisecond)
		h.Tick()
		if len(h.N.Dials) != i+1 {
			t.Fatalf("redialled before the backoff ended: %d dials", len(h.N.Dials))
		}
		h.Advance(time.Millisecond)
	}
}

// The first dial goes out when the node starts, not at its first tick.
func TestFirstDialAtStart(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.Connect = []string{"127.0.0.1:1"} })
	h.N.Start()
	if len(h.N.Dials) != 1 || h.N.Dials[0] != "127.0.0.1:1" {
		t.Fatalf("Start dialled %v", h.N.Dials)
	}
}

func TestOutboundFromAddressBook(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.MaxOutbound = 3 })
	h.S.Latency = time.Second // dial results come back later
	var addrs []addrman.Address
	for _, s := range []string{"1.2.3.4:8333", "1.2.9.9:8333", "5.6.7.8:8333", "9.9.9.9:8333"} {
		addrs = append(addrs, addrman.Address{AddrPort: netip.MustParseAddrPort(s), Time: h.Now()})
	}
	h.c.Addrs().Add(addrs, netip.Addr{}, h.Now())
	h.c.AddBan(netip.MustParseAddr("9.9.9.9"), "test", false, h.Now(), time.Hour)

	// Two dials per tick at most.
	h.Tick()
	if len(h.N.Dials) != 2 || h.c.Dialing() != 2 {
		t.Fatalf("first tick dialled %v", h.N.Dials)
	}
	h.Tick()
	// One per /16, never the banned one: the third slot stays empty.
	dialled := slices.Clone(h.N.Dials)
	slices.Sort(dialled)
	groups := map[string]bool{}
	for _, a := range dialled {
		ap := netip.MustParseAddrPort(a)
		if ap.Addr() == netip.MustParseAddr("9.9.9.9") {
			t.Error("dialled a discouraged address")
		}
		g := addrman.NetGroup(ap.Addr())
		if groups[g] {
			t.Errorf("two outbound dials into %s: %v", g, dialled)
		}
		groups[g] = true
	}
	if len(dialled) != 2 {
		t.Errorf("dialled %v, want one address in each of 1.2/16 and 5.6/16", dialled)
	}
	h.Advance(time.Second)
	if h.c.Dialing() != 0 {
		t.Errorf("dialing after failures: %d", h.c.Dialing())
	}
}

func TestDNSSeeds(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.Network = protocol.Mainnet })
	var asked []string
	h.N.Seeds = func(hosts []string, port uint16) ([]netip.AddrPort, []string) {
		asked = hosts
		return []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("1.2.3.4"), port), netip.AddrPortFrom(netip.MustParseAddr("2a01:4f8::1"), port)},
			[]string{"seed.example: no such host"}
	}
	if got := h.c.DiscoveryText(); got != "address book loaded; DNS seeds not needed yet" {
		t.Errorf("before querying: %q", got)
	}
	h.S.Latency = time.Second
	h.N.Start()
	if got := h.c.DiscoveryText(); got != "querying DNS seeds" {
		t.Errorf("while querying: %q", got)
	}
	h.Advance(time.Second)
	if len(asked) != len(protocol.Mainnet.Params().DNSSeeds) {
		t.Errorf("asked %v", asked)
	}
	if n, _ := h.c.Addrs().Counts(); n != 2 || h.c.SeedAddrs() != 2 {
		t.Errorf("book has %d addresses, seeds gave %d; want 2", n, h.c.SeedAddrs())
	}
	if errs := h.c.SeedErrs(); len(errs) != 1 || errs[0] != "seed.example: no such host" {
		t.Errorf("seed errors %q", errs)
	}
	if got := h.c.DiscoveryText(); got != "2 addresses from DNS seeds, 0 from peers" {
		t.Errorf("after: %q", got)
	}
	// With addresses known, a restart does not query again.
	h2 := newHarness(t, func(c *p2p.Config) { c.Network = protocol.Mainnet; c.Addrs = h.c.Addrs() })
	h2.N.Start()
	if h2.c.Querying() {
		t.Error("queried seeds with a non-empty address book")
	}
}

func TestDiscoveryDescribeFailures(t *testing.T) {
	if got := p2p.DescribeDiscovery("seeds", time.Now(), []string{"seed.example: no such host"}, 0); !strings.Contains(got, "DNS seeds failed (seed.example: no such host)") {
		t.Errorf("%q", got)
	}
	if got := p2p.DescribeDiscovery("seeds", time.Now(), nil, 0); !strings.Contains(got, "DNS seeds returned nothing") {
		t.Errorf("%q", got)
	}
	if got := p2p.DescribeDiscovery("none", time.Time{}, nil, 0); !strings.Contains(got, "no DNS seeds") || !strings.Contains(got, "-connect") {
		t.Errorf("%q", got)
	}
	if got := p2p.DescribeDiscovery("none", time.Time{}, nil, 5); !strings.Contains(got, "5 addresses learned from peers") {
		t.Errorf("%q", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	for _, bad := range []p2p.Config{
		{Network: "nonet"},
		{MaxPeers: -1},
		{MaxPeers: 4, MaxOutbound: 8},
	} {
		if _, err := p2p.New(bad, time.Now(), nil); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
	c := p2p.Config{}
	if err := c.SetDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.Network != protocol.Mainnet || c.MaxPeers != p2p.DefaultMaxPeers || c.PingTimeout != p2p.DefaultPingTimeout || c.UserAgent != p2p.DefaultUserAgent {
		t.Errorf("defaults %+v", c)
	}
}

// Saving the address book is a job: the core only copies the tables (the
// encoding, about 150 ms for a full book, and the write happen off the
// core's goroutine), every SaveInterval and at shutdown.
func TestAddressBookSavedAsJob(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.Persist = true; c.SaveInterval = time.Minute })
	var addrs []addrman.Address
	for i := range 50 {
		addrs = append(addrs, addrman.Address{AddrPort: netip.AddrPortFrom(netip.AddrFrom4([4]byte{44, byte(i), 1, 1}), 8333), Time: h.Now()})
	}
	h.c.Addrs().Add(addrs, netip.Addr{}, h.Now())
	saves := func() (n, last int) {
		for _, j := range h.N.Jobs {
			if s, ok := j.(p2p.SaveAddrs); ok {
				n, last = n+1, s.Book.Len()
			}
		}
		return
	}
	h.Advance(time.Minute - time.Second)
	h.Tick()
	if n, _ := saves(); n != 0 {
		t.Fatalf("saved before the interval: %d", n)
	}
	h.Advance(time.Second)
	h.Tick()
	if n, last := saves(); n != 1 || last != 50 {
		t.Fatalf("after the interval: %d saves of %d addresses", n, last)
	}
	h.N.Do(func(c *p2p.Core) { c.Shutdown(h.Now()) })
	if n, _ := saves(); n != 2 {
		t.Fatalf("no save at shutdown (%d saves)", n)
	}
}

// Dials to the operator's added nodes do not take automatic outbound
// slots: an added node becomes a manual peer, which is not counted there
// either, so unreachable added nodes cannot starve automatic outbound.
func TestAddedNodeDialsLeaveOutboundSlots(t *testing.T) {
	var added []string
	for i := range 3 {
		added = append(added, fmt.Sprintf("10.%d.0.1:8333", i))
	}
	h := newHarness(t, func(c *p2p.Config) {
		c.MaxOutbound = 2
		c.AddNode = added
	})
	h.S.Latency = time.Minute // the added nodes' dials stay pending
	var addrs []addrman.Address
	for _, s := range []string{"1.2.3.4:8333", "5.6.7.8:8333"} {
		addrs = append(addrs, addrman.Address{AddrPort: netip.MustParseAddrPort(s), Time: h.Now()})
	}
	h.c.Addrs().Add(addrs, netip.Addr{}, h.Now())

	h.Tick()
	automatic := 0
	for _, d := range h.N.Dials {
		if !slices.Contains(added, d) {
			automatic++
		}
	}
	if automatic != 2 || len(h.N.Dials) != len(added)+2 {
		t.Fatalf("dialled %v, want the %d added nodes and 2 from the address book", h.N.Dials, len(added))
	}
}
