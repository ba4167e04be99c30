package p2p

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

// controlCommands are written ahead of bulk data: they are small and their
// timing matters (handshake, pings).
var controlCommands = map[string]bool{
	wire.CmdVersion: true, wire.CmdVerAck: true, wire.CmdPing: true, wire.CmdPong: true,
	wire.CmdSendHeaders: true, wire.CmdSendAddrV2: true, wire.CmdWTxIdRelay: true,
	wire.CmdFeeFilter: true, wire.CmdGetHeaders: true, wire.CmdGetAddr: true,
}

// Frame is a message serialized and framed once, shared read-only by every
// peer queue it goes to. Summary, when the core has it at hand (a headers
// batch it served), is the message log's one-line description; otherwise
// the writer that logs the message makes it, off the core's goroutine
// (a pong's summary is formatted text: most of what answering a ping cost).
type Frame struct {
	Bytes   []byte
	Command string
	Control bool
	Summary string
}

// Payload returns the frame's payload.
func (f *Frame) Payload() []byte { return f.Bytes[protocol.HeaderSize:] }

// Cost is what the frame counts against its peer's outbound queue while it
// waits: its bytes, its summary, the Frame and its queue slot. The writer
// reports the Cost of the frames it completes.
func (f *Frame) Cost() int { return len(f.Bytes) + len(f.Summary) + FrameOverhead }

// NewFrame serializes and frames msg for the network.
func (c *Core) NewFrame(msg wire.Message) (*Frame, error) {
	b, err := protocol.EncodeFrame(c.magic, msg)
	if err != nil {
		return nil, fmt.Errorf("framing %s: %w", msg.Command(), err)
	}
	cmd := msg.Command()
	return &Frame{Bytes: b, Command: cmd, Control: controlCommands[cmd]}, nil
}

// NewPayloadFrame frames a payload serialized by the caller (a hot path
// that skips wire's encoder), with its log summary.
func (c *Core) NewPayloadFrame(command string, payload []byte, summary string) (*Frame, error) {
	b, err := protocol.AppendFrame(make([]byte, 0, protocol.HeaderSize+len(payload)), c.magic, command, payload)
	if err != nil {
		return nil, fmt.Errorf("framing %s: %w", command, err)
	}
	return &Frame{Bytes: b, Command: command, Control: controlCommands[command], Summary: summary}, nil
}

// SendFrame queues a frame made with NewFrame or NewPayloadFrame for peer
// id, with Send's rules.
func (c *Core) SendFrame(id PeerID, f *Frame) bool {
	p, ok := c.peers[id]
	if !ok {
		return false
	}
	return c.sendFrame(p, f, 0)
}

// Send queues msg for peer id. A message the node cannot encode is a bug,
// logged and dropped; a bulk message that overflows the hard queue limit
// drops the peer, since something is producing work for it without asking
// HasRoom. It reports whether the message was queued.
func (c *Core) Send(id PeerID, msg wire.Message) bool {
	p, ok := c.peers[id]
	if !ok {
		return false
	}
	return c.send(p, msg)
}

func (c *Core) send(p *peerState, msg wire.Message) bool {
	f, err := c.NewFrame(msg)
	if err != nil {
		c.Logf(slog.LevelError, "cannot send", "peer", p.id, "err", err)
		return false
	}
	return c.sendFrame(p, f, 0)
}

// sendFrame queues f for p, counting it against p's queue.
func (c *Core) sendFrame(p *peerState, f *Frame, request uint64) bool {
	if !f.Control && p.paused() {
		c.drop(p, Because(DropStall, "send queue overflow: %d bytes queued", p.out.bytes))
		return false
	}
	if p.out.messages == 0 {
		p.out.progressAt, p.out.partial = c.now, 0
	}
	p.out.bytes += f.Cost()
	p.out.messages++
	c.emit(Action{Kind: ActSend, Peer: p.id, Frame: f, Request: request})
	return true
}

