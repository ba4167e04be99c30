package engine

// The deterministic test harness: an engine with a fake clock and no I/O,
// and fake peers made of in-memory queues and a link that records Close.
// Tests push peer.Inbound messages into a peer's inbound queue, drive the
// engine with serveRound and tick, and read what it queued by decoding the
// frames in the peer's outbound queue, exactly as the writer goroutine and
// the remote node would.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// fakeClock is a manual clock; it starts at a fixed, realistic instant.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// fakeLink stands in for a socket: it records Close and reports fixed
// traffic counters.
type fakeLink struct {
	mu         sync.Mutex
	closed     int
	sent, recv peer.Traffic
}

func (l *fakeLink) Close() {
	l.mu.Lock()
	l.closed++
	l.mu.Unlock()
}

func (l *fakeLink) Traffic() (sent, recv peer.Traffic) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent, l.recv
}

func (l *fakeLink) closeCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// harness bundles an engine, its clock and the test.
type harness struct {
	t     testing.TB
	e     *Engine
	clock *fakeClock
	links map[PeerID]*fakeLink
	// nextIP numbers the fake peers' addresses.
	nextIP int
}

// errNoDial keeps the engine from touching the network if a test makes it
// try to dial (e.g. after learning gossiped addresses).
var errNoDial = errors.New("tests do not dial")

func newTestEngine(t testing.TB, mod ...func(*Config)) *harness {
	t.Helper()
	clock := newFakeClock()
	cfg := Config{
		Network: protocol.Regtest,
		Now:     clock.Now,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errNoDial
		},
	}
	for _, m := range mod {
		m(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{t: t, e: e, clock: clock, links: make(map[PeerID]*fakeLink)}
}

func (h *harness) now() time.Time { return h.clock.Now() }

// connectFakePeer adds a peer at a fresh address. Like Engine.connected, it
// sends our version at once to an outbound peer.
func (h *harness) connectFakePeer(inbound bool) *peerState {
	h.nextIP++
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(h.nextIP >> 8), byte(h.nextIP), 1}), 18444)
	ct := OutboundFullRelay
	if inbound {
		ct = Inbound
	}
	return h.connectAt(addr, ct)
}

// connectAt adds a peer of type ct at addr.
func (h *harness) connectAt(addr netip.AddrPort, ct ConnType) *peerState {
	h.t.Helper()
	h.e.lastID++
	id := h.e.lastID
	l := &fakeLink{}
	h.links[id] = l
	in := peer.NewInQueue(inQueueLimit, nil)
	out := peer.NewOutQueue(outQueueLimit)
	p := h.e.addPeer(id, l, in, out, addr, ct, h.now())
	if ct != Inbound {
		h.e.sendVersion(p, h.now())
	}
	return p
}

func (h *harness) link(p *peerState) *fakeLink { return h.links[p.id] }

// push queues msg as if p's reader goroutine had decoded it, without
// serving it.
func (h *harness) push(p *peerState, msg wire.Message) {
	h.t.Helper()
	payload, err := protocol.Encode(msg)
	if err != nil {
		h.t.Fatalf("encoding %s: %v", msg.Command(), err)
	}
	ok := p.in.Push(peer.Inbound{Msg: msg, Command: msg.Command(), Size: protocol.HeaderSize + len(payload), Received: h.now(), Payload: payload})
	if !ok {
		h.t.Fatalf("inbound queue of peer %d is closed", p.id)
	}
}

// deliver queues msg from p and lets the engine serve it.
func (h *harness) deliver(p *peerState, msg wire.Message) {
	h.t.Helper()
	h.push(p, msg)
	h.serveAll()
}

// serveAll runs serveRound until every queue is empty.
func (h *harness) serveAll() {
	for h.e.serveRound(h.now()) {
	}
}

// drainFrames pops everything queued for p, in the order the writer would.
func drainFrames(p *peerState) []peer.Outbound {
	var out []peer.Outbound
	for {
		m, ok := p.out.Pop()
		if !ok {
			return out
		}
		out = append(out, m)
	}
}

// decodeFrame parses one frame as the remote peer would.
func decodeFrame(t testing.TB, frame []byte) wire.Message {
	t.Helper()
	f, err := protocol.ReadFrame(bytes.NewReader(frame), protocol.Regtest.Magic())
	if err != nil {
		t.Fatalf("reading frame: %v", err)
	}
	msg, err := protocol.Decode(f.Command, f.Payload)
	if err != nil {
		t.Fatalf("decoding %s: %v", f.Command, err)
	}
	return msg
}

// drainSent pops and decodes everything queued for p.
func (h *harness) drainSent(p *peerState) []wire.Message {
	h.t.Helper()
	var msgs []wire.Message
	for _, m := range drainFrames(p) {
		msg := decodeFrame(h.t, m.Frame)
		if msg.Command() != m.Command {
			h.t.Fatalf("frame says %s, Outbound.Command says %s", msg.Command(), m.Command)
		}
		msgs = append(msgs, msg)
	}
	return msgs
}

