package p2p_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/p2p"
)

// evictionPeer adds an inbound peer at ip, connected at the given offset
// from the clock's start, with a measured minimum ping (0: none).
func (h *harness) evictionPeer(ip string, connected time.Duration, minPing time.Duration) p2p.PeerID {
	h.t.Helper()
	r, adm := h.N.ConnectRemoteAt(netip.AddrPortFrom(netip.MustParseAddr(ip), 8333), p2p.ConnInfo{Inbound: true})
	if adm.Refused {
		h.t.Fatalf("refused: %s", adm.Reason.Text)
	}
	h.c.SetPeerTimes(r.ID, sim.Start.Add(connected), minPing)
	return r.ID
}

func (h *harness) inboundPeers() []p2p.PeerID {
	var out []p2p.PeerID
	for _, p := range h.N.Snapshot().Peers {
		if p.Inbound {
			out = append(out, p.ID)
		}
	}
	return out
}

func TestPickEviction(t *testing.T) {
	h := newHarness(t)
	// The 4 fastest peers: youngest and in the biggest group, so only the
	// ping protection saves them.
	var fast []p2p.PeerID
	for i := range 4 {
		fast = append(fast, h.evictionPeer(fmt.Sprintf("1.2.9.%d", i+1), time.Hour+time.Duration(i)*time.Minute, time.Duration(i+1)*time.Millisecond))
	}
	// The 4 longest connected, also in the biggest group, unmeasured.
	var old []p2p.PeerID
	for i := range 4 {
		old = append(old, h.evictionPeer(fmt.Sprintf("1.2.8.%d", i+1), time.Duration(i)*time.Second, 0))
	}
	// A slower measured peer is not among the 4 fastest.
	h.evictionPeer("9.9.9.9", 10*time.Minute, 500*time.Millisecond)
	// The candidates: three in 1.2/16, two in 5.6/16.
	h.evictionPeer("1.2.3.4", 20*time.Minute, 0)
	youngest := h.evictionPeer("1.2.3.5", 40*time.Minute, 0)
	h.evictionPeer("1.2.200.1", 30*time.Minute, 0)
	h.evictionPeer("5.6.7.8", 50*time.Minute, 0)
	h.evictionPeer("5.6.7.9", 55*time.Minute, 0)

	got, ok := h.c.PickEviction()
	if !ok || got != youngest {
		t.Fatalf("evicted %d, want %d, the youngest of the biggest group", got, youngest)
	}

	// The order of the candidates does not matter.
	ps := h.inboundPeers()
	slices.Reverse(ps)
	if got, _ := h.c.PickEvictionAmong(ps); got != youngest {
		t.Errorf("reversed input: evicted %d", got)
	}

	// With only protected peers left, nobody is evicted.
	if got, ok := h.c.PickEvictionAmong(append(slices.Clone(fast), old...)); ok {
		t.Errorf("evicted protected peer %d", got)
	}
	if _, ok := h.c.PickEvictionAmong(nil); ok {
		t.Error("evicted from nothing")
	}
}

func TestPickEvictionUnmeasuredNotProtectedAsFast(t *testing.T) {
	h := newHarness(t)
	// Ten unmeasured peers in one group: 4 oldest protected, the youngest
	// of the other 6 goes.
	var ids []p2p.PeerID
	for i := range 10 {
		ids = append(ids, h.evictionPeer(fmt.Sprintf("1.2.3.%d", i), time.Duration(i)*time.Minute, 0))
	}
	got, ok := h.c.PickEviction()
	if !ok || got != ids[9] {
		t.Fatalf("evicted %d, want the youngest (%d)", got, ids[9])
	}
}