// Request queues msg for peer id and tracks it; done learns how it ended.
// The timeout runs from the moment the writer starts writing the request.
func (c *Core) Request(id PeerID, msg wire.Message, timeout time.Duration, done RequestDone) (*Request, bool) {
	p, ok := c.peers[id]
	if !ok {
		return nil, false
	}
	return c.request(p, msg, timeout, done)
}

func (c *Core) request(p *peerState, msg wire.Message, timeout time.Duration, done RequestDone) (*Request, bool) {
	f, err := c.NewFrame(msg)
	if err != nil {
		c.Logf(slog.LevelError, "cannot send request", "peer", p.id, "err", err)
		return nil, false
	}
	c.lastReq++
	r := &Request{ID: c.lastReq, Peer: p.id, Command: msg.Command(), Queued: c.now, Timeout: timeout, Done: done}
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
	c.requestsStarted++
	if !c.sendFrame(p, f, r.ID) {
		return nil, false
	}
	return r, true
}

// finish reports a request's outcome to its owner.
func (c *Core) finish(r *Request, o Outcome) {
	c.requestsEnded++
	if o != Answered {
		c.linkEnd(r, o) // an answer was linked as it matched
	}
	if c.onRequestEnd != nil {
		c.onRequestEnd(r, o)
	}
	if r.Done != nil {
		r.Done(r, o)
	}
}

// WriteReport is what a peer's writer reports after a write: the bytes
// that reached the socket, how many queued messages were completed and
// their summed Cost, and the requests it started writing (with their
// stamps).
type WriteReport struct {
	Bytes    int
	Messages int
	Cost     int
	Requests []RequestStamp
}

// Written takes a writer's report for peer id: the queue account shrinks,
// progress is noted for the send-stall rule, and the requests' clocks start.
func (c *Core) Written(now time.Time, id PeerID, w WriteReport) {
	c.now = now
	p, ok := c.peers[id]
	if !ok {
		return
	}
	c.stampRequests(p, w.Requests)
	// No clamping: the writer reports exactly what it completed, and a
	// count below zero is an accounting error CheckInvariants reports.
	p.out.messages -= w.Messages
	p.out.bytes -= w.Cost
	p.out.partial += w.Bytes
	if w.Messages > 0 || p.out.partial >= progressUnit {
		p.out.progressAt, p.out.partial = now, 0
	}
	if w.Messages > 0 && p.hasRoom() && p.established() {
		c.sync.Writable(id)
	}
}

// stampRequests starts the clocks of the requests the writer began
// writing. A stamp may arrive twice (with the reply and in the writer's
// report): the first one counts.
func (c *Core) stampRequests(p *peerState, stamps []RequestStamp) {
	for _, s := range stamps {
		if r := p.reqs.byID(s.ID); r != nil && r.Written.IsZero() {
			r.Written, r.LogSeq = s.At, s.LogSeq
		}
	}
}

// sendPing sends a ping with a random nonce and schedules the next one.
func (c *Core) sendPing(p *peerState) {
	p.nextPing = c.now.Add(c.cfg.PingInterval)
	ping := wire.NewMsgPing(c.rng.Uint64())
	c.request(p, ping, c.cfg.PingTimeout, func(r *Request, o Outcome) {
		if o != Expired {
			return
		}
		c.requestTimeouts++
		if p, ok := c.peers[r.Peer]; ok {
			c.drop(p, Because(DropTimeout, "ping timeout: no pong within %s", c.cfg.PingTimeout))
		}
	})
}

// sendPong answers a ping. Framed by hand: a flood of pings is answered
// one pong each, and wire's encoder costs several allocations a pong.
func (c *Core) sendPong(p *peerState, nonce uint64) {
	var payload [8]byte
	binary.LittleEndian.PutUint64(payload[:], nonce)
	f, err := c.NewPayloadFrame(wire.CmdPong, payload[:], "")
	if err != nil {
		c.Logf(slog.LevelError, "cannot send", "peer", p.id, "err", err)
		return
	}
	c.sendFrame(p, f, 0)
}