func commands(msgs []wire.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Command()
	}
	return out
}

func (h *harness) expectSent(p *peerState, want ...string) []wire.Message {
	h.t.Helper()
	msgs := h.drainSent(p)
	if got := commands(msgs); strings.Join(got, ",") != strings.Join(want, ",") {
		h.t.Fatalf("peer %d was sent %v, want %v", p.id, got, want)
	}
	return msgs
}

var peerNonce uint64 = 0x5eed_0000_0000

// peerVersion is a version message as a recent Bitcoin Core sends it.
func peerVersion(pver int32) *wire.MsgVersion {
	peerNonce++
	me := wire.NewNetAddressIPPort(nil, 0, wire.SFNodeNetwork|wire.SFNodeWitness)
	you := wire.NewNetAddressIPPort(nil, 0, 0)
	v := wire.NewMsgVersion(me, you, peerNonce, 0)
	v.ProtocolVersion = pver
	v.Services = wire.SFNodeNetwork | wire.SFNodeWitness
	v.UserAgent = "/Satoshi:27.0.0/"
	return v
}

// completeHandshake runs the version handshake with p, the peer announcing
// wtxidrelay and sendaddrv2 as Core does, and discards what we sent.
func (h *harness) completeHandshake(p *peerState) {
	h.t.Helper()
	h.deliver(p, peerVersion(int32(protocol.ProtocolVersion)))
	h.deliver(p, wire.NewMsgWTxIdRelay())
	h.deliver(p, wire.NewMsgSendAddrV2())
	h.deliver(p, wire.NewMsgVerAck())
	if !p.established() {
		h.t.Fatalf("peer %d not established after the handshake", p.id)
	}
	h.drainSent(p)
}

// established returns an established peer with nothing left in its queue.
func (h *harness) established(inbound bool) *peerState {
	h.t.Helper()
	p := h.connectFakePeer(inbound)
	h.completeHandshake(p)
	return p
}

func (h *harness) alive(p *peerState) bool {
	_, ok := h.e.peers[p.id]
	return ok
}

// lastDisconnect returns the newest disconnect record.
func (h *harness) lastDisconnect() Disconnect {
	h.t.Helper()
	if len(h.e.disconnects) == 0 {
		h.t.Fatal("no disconnect recorded")
	}
	return h.e.disconnects[len(h.e.disconnects)-1]
}

// expectDropped checks that p is gone with kind and a reason containing
// text.
func (h *harness) expectDropped(p *peerState, kind DropKind, text string) Disconnect {
	h.t.Helper()
	if h.alive(p) {
		h.t.Fatalf("peer %d is still connected, want dropped (%s: %s)", p.id, kind, text)
	}
	d := h.lastDisconnect()
	if d.ID != p.id || d.Kind != kind || !strings.Contains(d.Reason, text) {
		h.t.Fatalf("last disconnect = %+v, want peer %d, kind %s, reason containing %q", d, p.id, kind, text)
	}
	return d
}

// tracked returns p's request for command, or nil.
func tracked(p *peerState, command string) *Request {
	for _, r := range p.reqs {
		if r.Command == command {
			return r
		}
	}
	return nil
}

// sentPing finds our ping among frames and returns its nonce and request ID.
func sentPing(t *testing.T, frames []peer.Outbound) (nonce, req uint64) {
	t.Helper()
	for _, f := range frames {
		if f.Command == wire.CmdPing {
			return decodeFrame(t, f.Frame).(*wire.MsgPing).Nonce, f.Request
		}
	}
	t.Fatalf("no ping among %d frames", len(frames))
	return 0, 0
}

// filler is a valid bulk frame of n payload bytes, for filling queues.
func filler(t *testing.T, n int) []byte {
	t.Helper()
	b, err := protocol.AppendFrame(nil, protocol.Regtest.Magic(), "filler", make([]byte, n))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// doneRecorder collects the outcomes a RequestDone reports.
type doneRecorder struct{ outcomes []Outcome }

func (d *doneRecorder) done(_ *Request, o Outcome) { d.outcomes = append(d.outcomes, o) }

func (d *doneRecorder) expect(t *testing.T, want ...Outcome) {
	t.Helper()
	if fmt.Sprint(d.outcomes) != fmt.Sprint(want) {
		t.Fatalf("request outcomes = %v, want %v", d.outcomes, want)
	}
}

// readMsg reads and decodes one message from the remote end of a pipe.
func readMsg(t *testing.T, c net.Conn) wire.Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := protocol.ReadFrame(c, protocol.Regtest.Magic())
	if err != nil {
		t.Fatalf("reading frame: %v", err)
	}
	msg, err := protocol.Decode(f.Command, f.Payload)
	if err != nil {
		t.Fatalf("decoding %s: %v", f.Command, err)
	}
	return msg
}
