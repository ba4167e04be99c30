package engine

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
)

// evictionPeer adds an inbound peer at ip, connected at the given offset
// from the clock's start, with a measured minimum ping (0: none).
func (h *harness) evictionPeer(ip string, connected time.Duration, minPing time.Duration) *peerState {
	h.t.Helper()
	p := h.connectAt(netip.AddrPortFrom(netip.MustParseAddr(ip), 8333), Inbound)
	p.connectedAt = newFakeClock().Now().Add(connected)
	p.minPing = minPing
	return p
}

func inboundPeers(e *Engine) []*peerState {
	var out []*peerState
	for _, id := range e.order {
		if p := e.peers[id]; p.inbound() {
			out = append(out, p)
		}
	}
	return out
}

func TestPickEviction(t *testing.T) {
	h := newTestEngine(t)
	// The 4 fastest peers: youngest and in the biggest group, so only the
	// ping protection saves them.
	var fast []*peerState
	for i := range 4 {
		fast = append(fast, h.evictionPeer(fmt.Sprintf("1.2.9.%d", i+1), time.Hour+time.Duration(i)*time.Minute, time.Duration(i+1)*time.Millisecond))
	}
	// The 4 longest connected, also in the biggest group, unmeasured.
	var old []*peerState
	for i := range 4 {
		old = append(old, h.evictionPeer(fmt.Sprintf("1.2.8.%d", i+1), time.Duration(i)*time.Second, 0))
	}
	// A slower measured peer is not among the 4 fastest.
	slow := h.evictionPeer("9.9.9.9", 10*time.Minute, 500*time.Millisecond)
	// The candidates: three in 1.2/16, two in 5.6/16.
	a := h.evictionPeer("1.2.3.4", 20*time.Minute, 0)
	youngest := h.evictionPeer("1.2.3.5", 40*time.Minute, 0)
	b := h.evictionPeer("1.2.200.1", 30*time.Minute, 0)
	c := h.evictionPeer("5.6.7.8", 50*time.Minute, 0)
	d := h.evictionPeer("5.6.7.9", 55*time.Minute, 0)
	_ = []*peerState{slow, a, b, c, d}

	got := pickEviction(inboundPeers(h.e))
	if got != youngest {
		t.Fatalf("evicted %v (connected %v), want %v, the youngest of the biggest group", got.addr, got.connectedAt, youngest.addr)
	}

	// The order of the candidates does not matter.
	ps := inboundPeers(h.e)
	slices.Reverse(ps)
	if got := pickEviction(ps); got != youngest {
		t.Errorf("reversed input: evicted %v", got.addr)
	}

	// With only protected peers left, nobody is evicted.
	if got := pickEviction(append(slices.Clone(fast), old...)); got != nil {
		t.Errorf("evicted protected peer %v", got.addr)
	}
	if got := pickEviction(nil); got != nil {
		t.Error("evicted from nothing")
	}
}

func TestPickEvictionUnmeasuredNotProtectedAsFast(t *testing.T) {
	h := newTestEngine(t)
	// Ten unmeasured peers in one group: 4 oldest protected, the youngest
	// of the other 6 goes.
	for i := range 10 {
		h.evictionPeer(fmt.Sprintf("1.2.3.%d", i), time.Duration(i)*time.Minute, 0)
	}
	got := pickEviction(inboundPeers(h.e))
	if got == nil || got.connectedAt != newFakeClock().Now().Add(9*time.Minute) {
		t.Fatalf("evicted %+v, want the youngest", got)
	}
}

