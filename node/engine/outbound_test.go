package engine

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchnode/watchnode/node/addrman"
	"github.com/watchnode/watchnode/node/protocol"
)

// dialRecorder is a Config.Dial that fails every dial and records it.
type dialRecorder struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialRecorder) dial(_ context.Context, _, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	return nil, errors.New("connection refused")
}

func (d *dialRecorder) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.addrs)
}

// nextEvent waits for the event a background goroutine of the engine posts
// and handles it, as Run would.
func (h *harness) nextEvent() event {
	h.t.Helper()
	select {
	case ev := <-h.e.events:
		h.e.handleEvent(ev, h.now())
		h.e.wg.Wait()
		return ev
	case <-time.After(5 * time.Second):
		h.t.Fatal("no event from the engine's goroutines")
		return nil
	}
}

func TestManualTargetBackoff(t *testing.T) {
	var d dialRecorder
	h := newTestEngine(t, func(c *Config) {
		c.Connect = []string{"127.0.0.1:1"}
		c.Dial = d.dial
		c.BackoffMin = time.Second
		c.BackoffMax = 4 * time.Second
	})
	if !strings.Contains(h.e.discovery.describe(), "--connect") {
		t.Errorf("discovery = %q", h.e.discovery.describe())
	}
	wantDelays := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, delay := range wantDelays {
		h.e.tick(h.now())
		if ev, ok := h.nextEvent().(evDialFailed); !ok || ev.target != "127.0.0.1:1" {
			t.Fatalf("attempt %d: event %#v", i, ev)
		}
		tg := h.e.targets[0]
		if tg.failures != i+1 || !tg.nextAttempt.Equal(h.now().Add(delay)) || tg.lastError != "connection refused" {
			t.Fatalf("after attempt %d: %+v, want next attempt in %v", i, tg, delay)
		}
		if len(h.e.dialing) != 0 {
			t.Fatal("still marked as dialing")
		}
		h.clock.Advance(delay - time.Millisecond)
		h.e.tick(h.now())
		h.e.wg.Wait()
		if d.count() != i+1 {
			t.Fatalf("redialled before the backoff ended: %d dials", d.count())
		}
		h.clock.Advance(time.Millisecond)
	}
}

func TestOutboundFromAddressBook(t *testing.T) {
	var d dialRecorder
	h := newTestEngine(t, func(c *Config) { c.Dial = d.dial; c.MaxOutbound = 3 })
	var addrs []addrman.Address
	for _, s := range []string{"1.2.3.4:8333", "1.2.9.9:8333", "5.6.7.8:8333", "9.9.9.9:8333"} {
		addrs = append(addrs, addrman.Address{AddrPort: netip.MustParseAddrPort(s), Time: h.now()})
	}
	h.e.addrs.Add(addrs, netip.Addr{}, h.now())
	h.e.bans.add(netip.MustParseAddr("9.9.9.9"), "test", false, h.now(), time.Hour)

	// Two dials per tick at most.
	h.e.tick(h.now())
	h.e.wg.Wait()
	if d.count() != 2 || len(h.e.dialing) != 2 {
		t.Fatalf("first tick dialled %v", d.addrs)
	}
	h.e.tick(h.now())
	h.e.wg.Wait()
	// One per /16, never the banned one: the third slot stays empty.
	dialled := slices.Clone(d.addrs)
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
	for range 2 {
		h.nextEvent()
	}
	if len(h.e.dialing) != 0 {
		t.Errorf("dialing after failures: %v", h.e.dialing)
	}
}

func TestDNSSeeds(t *testing.T) {
	h := newTestEngine(t, func(c *Config) {
		c.Network = protocol.Mainnet
		c.LookupHost = func(_ context.Context, host string) ([]string, error) {
			if strings.HasPrefix(host, "seed.bitcoin.sipa.be") {
				return []string{"1.2.3.4", "2a01:4f8::1", "not-an-ip"}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
	})
	if got := h.e.discovery.describe(); got != "address book loaded; DNS seeds not needed yet" {
		t.Errorf("before querying: %q", got)
	}
	h.e.startDiscovery(h.now())
	if got := h.e.discovery.describe(); got != "querying DNS seeds" {
		t.Errorf("while querying: %q", got)
	}
	if _, ok := h.nextEvent().(evSeeds); !ok {
		t.Fatal("no seed answer")
	}
	if n, _ := h.e.addrs.Counts(); n != 2 || h.e.discovery.seedAddrs != 2 {
		t.Errorf("book has %d addresses, seeds gave %d; want 2", n, h.e.discovery.seedAddrs)
	}
	if len(h.e.discovery.seedErrs) == 0 || !strings.Contains(h.e.discovery.seedErrs[0], ": no such host") || strings.Contains(h.e.discovery.seedErrs[0], "lookup") {
		t.Errorf("seed errors %q, want short DNS errors", h.e.discovery.seedErrs)
	}
	if got := h.e.discovery.describe(); got != "2 addresses from DNS seeds, 0 from peers" {
		t.Errorf("after: %q", got)
	}
	// With addresses known, a restart does not query again.
	h.e.startDiscovery(h.now())
	if h.e.discovery.querying {
		t.Error("queried seeds with a non-empty address book")
	}
}

func TestDiscoveryDescribeFailures(t *testing.T) {
	d := discovery{mode: "seeds", queriedAt: time.Now(), seedErrs: []string{"seed.example: no such host"}}
	if got := d.describe(); !strings.Contains(got, "DNS seeds failed (seed.example: no such host)") {
		t.Errorf("%q", got)
	}
	d.seedErrs = nil
	if got := d.describe(); !strings.Contains(got, "DNS seeds returned nothing") {
		t.Errorf("%q", got)
	}
	n := discovery{mode: "none"}
	if got := n.describe(); !strings.Contains(got, "no DNS seeds") || !strings.Contains(got, "--connect") {
		t.Errorf("%q", got)
	}
	n.learned(5)
	if got := n.describe(); !strings.Contains(got, "5 addresses learned from peers") {
		t.Errorf("%q", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	for _, bad := range []Config{
		{Network: "nonet"},
		{MaxPeers: -1},
		{MaxPeers: 4, MaxOutbound: 8},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
	c := Config{}
	if err := c.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.Network != protocol.Mainnet || c.MaxPeers != DefaultMaxPeers || c.PingTimeout != DefaultPingTimeout || c.UserAgent != DefaultUserAgent {
		t.Errorf("defaults %+v", c)
	}
}