func TestMakeInboundRoomNeverEvictsOutbound(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.MaxPeers = 12; c.MaxOutbound = 2 })
	var outs []*sim.Remote
	for i, ci := range []p2p.ConnInfo{{}, {Manual: true, Target: "1.2.3.101:8333"}, {}} {
		r, adm := h.N.ConnectRemoteAt(netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("1.2.3.%d", 100+i)), 8333), ci)
		if adm.Refused {
			t.Fatal(adm.Reason.Text)
		}
		h.c.SetPeerTimes(r.ID, h.Now().Add(time.Hour), 0) // the youngest of all
		outs = append(outs, r)
	}
	for i := range 9 {
		h.evictionPeer(fmt.Sprintf("1.2.3.%d", i+1), time.Duration(i)*time.Minute, 0)
	}
	if !h.c.MakeInboundRoom(h.Now()) {
		t.Fatal("9 of 10 inbound slots used, yet no room")
	}
	if len(h.c.DisconnectLog()) != 0 {
		t.Fatal("evicted with a free slot")
	}
	h.evictionPeer("1.2.3.50", 30*time.Minute, 0)
	if !h.c.MakeInboundRoom(h.Now()) {
		t.Fatal("no room made")
	}
	d := h.LastDisconnect()
	if d.Kind != p2p.DropEvicted || !d.Inbound {
		t.Fatalf("eviction = %+v, want an inbound peer evicted", d)
	}
	for _, r := range outs {
		if !r.Alive() {
			t.Errorf("%s peer %v evicted", h.debug(r).ConnType, r.Addr)
		}
	}

	// No inbound slots at all: refuse, never touch outbound peers.
	h2 := newHarness(t, func(c *p2p.Config) { c.MaxPeers = 2; c.MaxOutbound = 2 })
	o1 := h2.Connect(false)
	o2 := h2.Connect(false)
	if h2.c.MakeInboundRoom(h2.Now()) {
		t.Error("room made with no inbound slots")
	}
	if _, adm := h2.N.ConnectRemote(true); !adm.Refused || adm.Reason.Kind != p2p.DropRefused {
		t.Errorf("inbound admitted with no slot: %+v", adm)
	}
	if !o1.Alive() || !o2.Alive() {
		t.Error("outbound peer evicted")
	}
}

func TestConnectedRefusesBanned(t *testing.T) {
	h := newHarness(t)
	h.c.AddBan(netip.MustParseAddr("203.0.113.9"), "spam", true, h.Now(), time.Hour)
	_, adm := h.N.ConnectRemoteAt(netip.MustParseAddrPort("203.0.113.9:40000"), p2p.ConnInfo{Inbound: true})
	if !adm.Refused || h.c.PeerCount() != 0 {
		t.Fatal("banned address admitted")
	}
	d := h.LastDisconnect()
	if d.Kind != p2p.DropRefused || d.Addr != "203.0.113.9:40000" || d.Reason != adm.Reason.Text {
		t.Errorf("refusal = %+v", d)
	}
	// The operator's own target is dialled even when banned.
	_, adm = h.N.ConnectRemoteAt(netip.MustParseAddrPort("203.0.113.9:8333"), p2p.ConnInfo{Target: "203.0.113.9:8333", Manual: true})
	if adm.Refused {
		t.Error("manual connection to a banned address refused")
	}
}

func TestConnectedStartsOutboundHandshake(t *testing.T) {
	h := newHarness(t)
	h.N.Do(func(c *p2p.Core) { c.Connect(h.Now(), "203.0.113.10:40000") })
	if len(h.N.Dials) != 1 || h.c.Dialing() != 1 {
		t.Fatalf("dials %v, dialing %d", h.N.Dials, h.c.Dialing())
	}
	// The dial succeeded: the shell reports the connection.
	r, adm := h.N.ConnectRemoteAt(netip.MustParseAddrPort("203.0.113.10:40000"), p2p.ConnInfo{Target: "203.0.113.10:40000", Manual: true})
	if adm.Refused || h.c.PeerCount() != 1 || h.c.Dialing() != 0 {
		t.Fatalf("peers %d, dialing %d", h.c.PeerCount(), h.c.Dialing())
	}
	d := h.debug(r)
	if d.ConnType != p2p.Manual || d.Target != "203.0.113.10:40000" || h.c.Targets()[0].Peer != r.ID {
		t.Errorf("peer %+v not tied to its target", d)
	}
	h.ExpectSent(r, "version")
	h.N.Do(func(c *p2p.Core) { c.Drop(r.ID, p2p.Because(p2p.DropOperator, "test")) })
	if tg := h.c.Targets()[0]; tg.Peer != 0 || !tg.NextAttempt.After(h.Now()) {
		t.Errorf("target after drop = %+v, want a backoff", tg)
	}
}