func TestMakeInboundRoomNeverEvictsOutbound(t *testing.T) {
	h := newTestEngine(t, func(c *Config) { c.MaxPeers = 12; c.MaxOutbound = 2 })
	outs := []*peerState{
		h.connectAt(netip.MustParseAddrPort("1.2.3.100:8333"), OutboundFullRelay),
		h.connectAt(netip.MustParseAddrPort("1.2.3.101:8333"), Manual),
		h.connectAt(netip.MustParseAddrPort("1.2.3.102:8333"), OutboundFullRelay),
	}
	for _, p := range outs {
		p.connectedAt = h.now().Add(time.Hour) // the youngest of all
	}
	for i := range 9 {
		h.evictionPeer(fmt.Sprintf("1.2.3.%d", i+1), time.Duration(i)*time.Minute, 0)
	}
	if !h.e.makeInboundRoom(h.now()) {
		t.Fatal("9 of 10 inbound slots used, yet no room")
	}
	if len(h.e.disconnects) != 0 {
		t.Fatal("evicted with a free slot")
	}
	h.evictionPeer("1.2.3.50", 30*time.Minute, 0)
	if !h.e.makeInboundRoom(h.now()) {
		t.Fatal("no room made")
	}
	d := h.lastDisconnect()
	if d.Kind != DropEvicted || !d.Inbound {
		t.Fatalf("eviction = %+v, want an inbound peer evicted", d)
	}
	for _, p := range outs {
		if !h.alive(p) {
			t.Errorf("%s peer %v evicted", p.connType, p.addr)
		}
	}

	// No inbound slots at all: refuse, never touch outbound peers.
	h2 := newTestEngine(t, func(c *Config) { c.MaxPeers = 2; c.MaxOutbound = 2 })
	o1 := h2.connectFakePeer(false)
	o2 := h2.connectFakePeer(false)
	if h2.e.makeInboundRoom(h2.now()) {
		t.Error("room made with no inbound slots")
	}
	if !h2.alive(o1) || !h2.alive(o2) {
		t.Error("outbound peer evicted")
	}
}

// tcpPipe is one end of net.Pipe that claims a TCP remote address, so that
// Engine.connected can be driven without sockets.
type tcpPipe struct {
	net.Conn
	remote *net.TCPAddr
}

func (c tcpPipe) RemoteAddr() net.Addr { return c.remote }

func pipeFrom(ip string) (engineSide tcpPipe, remote net.Conn) {
	a, b := net.Pipe()
	return tcpPipe{Conn: a, remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}}, b
}

func TestConnectedRefusesBanned(t *testing.T) {
	h := newTestEngine(t)
	h.e.bans.add(netip.MustParseAddr("203.0.113.9"), "spam", true, h.now(), time.Hour)
	nc, remote := pipeFrom("203.0.113.9")
	defer remote.Close()
	h.e.connected(evConnected{nc: nc, inbound: true}, h.now())
	if len(h.e.peers) != 0 {
		t.Fatal("banned address admitted")
	}
	d := h.lastDisconnect()
	if d.Kind != DropRefused || d.Addr != "203.0.113.9:40000" {
		t.Errorf("refusal = %+v", d)
	}
	if _, err := remote.Read(make([]byte, 1)); err == nil {
		t.Error("refused connection left open")
	}
}

func TestConnectedStartsOutboundHandshake(t *testing.T) {
	h := newTestEngine(t)
	nc, remote := pipeFrom("203.0.113.10")
	defer remote.Close()
	h.e.targets = append(h.e.targets, &target{addr: "203.0.113.10:40000", persistent: true})
	h.e.dialing["203.0.113.10:40000"] = true
	h.e.connected(evConnected{nc: nc, target: "203.0.113.10:40000", manual: true}, h.now())
	if len(h.e.peers) != 1 || len(h.e.dialing) != 0 {
		t.Fatalf("peers %d, dialing %v", len(h.e.peers), h.e.dialing)
	}
	p := h.e.peers[h.e.order[0]]
	if p.connType != Manual || p.target != "203.0.113.10:40000" || h.e.targets[0].peer != p.id {
		t.Errorf("peer %+v not tied to its target", p)
	}
	// The writer goroutine puts our version on the pipe.
	msg := readMsg(t, remote)
	if _, ok := msg.(*wire.MsgVersion); !ok {
		t.Fatalf("first message %s, want version", msg.Command())
	}
	h.e.drop(p, dropReason(DropOperator, "test"), h.now())
	h.e.wg.Wait()
	if tg := h.e.targets[0]; tg.peer != 0 || !tg.nextAttempt.After(h.now()) {
		t.Errorf("target after drop = %+v, want a backoff", tg)
	}
}
