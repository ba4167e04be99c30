package sim

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// Remote is a scripted peer connected to a node: the test decides what it
// sends (messages or raw bytes) and when it reads what the node sent.
type Remote struct {
	node *Node
	c    *conn
	ID   p2p.PeerID
	Addr netip.AddrPort
	// AutoRead makes the remote read everything the node sends as soon as
	// it is queued (a peer that keeps up); otherwise nothing is written to
	// it until Read (a peer that does not read its socket).
	AutoRead bool
	// inbox holds what AutoRead took, until Read returns it.
	inbox  []Received
	closed bool
}

// Received is one frame the node sent to a remote.
type Received struct {
	Frame   *p2p.Frame
	Request uint64 // the tracked request it carries, 0 if none
	// LogSeq is its number in the node's message log (Node.LogSeq).
	LogSeq uint64
	Msg    wire.Message
}

// ConnectRemote connects a scripted peer at a fresh address: inbound, it
// connected to the node; outbound, the node dialled it (as the node's
// Connected sees a dial that succeeded, without asking for it). The
// admission says whether the node took it.
func (n *Node) ConnectRemote(inbound bool) (*Remote, p2p.Admission) {
	return n.ConnectRemoteAt(n.sim.newAddr(), p2p.ConnInfo{Inbound: inbound})
}

// ConnectRemoteAt connects a scripted peer at addr with the connection's
// details in ci (its Addr is set to addr).
func (n *Node) ConnectRemoteAt(addr netip.AddrPort, ci p2p.ConnInfo) (*Remote, p2p.Admission) {
	ci.Addr = addr
	adm := n.Core.Connected(n.sim.now, ci)
	r := &Remote{node: n, Addr: addr, ID: adm.ID}
	if adm.Refused {
		r.closed = true
		n.apply()
		return r, adm
	}
	r.c = newConn(n, adm.ID, addr, adm.Capture)
	r.c.remote = r
	n.sim.remotes = append(n.sim.remotes, r)
	n.apply()
	return r, adm
}

// Push sends msg to the node without letting the node serve it: the
// node's reader decodes it into its inbound queue.
func (r *Remote) Push(msg wire.Message) {
	b, err := protocol.EncodeFrame(r.node.magic(), msg)
	if err != nil {
		panic(fmt.Sprintf("sim: encoding %s: %v", msg.Command(), err))
	}
	r.PushBytes(b)
}

// PushBytes sends raw bytes without letting the node serve them.
func (r *Remote) PushBytes(b []byte) {
	if r.closed || r.c.closed {
		return
	}
	r.c.receive(b)
}

// Send sends msg and lets the world settle (the node serves it).
func (r *Remote) Send(msg wire.Message) {
	r.Push(msg)
	r.node.sim.Settle()
}

// SendBytes sends raw bytes and lets the world settle.
func (r *Remote) SendBytes(b []byte) {
	r.PushBytes(b)
	r.node.sim.Settle()
}

// Read reads everything the node has queued for the remote (reporting the
// writes to the node's core, as a writer would) and returns it decoded.
func (r *Remote) Read() []Received {
	if r.c != nil && !r.c.closed {
		r.take(r.c.write(math.MaxInt))
	}
	out := r.inbox
	r.inbox = nil
	return out
}

// ReadAtMost is Read for a remote that takes at most limit bytes (at
// least one frame) from its connection: a slow reader.
func (r *Remote) ReadAtMost(limit int) []Received {
	if r.c != nil && !r.c.closed {
		r.take(r.c.write(limit))
	}
	out := r.inbox
	r.inbox = nil
	return out
}

// Drain reads like Read and returns just the messages.
func (r *Remote) Drain() []wire.Message {
	var msgs []wire.Message
	for _, f := range r.Read() {
		msgs = append(msgs, f.Msg)
	}
	return msgs
}

// take decodes frames the remote read.
func (r *Remote) take(frames []outFrame) {
	for _, f := range frames {
		pf, err := protocol.ReadFrame(bytes.NewReader(f.frame.Bytes), r.node.magic())
		if err != nil {
			panic(fmt.Sprintf("sim: the node sent a bad frame: %v", err))
		}
		msg, err := protocol.Decode(pf.Command, pf.Payload)
		if err != nil {
			panic(fmt.Sprintf("sim: the node sent an undecodable %s: %v", pf.Command, err))
		}
		if msg.Command() != f.frame.Command {
			panic(fmt.Sprintf("sim: frame says %s, the core said %s", msg.Command(), f.frame.Command))
		}
		r.inbox = append(r.inbox, Received{Frame: f.frame, Request: f.request, LogSeq: f.logSeq, Msg: msg})
	}
}

// Close closes the connection from the remote's side.
func (r *Remote) Close() {
	if r.closed || r.c.closed {
		return
	}
	r.closed = true
	r.c.failed = true
	r.node.Core.Closed(r.node.sim.now, r.ID, p2p.ReadFailure(errEOF))
	r.node.apply()
}

// Peek decodes what waits for the remote without reading it: the node's
// writer has not written it, so no request in it has started its clock.
func (r *Remote) Peek() []Received {
	if r.c == nil {
		return nil
	}
	saved := r.inbox
	r.inbox = nil
	r.take(r.c.out)
	out := r.inbox
	r.inbox = saved
	return out
}

// Closed reports whether the connection is closed (by either side).
func (r *Remote) Closed() bool { return r.closed || r.c == nil || r.c.closed }

// Alive reports whether the node still has the remote as a peer.
func (r *Remote) Alive() bool { return r.node.Alive(r.ID) }

// Info returns what the node's core says of the remote.
func (r *Remote) Info() p2p.PeerInfo {
	info, _ := r.node.PeerInfo(r.ID)
	return info
}
