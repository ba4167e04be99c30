package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/watchnode/watchnode/node/addrman"
)

// target is a connection the operator asked for (--connect, --addnode or
// the API). It is redialled with exponential backoff while not connected.
type target struct {
	addr        string
	persistent  bool
	peer        PeerID // 0 while not connected
	failures    int
	nextAttempt time.Time
	lastError   string
}

// disconnected schedules the next attempt: at once after a connection that
// worked, then with doubling delays while attempts keep failing.
func (t *target) disconnected(now time.Time, base, limit time.Duration, wasEstablished bool) {
	if wasEstablished {
		t.failures = 0
	}
	t.failures++
	delay := base << min(t.failures-1, 16)
	if delay > limit || delay <= 0 {
		delay = limit
	}
	t.nextAttempt = now.Add(delay)
}

func (t *target) established() { t.failures = 0; t.lastError = "" }

// maintainConnections dials the operator's targets that are due and, unless
// --connect was given, fills the outbound slots from the address book.
func (e *Engine) maintainConnections(now time.Time) {
	for _, t := range e.targets {
		if t.peer == 0 && !e.dialing[t.addr] && !now.Before(t.nextAttempt) {
			e.dial(t.addr, true)
		}
	}
	if len(e.cfg.Connect) > 0 {
		return
	}
	outbound := 0
	groups := make(map[string]bool)
	connected := make(map[netip.AddrPort]bool)
	for _, p := range e.peers {
		connected[p.addr] = true
		if p.connType == OutboundFullRelay {
			outbound++
			groups[addrman.NetGroup(p.addr.Addr())] = true
		}
	}
	for a := range e.dialing {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			connected[ap] = true
			outbound++
			groups[addrman.NetGroup(ap.Addr())] = true
		}
	}
	// At most two new dials per tick keeps a burst of failures from
	// hammering the address book.
	for i := 0; i < 2 && outbound < e.cfg.MaxOutbound; i++ {
		cand, ok := e.addrs.Select(now, func(ap netip.AddrPort) bool {
			if connected[ap] {
				return true
			}
			if _, banned := e.bans.banned(ap.Addr(), now); banned {
				return true
			}
			// One outbound peer per network group, as Core does, so one
			// operator cannot surround us; loopback is exempt for tests.
			return !ap.Addr().IsLoopback() && groups[addrman.NetGroup(ap.Addr())]
		})
		if !ok {
			return
		}
		e.addrs.Attempt(cand.AddrPort, now)
		connected[cand.AddrPort] = true
		groups[addrman.NetGroup(cand.AddrPort.Addr())] = true
		outbound++
		e.dial(cand.AddrPort.String(), false)
	}
}

// dial connects in the background; the result comes back as an event.
func (e *Engine) dial(addr string, manual bool) {
	e.dialing[addr] = true
	ctx := e.ctx
	e.wg.Go(func() {
		dctx, cancel := context.WithTimeout(ctx, e.cfg.DialTimeout)
		defer cancel()
		nc, err := e.cfg.Dial(dctx, "tcp", addr)
		if err != nil {
			e.post(evDialFailed{target: addr, err: err})
			return
		}
		select {
		case e.events <- evConnected{nc: nc, target: addr, manual: manual}:
		case <-e.quit:
			nc.Close()
		}
	})
}

func (e *Engine) dialFailed(ev evDialFailed, now time.Time) {
	delete(e.dialing, ev.target)
	e.log.Debug("dial failed", "addr", ev.target, "err", ev.err)
	for _, t := range e.targets {
		if t.addr == ev.target {
			t.lastError = ev.err.Error()
			t.disconnected(now, e.cfg.BackoffMin, e.cfg.BackoffMax, false)
			return
		}
	}
	if ap, err := netip.ParseAddrPort(ev.target); err == nil {
		e.addrs.Failed(ap, now)
	}
}

