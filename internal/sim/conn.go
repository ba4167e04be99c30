package sim

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/netip"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// SocketBuffer is how many bytes a link holds between one side's writer
// and the other side's reader (the kernel's socket buffers), when the
// reader is not reading.
const SocketBuffer = 256 << 10

var errEOF = io.EOF

// conn is one node's side of a connection.
type conn struct {
	node *Node
	id   p2p.PeerID
	addr netip.AddrPort
	// The other end: another node's conn, or a scripted remote.
	other  *conn
	remote *Remote

	// out holds what the core queued and the writer has not written,
	// control frames (ctrl of them, at the front) ahead of bulk, as the
	// node's outbound queue orders them.
	out  []outFrame
	ctrl int
	// rx holds bytes that reached this side but that the reader has not
	// turned into messages yet (it waits while the inbound queue is full).
	rx []byte
	// inq is the inbound queue: decoded messages waiting for the core;
	// inCost and inPool are its account (p2p.AdmitInbound).
	inq    []*p2p.Message
	inCost int
	inPool map[*p2p.Message]int
	// stamps are requests the writer started, not yet handed over with a
	// received message.
	stamps  []p2p.RequestStamp
	capture bool
	closed  bool
	failed  bool // the reader hit an error and stopped
}

type outFrame struct {
	frame   *p2p.Frame
	request uint64
	logSeq  uint64 // its number in the node's message log, once written
}

func newConn(n *Node, id p2p.PeerID, addr netip.AddrPort, capture bool) *conn {
	c := &conn{node: n, id: id, addr: addr, capture: capture, inPool: make(map[*p2p.Message]int)}
	n.conns[id] = c
	return c
}

// write is the writer: it writes up to limit bytes of queued frames to the
// other side (whole frames only) and reports to the core, as the engine's
// writer does after each write. It returns the frames written.
func (c *conn) write(limit int) []outFrame {
	if c.closed || len(c.out) == 0 || limit <= 0 {
		return nil
	}
	var written []outFrame
	var rep p2p.WriteReport
	for len(c.out) > 0 && (rep.Bytes == 0 || rep.Bytes+len(c.out[0].frame.Bytes) <= limit) {
		f := c.out[0]
		c.out[0] = outFrame{}
		c.out = c.out[1:]
		if c.ctrl > 0 {
			c.ctrl--
		}
		f.logSeq = c.node.logMessage()
		if f.request != 0 {
			st := p2p.RequestStamp{ID: f.request, At: c.node.sim.now, LogSeq: f.logSeq}
			rep.Requests = append(rep.Requests, st)
			c.stamps = append(c.stamps, st)
		}
		rep.Bytes += len(f.frame.Bytes)
		rep.Messages++
		rep.Cost += f.frame.Cost()
		written = append(written, f)
	}
	if rep.Messages > 0 {
		c.node.Core.Written(c.node.sim.now, c.id, rep)
		c.node.apply()
	}
	return written
}

// receive takes bytes arriving from the other side and lets the reader
// work on them.
func (c *conn) receive(b []byte) {
	if c.closed || c.failed {
		return
	}
	c.rx = append(c.rx, b...)
	c.read()
}

// read is the reader: it frames and decodes what arrived in the steps of
// node/peer's reader (protocol.ReadFrameHeader, a reservation of
// p2p.PayloadCost in the inbound bound, protocol.ReadFramePayload,
// p2p.MessageCost, p2p.DecodeMessageCosting), and pushes messages into the
// inbound queue while the bound admits them. A framing or decoding error
// ends the connection at once, as the reader reports it.
func (c *conn) read() {
	n := c.node
	for !c.closed && !c.failed {
		if len(c.rx) < protocol.HeaderSize {
			return // incomplete
		}
		h, err := protocol.ReadFrameHeader(bytes.NewReader(c.rx[:protocol.HeaderSize]), n.magic())
		if err != nil {
			c.fail(err) // a bad header fails before its payload arrives
			return
		}
		// The reader reserves the payload's cost before reading it: while
		// the bound refuses, it reads nothing more.
		if _, ok := p2p.AdmitInbound(c.inCost, len(c.inq), p2p.PayloadCost(h.Length), n.poolUsed); !ok {
			return
		}
		size := protocol.HeaderSize + h.Length
		if len(c.rx) < size {
			return // incomplete
		}
		frame, err := protocol.ReadFramePayload(bytes.NewReader(c.rx[protocol.HeaderSize:size]), h, h.Length)
		// The message's decoded cost is admitted before it is decoded.
		cost := 0
		if err == nil {
			cost, err = p2p.MessageCost(frame.Command, frame.Payload)
		}
		if err != nil {
			c.fail(err)
			return
		}
		charge, ok := p2p.AdmitInbound(c.inCost, len(c.inq), cost, n.poolUsed)
		if !ok {
			return // the reader waits; the bytes stay in rx
		}
		m, err := p2p.DecodeMessageCosting(frame.Command, frame.Payload, n.sim.now, cost, nil)
		if err != nil {
			c.fail(err)
			return
		}
		c.rx = c.rx[size:]
		m.LogSeq = n.logMessage()
		m.Stamps, c.stamps = c.stamps, nil
		c.inCost += m.Cost
		if charge > 0 {
			c.inPool[m] = charge
			n.poolUsed += charge
		}
		c.inq = append(c.inq, m)
	}
}

