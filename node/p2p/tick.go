package p2p

import (
	"time"

	"github.com/btcsuite/btcd/wire/v2"
)

// Tick runs the timers at now: handshake and ping deadlines, request
// expiry, the send-stall rule, connection upkeep, sync's timers and the
// periodic address-book save.
//
// backlog gives, for each peer with messages still waiting in the shell's
// inbound queue, when the oldest of them was received: a request is not
// expired while its answer may be among them.
func (c *Core) Tick(now time.Time, backlog map[PeerID]time.Time) {
	c.now = now
	for _, id := range append([]PeerID(nil), c.order...) {
		p, ok := c.peers[id]
		if !ok {
			continue
		}
		if !p.established() && now.Sub(p.connectedAt) >= c.cfg.HandshakeTimeout {
			c.drop(p, Because(DropTimeout, "handshake timeout: no version/verack within %s", c.cfg.HandshakeTimeout))
			continue
		}
		if p.out.messages > 0 && now.Sub(p.out.progressAt) >= c.cfg.WriteTimeout {
			c.drop(p, Because(DropStall, "send stall: the peer accepted less than one message (or %d KiB) in %s; %d messages (%d bytes) queued",
				progressUnit>>10, c.cfg.WriteTimeout, p.out.messages, p.out.bytes))
			continue
		}
		// Every expired request is reported, even when an earlier one's
		// owner drops the peer (a ping timeout): they are already off
		// p.reqs, so drop cannot release them.
		for _, r := range p.reqs.expire(now, backlog[id]) {
			c.finish(r, Expired)
		}
		if _, alive := c.peers[id]; !alive {
			continue
		}
		if p.established() && !now.Before(p.nextPing) && !p.reqs.outstanding(wire.CmdPing) {
			c.sendPing(p)
		}
	}
	c.bans.prune(now)
	c.discoveryTick()
	c.maintainConnections()
	c.sync.Tick()
	if c.cfg.Persist && now.Sub(c.lastSave) >= c.cfg.SaveInterval {
		c.SaveAddrs()
	}
}

// SaveAddrs asks for the address book to be saved now (at shutdown, and
// every SaveInterval). Only the copy is made here; encoding and writing are
// the job's.
func (c *Core) SaveAddrs() {
	c.lastSave = c.now
	if c.cfg.Persist {
		c.StartJob(SaveAddrs{Book: c.addrs.Snapshot()})
	}
}

// ServeRound takes up to PerTurn messages from each peer's inbound queue in
// turn (next pops one from the shell's queue), so a flooding peer delays
// the others by at most PerTurn messages. A paused peer (its outbound queue
// over twice the limit) is skipped until its writer drains. It reports
// whether it handled anything.
func (c *Core) ServeRound(now time.Time, next func(PeerID) (*Message, bool)) bool {
	worked := false
	c.serving = append(c.serving[:0], c.order...)
	for _, id := range c.serving {
		for range PerTurn {
			p, ok := c.peers[id]
			if !ok || p.paused() {
				break
			}
			m, ok := next(id)
			if !ok {
				break
			}
			worked = true
			c.now = now
			c.stampRequests(p, m.Stamps)
			c.handleMessage(p, m)
		}
	}
	return worked
}