// discovery tracks where outbound candidates come from, so the status can
// say plainly why the node has no peers.
type discovery struct {
	mode      string // "connect", "seeds", "none"
	querying  bool
	seedAddrs int
	seedErrs  []string
	gossip    int
	queriedAt time.Time
}

func (e *Engine) initialDiscovery() discovery {
	switch {
	case len(e.cfg.Connect) > 0:
		return discovery{mode: "connect"}
	case len(e.cfg.Network.Params().DNSSeeds) == 0:
		return discovery{mode: "none"}
	}
	return discovery{mode: "seeds"}
}

func (d *discovery) learned(n int) { d.gossip += n }

func (d discovery) describe() string {
	switch d.mode {
	case "connect":
		return "off: --connect limits the node to the given peers"
	case "none":
		if d.gossip > 0 {
			return fmt.Sprintf("this network has no DNS seeds; %d addresses learned from peers", d.gossip)
		}
		return "this network has no DNS seeds: add peers with --connect or --addnode"
	}
	if d.querying {
		return "querying DNS seeds"
	}
	if d.seedAddrs == 0 && d.gossip == 0 {
		if len(d.seedErrs) > 0 {
			return "no addresses found: DNS seeds failed (" + strings.Join(d.seedErrs, "; ") + "); no peer has gossiped addresses"
		}
		if d.queriedAt.IsZero() {
			return "address book loaded; DNS seeds not needed yet"
		}
		return "no addresses found: DNS seeds returned nothing and no peer has gossiped addresses"
	}
	return fmt.Sprintf("%d addresses from DNS seeds, %d from peers", d.seedAddrs, d.gossip)
}

// startDiscovery queries the DNS seeds when the address book is empty, as
// Core does at start-up.
func (e *Engine) startDiscovery(now time.Time) {
	if e.discovery.mode != "seeds" {
		return
	}
	if n, t := e.addrs.Counts(); n+t > 0 {
		return
	}
	e.querySeeds(now)
}

func (e *Engine) querySeeds(now time.Time) {
	e.discovery.querying = true
	e.discovery.queriedAt = now
	seeds := e.cfg.Network.Params().DNSSeeds
	port, _ := strconv.Atoi(e.cfg.Network.DefaultPort())
	ctx := e.ctx
	e.wg.Go(func() {
		var ev evSeeds
		for _, s := range seeds {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			hosts, err := e.cfg.LookupHost(lctx, s.Host)
			cancel()
			if err != nil {
				ev.errs = append(ev.errs, fmt.Errorf("%s: %w", s.Host, err))
				continue
			}
			for _, h := range hosts {
				if ip, err := netip.ParseAddr(h); err == nil {
					ev.addrs = append(ev.addrs, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
				}
			}
		}
		e.post(ev)
	})
}

func (e *Engine) seedsResolved(ev evSeeds, now time.Time) {
	d := &e.discovery
	d.querying = false
	d.seedErrs = d.seedErrs[:0]
	for _, err := range ev.errs {
		d.seedErrs = append(d.seedErrs, shortDNSError(err))
	}
	addrs := make([]addrman.Address, 0, len(ev.addrs))
	for _, a := range ev.addrs {
		// Seeds do not say when a node was last seen; Core dates them a few
		// days back so gossip can outrank them.
		addrs = append(addrs, addrman.Address{AddrPort: a, Time: now.Add(-3 * 24 * time.Hour)})
	}
	d.seedAddrs += e.addrs.Add(addrs, netip.IPv4Unspecified(), now)
	e.log.Info("DNS seeds answered", "addresses", len(ev.addrs), "errors", len(ev.errs))
	e.eventLog.Append(Event{Time: now, Kind: EventDiscovery, Text: fmt.Sprintf("DNS seeds gave %d addresses (%d seeds failed)", len(ev.addrs), len(ev.errs))})
}

// shortDNSError keeps the part of a resolver error a person needs.
func shortDNSError(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Name + ": " + dnsErr.Err
	}
	return err.Error()
}
