package engine

import (
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// controlCommands are written ahead of bulk data: they are small and their
// timing matters (handshake, pings).
var controlCommands = map[string]bool{
	wire.CmdVersion: true, wire.CmdVerAck: true, wire.CmdPing: true, wire.CmdPong: true,
	wire.CmdSendHeaders: true, wire.CmdSendAddrV2: true, wire.CmdWTxIdRelay: true,
	wire.CmdFeeFilter: true, wire.CmdGetHeaders: true, wire.CmdGetAddr: true,
}

// Frame is a message serialized and framed once, shareable by any number of
// peers' queues.
type Frame struct {
	bytes   []byte
	command string
}

func (e *Engine) frame(msg wire.Message) (Frame, error) {
	b, err := protocol.EncodeFrame(e.magic, msg)
	if err != nil {
		return Frame{}, fmt.Errorf("framing %s: %w", msg.Command(), err)
	}
	return Frame{bytes: b, command: msg.Command()}, nil
}

// send queues msg for p. A message the node cannot encode is a bug, logged
// and dropped; a bulk message that overflows the hard queue limit drops the
// peer, since something is producing work for it without asking HasRoom.
func (e *Engine) send(p *peerState, msg wire.Message, now time.Time) bool {
	f, err := e.frame(msg)
	if err != nil {
		e.log.Error("cannot send", "peer", p.id, "err", err)
		return false
	}
	return e.sendFrame(p, f, msg, nil, now)
}

func (e *Engine) sendFrame(p *peerState, f Frame, msg wire.Message, req *Request, now time.Time) bool {
	e.logMessage(p, false, f.command, len(f.bytes), msg, f.bytes[protocol.HeaderSize:], now)
	out := peer.Outbound{Frame: f.bytes, Command: f.command, Control: controlCommands[f.command]}
	if req != nil {
		out.Request, out.Written = req.ID, &req.wrote
	}
	ok := p.out.Push(out)
	if !ok {
		if _, alive := e.peers[p.id]; alive {
			e.drop(p, dropReason(DropStall, "send queue overflow: %d bytes queued", p.out.Bytes()), now)
		}
	}
	return ok
}

// broadcast frames msg once and queues the same bytes to every established
// peer for which want returns true and whose queue has room.
func (e *Engine) broadcast(msg wire.Message, want func(*peerState) bool, now time.Time) int {
	f, err := e.frame(msg)
	if err != nil {
		e.log.Error("cannot broadcast", "err", err)
		return 0
	}
	n := 0
	for _, id := range append([]PeerID(nil), e.order...) {
		p, ok := e.peers[id]
		if !ok || !p.established() || !p.out.HasRoom() || (want != nil && !want(p)) {
			continue
		}
		if e.sendFrame(p, f, msg, nil, now) {
			n++
		}
	}
	return n
}

// sendRequest queues a request and tracks it; done learns how it ended. The
// timeout runs from the moment the writer puts the request on the socket.
func (e *Engine) sendRequest(p *peerState, msg wire.Message, timeout time.Duration, done RequestDone, now time.Time) (*Request, bool) {
	f, err := e.frame(msg)
	if err != nil {
		e.log.Error("cannot send request", "peer", p.id, "err", err)
		return nil, false
	}
	e.lastReq++
	r := &Request{ID: e.lastReq, Peer: p.id, Command: msg.Command(), Queued: now, Timeout: timeout, Done: done}
	switch m := msg.(type) {
	case *wire.MsgPing:
		r.Nonce = m.Nonce
	case *wire.MsgGetData:
		r.Items = make(map[chainhash.Hash]bool, len(m.InvList))
		for _, iv := range m.InvList {
			r.Items[iv.Hash] = true
		}
	}
	p.reqs = append(p.reqs, r)
	if !e.sendFrame(p, f, msg, r, now) {
		return nil, false
	}
	return r, true
}

// requestWritten starts a request's clock when its bytes reach the socket.
func (e *Engine) requestWritten(id PeerID, req uint64, at time.Time) {
	p, ok := e.peers[id]
	if !ok {
		return
	}
	if r := p.reqs.byID(req); r != nil {
		r.Written = at
	}
}

// finish reports a request's outcome to its owner.
func (e *Engine) finish(r *Request, o Outcome) {
	if r.Done != nil {
		r.Done(r, o)
	}
}

// sendPing sends a ping with a random nonce and schedules the next one.
func (e *Engine) sendPing(p *peerState, now time.Time) {
	p.nextPing = now.Add(e.cfg.PingInterval)
	ping := wire.NewMsgPing(e.rng.Uint64())
	e.sendRequest(p, ping, e.cfg.PingTimeout, func(r *Request, o Outcome) {
		if o != Expired {
			return
		}
		e.requestTimeouts++
		if p, ok := e.peers[r.Peer]; ok {
			e.drop(p, dropReason(DropTimeout, "ping timeout: no pong within %s", e.cfg.PingTimeout), e.now())
		}
	}, now)
}