// fail ends the connection because the reader hit err, as the reader
// reports it.
func (c *conn) fail(err error) {
	c.failed = true
	c.node.Core.Closed(c.node.sim.now, c.id, p2p.ReadFailure(err))
	c.node.apply()
}

// release gives back what m held of the queue's account (nil: everything,
// the connection is closing).
func (c *conn) release(m *p2p.Message) {
	if m == nil {
		for _, charge := range c.inPool {
			c.node.poolUsed -= charge
		}
		clear(c.inPool)
		c.inq, c.inCost = nil, 0
		return
	}
	c.inCost -= m.Cost
	if charge, ok := c.inPool[m]; ok {
		c.node.poolUsed -= charge
		delete(c.inPool, m)
	}
}

// transfer moves bytes across the node's links to other nodes, as far as
// the socket buffers allow, and reports whether anything moved.
func (n *Node) transfer() bool {
	moved := false
	for _, id := range n.connIDs() {
		c := n.conns[id]
		if r := c.remote; r != nil && r.AutoRead && len(c.out) > 0 {
			r.take(c.write(math.MaxInt))
			moved = true
			continue
		}
		o := c.other
		if o == nil || len(c.out) == 0 {
			continue
		}
		room := SocketBuffer - len(o.rx)
		if room <= 0 {
			continue
		}
		frames := c.write(room)
		if len(frames) == 0 {
			continue
		}
		moved = true
		var b []byte
		for _, f := range frames {
			b = append(b, f.frame.Bytes...)
		}
		if n.sim.Latency == 0 {
			o.receive(b)
		} else {
			n.sim.after(n.sim.Latency, func() { o.receive(b) })
		}
	}
	return moved
}

// dial connects from to addr: a listening node there accepts (or refuses)
// the connection after the link's latency; anything else fails.
func (s *Sim) dial(from *Node, addr string, manual bool) {
	s.after(s.Latency, func() {
		ap, err := netip.ParseAddrPort(addr)
		to, listening := s.byAddr[ap]
		if err != nil || !listening || to == from {
			from.Core.DialFailed(s.now, addr, fmt.Sprintf("dial tcp %s: connection refused", addr))
			from.apply()
			return
		}
		s.link(from, to, addr, manual)
	})
}

// link connects two nodes: the listener admits first, as its accept loop
// does; a refusal closes the connection under the dialer.
func (s *Sim) link(from, to *Node, target string, manual bool) {
	in := to.Core.Connected(s.now, p2p.ConnInfo{Addr: from.Addr, Inbound: true})
	to.apply()
	out := from.Core.Connected(s.now, p2p.ConnInfo{Addr: to.Addr, Target: target, Manual: manual})
	if out.Refused {
		from.apply()
		if !in.Refused {
			to.Core.Closed(s.now, in.ID, p2p.ReadFailure(errEOF))
			to.apply()
		}
		return
	}
	oc := newConn(from, out.ID, to.Addr, out.Capture)
	if in.Refused {
		from.apply()
		s.after(s.Latency, func() {
			if !oc.closed {
				from.Core.Closed(s.now, oc.id, p2p.ReadFailure(errEOF))
				from.apply()
			}
		})
		return
	}
	ic := newConn(to, in.ID, from.Addr, in.Capture)
	oc.other, ic.other = ic, oc
	from.apply()
}

// magic is the node's network magic.
func (n *Node) magic() wire.BitcoinNet { return n.Core.Params().Network.Magic() }

// queue adds a frame the core sent: control frames go behind the control
// frames already queued, ahead of every bulk one.
func (c *conn) queue(f outFrame) {
	if !f.frame.Control {
		c.out = append(c.out, f)
		return
	}
	c.out = append(c.out, outFrame{})
	copy(c.out[c.ctrl+1:], c.out[c.ctrl:])
	c.out[c.ctrl] = f
	c.ctrl++
}
