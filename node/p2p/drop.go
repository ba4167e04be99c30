package p2p

import (
	"fmt"
	"log/slog"
	"slices"
)

// Drop drops peer id for r. It is the one path by which a peer leaves,
// whatever the reason; dropping a peer that is gone already does nothing,
// so the first reason recorded is the one that stays.
func (c *Core) Drop(id PeerID, r Reason) {
	if p, ok := c.peers[id]; ok {
		c.drop(p, r)
	}
}

// drop releases the peer's requests (telling their owners), tells sync,
// asks the shell to close the connection, records the reason and, for
// misbehaviour, discourages the address.
func (c *Core) drop(p *peerState, r Reason) {
	if _, ok := c.peers[p.id]; !ok {
		return
	}
	delete(c.peers, p.id)
	c.order = slices.DeleteFunc(c.order, func(id PeerID) bool { return id == p.id })
	delete(c.nonces, p.localNonce)
	c.emit(Action{Kind: ActDrop, Peer: p.id, Reason: r})

	reqs := p.reqs
	p.reqs = nil
	for _, req := range reqs {
		c.finish(req, Released)
	}
	c.sync.PeerDropped(p.id)
	if r.Discourage {
		c.bans.add(p.addr.Addr(), r.Text, false, c.now, discouragement)
	}
	if r.Kind == DropV2Refused && !p.inbound() {
		// Not a failure of the address: it speaks v1.
		c.retryV1(p)
	} else if !p.inbound() && !p.established() && p.target == "" {
		c.addrs.Failed(p.addr, c.now)
	}
	for _, t := range c.targets {
		if r.Kind == DropV2Refused && t.peer == p.id {
			t.peer = 0 // redialled by retryV1, no backoff
			continue
		}
		if t.peer == p.id {
			t.peer = 0
			c.targetFailed(t, r.Text, p.established())
		}
	}
	ua := ""
	if p.version != nil {
		ua = p.version.UserAgent
	}
	c.disconnectsByKind[r.Kind]++
	// A peer that never finished the handshake was never announced as
	// connected, and anyone can open such sockets: its end is recorded
	// and logged at DEBUG, as Core does, but makes no event.
	level := slog.LevelDebug
	if p.established() {
		level = slog.LevelInfo
		c.peerEvent(EventDisconnect, p, fmt.Sprintf("disconnected (%s): %s", r.Kind, r.Text))
	}
	if r.Discourage {
		c.peerEvent(EventBan, p, p.addr.Addr().Unmap().String()+" discouraged for 24 h: "+r.Text)
	}
	// A refused BIP324 attempt is a step of connecting, not a lost peer:
	// counted by kind, logged, but not listed among the disconnects (the
	// redial follows at once).
	if r.Kind != DropV2Refused {
		c.recordDisconnect(Disconnect{ID: p.id, Addr: p.addr.String(), Inbound: p.inbound(), UserAgent: ua, Kind: r.Kind, Reason: r.Text, Time: c.now})
	}
	c.Logf(level, "peer disconnected", "peer", p.id, "addr", p.addr, "kind", r.Kind, "reason", r.Text)
}

func (c *Core) recordDisconnect(d Disconnect) {
	c.disconnects = append(c.disconnects, d)
	if over := len(c.disconnects) - maxDisconnects; over > 0 {
		c.disconnects = slices.Delete(c.disconnects, 0, over)
	}
}

// penalize adds misbehaviour points to p; at 100 the peer is dropped and
// its address discouraged. Points are for offences that are harmless once
// (an unsolicited pong) but not when repeated.
func (c *Core) penalize(p *peerState, points int, why string) {
	p.misbehavior += points
	if p.misbehavior >= 100 {
		c.drop(p, Violation("misbehaving (score %d): %s", p.misbehavior, why))
	}
}
