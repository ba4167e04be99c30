package p2p

import (
	"errors"
	"fmt"
)

// MaxOutQueue bounds what the core ever counts against one peer's
// outbound queue: the pause threshold (twice OutQueueLimit), one answer
// admitted just below it (MaxReplyCost), and the control messages the
// core's own timers may add while the peer is paused.
const MaxOutQueue = 2*OutQueueLimit + MaxReplyCost + 64<<10

// CheckInvariants verifies the core's bookkeeping: the peer table and its
// service order agree, every tracked request belongs to a live peer and is
// counted once, nothing refers to a dropped peer, and every bound holds.
// Simulations call it after every step; it is too slow for the node.
func (c *Core) CheckInvariants() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.order) != len(c.peers) {
		fail("order lists %d peers, table has %d", len(c.order), len(c.peers))
	}
	seen := make(map[PeerID]bool, len(c.order))
	live := uint64(0)
	reqIDs := make(map[uint64]bool)
	for _, id := range c.order {
		p, ok := c.peers[id]
		if !ok {
			fail("peer %d in order but not in the table", id)
			continue
		}
		if seen[id] {
			fail("peer %d twice in order", id)
		}
		seen[id] = true
		if p.id != id {
			fail("peer %d stored under %d", p.id, id)
		}
		for _, r := range p.reqs {
			live++
			if r.Peer != id {
				fail("request %d of peer %d is tracked by peer %d", r.ID, r.Peer, id)
			}
			if reqIDs[r.ID] {
				fail("request %d tracked twice", r.ID)
			}
			reqIDs[r.ID] = true
		}
		if p.out.bytes < 0 || p.out.messages < 0 || p.out.bytes > MaxOutQueue {
			fail("peer %d outbound queue account %d bytes, %d messages (bound %d)", id, p.out.bytes, p.out.messages, MaxOutQueue)
		}
		if p.out.messages == 0 && p.out.bytes != 0 {
			fail("peer %d: %d queued bytes but no message", id, p.out.bytes)
		}
		for cmd := range p.unsolicited {
			if !penalizedUnsolicited[cmd] {
				fail("peer %d: unsolicited (penalized) counter for allowed %q", id, cmd)
			}
		}
		for cmd := range p.announcements {
			if !IsTrackedResponse(cmd) || penalizedUnsolicited[cmd] {
				fail("peer %d: announcement counter for %q", id, cmd)
			}
		}
		if p.misbehavior >= 100 {
			fail("peer %d still connected with misbehaviour %d", id, p.misbehavior)
		}
	}
	if c.requestsStarted-c.requestsEnded != live {
		fail("%d requests started, %d ended, but %d tracked", c.requestsStarted, c.requestsEnded, live)
	}
	for nonce, id := range c.nonces {
		if _, ok := c.peers[id]; !ok {
			fail("version nonce %x belongs to dropped peer %d", nonce, id)
		}
	}
	if len(c.targets) > MaxAddedNodes {
		fail("%d added nodes (bound %d)", len(c.targets), MaxAddedNodes)
	}
	for _, t := range c.targets {
		if t.peer == 0 {
			continue
		}
		if p, ok := c.peers[t.peer]; !ok || p.target != t.addr {
			fail("target %s refers to peer %d, which is not its connection", t.addr, t.peer)
		}
	}
	if err := c.bans.check(); err != nil {
		errs = append(errs, err)
	}
	if len(c.disconnects) > maxDisconnects {
		fail("%d disconnects kept (bound %d)", len(c.disconnects), maxDisconnects)
	}
	if chk, ok := c.sync.(interface{ CheckInvariants() error }); ok {
		if err := chk.CheckInvariants(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// OnRequestEnd registers fn to hear of every request's end, after the core
// and before the request's owner. Simulations use it to check that every
// request ends exactly once.
func (c *Core) OnRequestEnd(fn func(*Request, Outcome)) { c.onRequestEnd = fn }

// RequestsStarted counts every request the core ever tracked.
func (c *Core) RequestsStarted() uint64 { return c.requestsStarted }

// PeerCount returns how many peers the core has.
func (c *Core) PeerCount() int { return len(c.peers) }
