package p2p

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/watchnode/watchnode/node/addrman"
	"github.com/watchnode/watchnode/node/protocol"
)

// Peer discovery, as Bitcoin Core does it: the DNS seeds at start when the
// address book is empty (after 11 s otherwise, and only while fewer than
// two outbound peers are up), then Core's fixed seed addresses once a
// minute has passed without any outbound peer. Unlike Core, which asks the
// seeds once, we ask again with a doubling delay while we have fewer than
// two outbound peers: a node started offline finds the network by itself
// once it comes online, instead of waiting for a restart.
const (
	// seedsDelayWithBook is Core's wait before asking the DNS seeds when
	// the address book has addresses to try first.
	seedsDelayWithBook = 11 * time.Second
	// seedsRetryMin and seedsRetryMax bound the delay between queries.
	seedsRetryMin = 15 * time.Second
	seedsRetryMax = 10 * time.Minute
	// seedsEnoughPeers outbound peers make the seeds unnecessary (Core's
	// threshold for skipping them).
	seedsEnoughPeers = 2
	// fixedSeedsDelay is how long the node waits for a first outbound
	// peer before it adds the fixed seeds (Core: one minute).
	fixedSeedsDelay = time.Minute
)

// discovery tracks where outbound candidates come from, so the status can
// say plainly why the node has no peers.
type discovery struct {
	mode      string // "connect", "seeds", "none"
	querying  bool
	queries   int // DNS seed queries answered
	seedAddrs int
	seedErrs  []string
	gossip    int
	queriedAt time.Time
	nextQuery time.Time // zero: none scheduled
	fixed     int       // fixed seeds added (0: not yet)
}

func (c *Core) initialDiscovery() discovery {
	switch {
	case len(c.cfg.Connect) > 0:
		return discovery{mode: "connect"}
	case len(c.cfg.Network.Params().DNSSeeds) == 0:
		return discovery{mode: "none"}
	}
	return discovery{mode: "seeds"}
}

func (d *discovery) learned(n int) { d.gossip += n }

// describe says what discovery is doing, at now.
func (d discovery) describe(now time.Time) string {
	fixed := ""
	if d.fixed > 0 {
		fixed = fmt.Sprintf("; %d of Bitcoin Core's fixed seed addresses added", d.fixed)
	}
	switch d.mode {
	case "connect":
		return "off: -connect limits the node to the given peers"
	case "none":
		if d.gossip > 0 {
			return fmt.Sprintf("this network has no DNS seeds; %d addresses learned from peers%s", d.gossip, fixed)
		}
		return "this network has no DNS seeds: add peers with -connect or -addnode" + fixed
	}
	retry := ""
	if !d.nextQuery.IsZero() && d.nextQuery.After(now) {
		retry = "; asking again in " + d.nextQuery.Sub(now).Round(time.Second).String()
	}
	if d.querying {
		return "querying DNS seeds" + fixed
	}
	if d.seedAddrs == 0 && d.gossip == 0 {
		if len(d.seedErrs) > 0 {
			return "no addresses found: DNS seeds failed (" + strings.Join(d.seedErrs, "; ") + "); no peer has gossiped addresses" + retry + fixed
		}
		if d.queriedAt.IsZero() {
			return "address book loaded; DNS seeds not needed yet" + fixed
		}
		return "no addresses found: DNS seeds returned nothing and no peer has gossiped addresses" + retry + fixed
	}
	return fmt.Sprintf("%d addresses from DNS seeds, %d from peers%s", d.seedAddrs, d.gossip, fixed)
}

// startDiscovery asks the DNS seeds at once when the address book is
// empty, as Core does at start-up, and otherwise after seedsDelayWithBook.
func (c *Core) startDiscovery() {
	if c.discovery.mode != "seeds" {
		return
	}
	if n, t := c.addrs.Counts(); n+t > 0 {
		c.discovery.nextQuery = c.now.Add(seedsDelayWithBook)
		return
	}
	c.querySeeds()
}

