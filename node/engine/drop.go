package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// DropKind groups disconnect reasons for metrics and the UI.
type DropKind string

// The kinds of reasons a peer goes away.
const (
	DropRemoteClose DropKind = "remote-close"
	DropViolation   DropKind = "protocol-violation"
	DropTimeout     DropKind = "timeout"
	DropStall       DropKind = "stall"
	DropBan         DropKind = "ban"
	DropOperator    DropKind = "operator"
	DropShutdown    DropKind = "shutdown"
	DropEvicted     DropKind = "evicted"
	DropRefused     DropKind = "refused" // never admitted: banned, full, obsolete, self
	DropIOError     DropKind = "io-error"
)

// reason is why the engine drops a peer.
type reason struct {
	kind DropKind
	text string
	// discourage: the address misbehaved and is refused for 24 hours.
	discourage bool
}

func dropReason(kind DropKind, format string, args ...any) reason {
	return reason{kind: kind, text: fmt.Sprintf(format, args...)}
}

func violation(format string, args ...any) reason {
	return reason{kind: DropViolation, text: fmt.Sprintf(format, args...), discourage: true}
}

// classifyConnError turns the error that ended a reader or writer into a
// reason. Bad framing or payloads are violations and get the address
// discouraged; a plain close is not the peer's fault.
func classifyConnError(err error) reason {
	switch {
	case errors.Is(err, peer.ErrSendStall):
		return dropReason(DropStall, "%v", err)
	case errors.Is(err, protocol.ErrWrongMagic),
		errors.Is(err, protocol.ErrBadCommand),
		errors.Is(err, protocol.ErrPayloadTooLarge),
		errors.Is(err, protocol.ErrChecksumMismatch),
		errors.Is(err, protocol.ErrMalformed):
		return violation("protocol violation: %v", err)
	case errors.Is(err, io.EOF):
		return dropReason(DropRemoteClose, "peer closed the connection")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return dropReason(DropRemoteClose, "peer closed the connection mid-message: %v", err)
	case errors.Is(err, net.ErrClosed):
		return dropReason(DropRemoteClose, "connection closed")
	}
	return dropReason(DropIOError, "connection error: %v", err)
}

// drop is the one path by which a peer leaves, whatever the reason: it
// releases the peer's requests (telling their owners), discards its queues,
// closes the socket, records the reason and, for misbehaviour, discourages
// the address.
func (e *Engine) drop(p *peerState, r reason, now time.Time) {
	if _, ok := e.peers[p.id]; !ok {
		return
	}
	delete(e.peers, p.id)
	e.order = slices.DeleteFunc(e.order, func(id PeerID) bool { return id == p.id })
	delete(e.nonces, p.localNonce)

	p.link.Close()
	p.in.Close()
	p.out.Close()
	sent, recv := p.link.Traffic()
	e.closedSent += sent.Bytes
	e.closedRecv += recv.Bytes

	reqs := p.reqs
	p.reqs = nil
	for _, req := range reqs {
		e.finish(req, Released)
	}
	if r.discourage {
		if _, err := e.bans.add(p.addr.Addr(), r.text, false, now, discouragement); err != nil {
			e.log.Error("recording discouragement", "addr", p.addr, "err", err)
		}
	}
	if !p.inbound() && !p.established() && p.target == "" {
		e.addrs.Failed(p.addr, now)
	}
	for _, t := range e.targets {
		if t.peer == p.id {
			t.peer = 0
			t.disconnected(now, e.cfg.BackoffMin, e.cfg.BackoffMax, p.established())
		}
	}
	ua := ""
	if p.version != nil {
		ua = p.version.UserAgent
	}
	e.disconnectsByKind[r.kind]++
	e.closedSentCmd = addTraffic(e.closedSentCmd, sent.ByCommand)
	e.closedRecvCmd = addTraffic(e.closedRecvCmd, recv.ByCommand)
	e.event(now, EventDisconnect, p, "disconnected (%s): %s", r.kind, r.text)
	if r.discourage {
		e.event(now, EventBan, p, "address discouraged for 24 h")
	}
	e.recordDisconnect(Disconnect{ID: p.id, Addr: p.addr.String(), Inbound: p.inbound(), UserAgent: ua, Kind: r.kind, Reason: r.text, Time: now})
	e.log.Info("peer disconnected", "peer", p.id, "addr", p.addr, "kind", r.kind, "reason", r.text)
}

func (e *Engine) recordDisconnect(d Disconnect) {
	e.disconnects = append(e.disconnects, d)
	if over := len(e.disconnects) - maxDisconnects; over > 0 {
		e.disconnects = slices.Delete(e.disconnects, 0, over)
	}
}

// penalize adds misbehaviour points; at 100 the peer is dropped and its
// address discouraged. Points are used for offences that are harmless once
// (an unsolicited pong) but not when repeated.
func (e *Engine) penalize(p *peerState, points int, why string, now time.Time) {
	p.misbehavior += points
	if p.misbehavior >= 100 {
		e.drop(p, violation("misbehaving (score %d): %s", p.misbehavior, why), now)
	}
}

// addTraffic adds per-command counters into total (allocating it if nil).
func addTraffic(total map[string]peer.CommandTraffic, add map[string]peer.CommandTraffic) map[string]peer.CommandTraffic {
	if total == nil {
		total = make(map[string]peer.CommandTraffic)
	}
	for cmd, t := range add {
		c := total[cmd]
		c.Bytes += t.Bytes
		c.Messages += t.Messages
		total[cmd] = c
	}
	return total
}
