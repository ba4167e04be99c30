package p2p

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/watchnode/watchnode/node/addrman"
)

// target is a connection the operator asked for (-connect, -addnode or
// the API): Bitcoin Core's added node. It is redialled with exponential
// backoff while not connected, and shown with its state, last error and
// next attempt (Core's getaddednodeinfo) so that an unreachable one is
// visible rather than silently retried.
type target struct {
	addr        string
	source      TargetSource
	addedAt     time.Time
	peer        PeerID // 0 while not connected
	failures    int    // attempts failed since the last established connection
	attempts    int    // every attempt, for the display
	lastAttempt time.Time
	nextAttempt time.Time
	lastError   string
	connectedAt time.Time // when the last connection was established
}

// TargetSource says who asked for an added node.
type TargetSource string

// The sources of added nodes.
const (
	SourceConnect  TargetSource = "connect"  // -connect
	SourceAddNode  TargetSource = "addnode"  // -addnode
	SourceOperator TargetSource = "operator" // the API or the dashboard's Connect control
)

// MaxAddedNodes bounds the operator's targets: each is dialled until it
// works, so an unbounded list would be an unbounded dial loop. Core bounds
// its addnode connections at 8; we keep more targets than that because
// -connect ones share the list, and say so with an error past the bound.
const MaxAddedNodes = 64

// disconnected schedules the next attempt: at once after a connection that
// worked, then with doubling delays while attempts keep failing. It
// returns the delay.
func (t *target) disconnected(now time.Time, base, limit time.Duration, wasEstablished bool) time.Duration {
	if wasEstablished {
		t.failures = 0
	}
	t.failures++
	delay := base << min(t.failures-1, 16)
	if delay > limit || delay <= 0 {
		delay = limit
	}
	t.nextAttempt = now.Add(delay)
	return delay
}

func (t *target) established(now time.Time) {
	t.failures = 0
	t.lastError = ""
	t.connectedAt = now
}

// targetFailed records why an attempt at t failed and logs it at WARN, once
// per attempt and so once per backoff step: an operator who added a peer
// wants to hear that it cannot be reached, and the doubling delay keeps
// the log from flooding.
func (c *Core) targetFailed(t *target, why string, wasEstablished bool) {
	t.lastError = why
	delay := t.disconnected(c.now, c.cfg.BackoffMin, c.cfg.BackoffMax, wasEstablished)
	c.Logf(slog.LevelWarn, "added node unreachable", "addr", t.addr, "source", t.source,
		"attempt", t.attempts, "err", why, "retry_in", delay.Round(time.Second).String())
}

func (c *Core) findTarget(addr string) *target {
	for _, t := range c.targets {
		if t.addr == addr {
			return t
		}
	}
	return nil
}

// maintainConnections dials the operator's targets that are due and, unless
// -connect was given, fills the outbound slots from the address book.
func (c *Core) maintainConnections() {
	for _, t := range c.targets {
		if _, dialing := c.dialing[t.addr]; t.peer == 0 && !dialing && !c.now.Before(t.nextAttempt) {
			t.attempts++
			t.lastAttempt = c.now
			c.dial(t.addr, true, c.wantV2(t.addr, true, 0))
		}
	}
	if len(c.cfg.Connect) > 0 {
		return
	}
	outbound := 0
	groups := make(map[string]bool)
	connected := make(map[netip.AddrPort]bool)
	for _, p := range c.peers {
		connected[p.addr] = true
		if p.connType == OutboundFullRelay {
			outbound++
			groups[addrman.NetGroup(p.addr.Addr())] = true
		}
	}
	for a, manual := range c.dialing {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			continue
		}
		connected[ap] = true
		// A dial to an operator's target becomes a manual peer, which the
		// loop above does not count either: counting it would let
		// unreachable added nodes starve the automatic slots.
		if !manual {
			outbound++
			groups[addrman.NetGroup(ap.Addr())] = true
		}
	}
	for i := 0; i < maxDialsPerTick && outbound < c.cfg.MaxOutbound; i++ {
		cand, ok := c.addrs.Select(c.now, func(ap netip.AddrPort) bool {
			if connected[ap] {
				return true
			}
			if _, banned := c.bans.banned(ap.Addr(), c.now); banned {
				return true
			}
			// One outbound peer per network group, as Core does, so one
			// operator cannot surround us; loopback is exempt for tests.
			return !ap.Addr().IsLoopback() && groups[addrman.NetGroup(ap.Addr())]
		})
		if !ok {
			return
		}
		c.addrs.Attempt(cand.AddrPort, c.now)
		connected[cand.AddrPort] = true
		groups[addrman.NetGroup(cand.AddrPort.Addr())] = true
		outbound++
		c.dial(cand.AddrPort.String(), false, c.wantV2(cand.AddrPort.String(), false, cand.Services))
	}
}

// dial asks the shell to connect; the result comes back as Connected or
// DialFailed. manual marks a dial to one of the operator's targets, v2 one
// that starts with BIP324's handshake.
func (c *Core) dial(addr string, manual, v2 bool) {
	c.dialing[addr] = manual
	c.emit(Action{Kind: ActDial, Addr: addr, Manual: manual, V2: v2})
}

// DialFailed is told that a dial the core asked for failed.
func (c *Core) DialFailed(now time.Time, addr string, err string) {
	c.now = now
	delete(c.dialing, addr)
	if t := c.findTarget(addr); t != nil {
		c.targetFailed(t, err, false)
		return
	}
	c.Logf(slog.LevelDebug, "dial failed", "addr", addr, "err", err)
	if ap, perr := netip.ParseAddrPort(addr); perr == nil {
		c.addrs.Failed(ap, now)
	}
}