func (c *Core) querySeeds() {
	d := &c.discovery
	d.querying = true
	d.queriedAt = c.now
	d.nextQuery = time.Time{}
	var hosts []string
	for _, s := range c.cfg.Network.Params().DNSSeeds {
		hosts = append(hosts, s.Host)
	}
	port, _ := strconv.Atoi(c.cfg.Network.DefaultPort())
	c.StartJob(ResolveSeeds{Hosts: hosts, Port: uint16(port)})
}

// outboundUp counts the established outbound peers.
func (c *Core) outboundUp() int {
	n := 0
	for _, p := range c.peers {
		if !p.inbound() && p.established() {
			n++
		}
	}
	return n
}

// discoveryTick asks the seeds again when a query is due and we still
// have fewer than seedsEnoughPeers outbound peers, and falls back to the
// fixed seeds a minute after start without any outbound peer.
func (c *Core) discoveryTick() {
	d := &c.discovery
	if d.mode == "connect" {
		return
	}
	up := c.outboundUp()
	if d.mode == "seeds" && !d.querying && !d.nextQuery.IsZero() && !c.now.Before(d.nextQuery) {
		if up < seedsEnoughPeers {
			c.querySeeds()
		} else {
			d.nextQuery = time.Time{} // enough peers: the seeds are not needed
		}
	}
	if d.fixed == 0 && up == 0 && c.now.Sub(c.startedAt) >= fixedSeedsDelay {
		c.addFixedSeeds()
	}
}

// addFixedSeeds puts the network's fixed seeds in the address book, dated
// one to two weeks back as Core dates them, so that any gossiped address
// outranks them.
func (c *Core) addFixedSeeds() {
	seeds := protocol.FixedSeeds(c.cfg.Network)
	if len(seeds) == 0 {
		c.discovery.fixed = -1 // none for this network: do not look again
		return
	}
	book := make([]addrman.Address, 0, len(seeds))
	for _, s := range seeds {
		age := 7*24*time.Hour + time.Duration(c.rng.Int64N(int64(7*24*time.Hour)))
		book = append(book, addrman.Address{AddrPort: s, Time: c.now.Add(-age)})
	}
	added := c.addrs.Add(book, netip.IPv4Unspecified(), c.now)
	c.discovery.fixed = max(1, added)
	c.Logf(slog.LevelInfo, "no outbound peer after a minute: adding Bitcoin Core's fixed seeds", "seeds", len(seeds), "added", added)
	c.Event(EventDiscovery, 0, fmt.Sprintf("no outbound peer after %s: added %d of Bitcoin Core's fixed seed addresses", fixedSeedsDelay, added))
}

// SeedsResolved takes the result of a ResolveSeeds job: the addresses the
// seeds gave and, per failed seed, a short error. The next query is
// scheduled with a doubling delay; it only happens if the node still has
// fewer than seedsEnoughPeers outbound peers then.
func (c *Core) SeedsResolved(now time.Time, addrs []netip.AddrPort, errs []string) {
	c.now = now
	d := &c.discovery
	d.querying = false
	d.queries++
	d.seedErrs = append(d.seedErrs[:0], errs...)
	book := make([]addrman.Address, 0, len(addrs))
	for _, a := range addrs {
		// Seeds do not say when a node was last seen; Core dates them a few
		// days back so gossip can outrank them.
		book = append(book, addrman.Address{AddrPort: a, Time: now.Add(-3 * 24 * time.Hour)})
	}
	d.seedAddrs += c.addrs.Add(book, netip.IPv4Unspecified(), now)
	delay := seedsRetryMin << min(d.queries-1, 16)
	if delay > seedsRetryMax || delay <= 0 {
		delay = seedsRetryMax
	}
	d.nextQuery = now.Add(delay)
	level := slog.LevelInfo
	if len(addrs) == 0 {
		level = slog.LevelWarn // an offline start: say so, once per query
	}
	c.Logf(level, "DNS seeds answered", "addresses", len(addrs), "errors", len(errs), "next_query_in", delay.String())
	c.Event(EventDiscovery, 0, fmt.Sprintf("DNS seeds gave %d addresses (%d seeds failed)", len(addrs), len(errs)))
}
