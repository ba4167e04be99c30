package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/addrman"
	"github.com/watchnode/watchnode/node/peer"
)

// seedAddrs puts n routable addresses in the address book so getaddr has
// something to answer with.
func (h *harness) seedAddrs(n int) {
	var addrs []addrman.Address
	for i := range n {
		ip := netip.AddrFrom4([4]byte{byte(20 + i%200), byte(i / 200), 1, 1})
		addrs = append(addrs, addrman.Address{AddrPort: netip.AddrPortFrom(ip, 8333), Time: h.now().Add(-time.Hour)})
	}
	if added := h.e.addrs.Add(addrs, netip.Addr{}, h.now()); added == 0 {
		h.t.Fatal("no addresses added")
	}
}

func getDataFor(hashes ...chainhash.Hash) *wire.MsgGetData {
	gd := wire.NewMsgGetData()
	for i := range hashes {
		gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &hashes[i]))
	}
	return gd
}

func TestBackPressure(t *testing.T) {
	h := newTestEngine(t)
	h.seedAddrs(200)
	p := h.established(true)

	// Our own bulk data fills the queue past its soft limit.
	big := filler(t, outQueueLimit)
	if !p.out.Push(peer.Outbound{Frame: big, Command: "filler"}) {
		t.Fatal("push refused")
	}
	if p.out.HasRoom() {
		t.Fatal("queue past its soft limit still has room")
	}

	h.deliver(p, wire.NewMsgGetAddr())
	h.deliver(p, getDataFor(chainhash.Hash{9}))
	h.deliver(p, wire.NewMsgPing(77))
	if !h.alive(p) {
		t.Fatal("peer dropped")
	}

	// Only the pong was queued, and it comes out ahead of the bulk frame.
	frames := drainFrames(p)
	if len(frames) != 2 || frames[0].Command != wire.CmdPong || frames[1].Command != "filler" {
		var got []string
		for _, f := range frames {
			got = append(got, f.Command)
		}
		t.Fatalf("queued %v, want [pong filler]", got)
	}
	if p.getaddrDone {
		t.Fatal("getaddr marked answered although it was skipped")
	}

	// Drained: optional work resumes.
	h.deliver(p, wire.NewMsgGetAddr())
	msgs := h.expectSent(p, wire.CmdAddrV2) // the peer sent sendaddrv2
	if n := len(msgs[0].(*wire.MsgAddrV2).AddrList); n == 0 || n > 200*23/100 {
		t.Errorf("getaddr answered with %d addresses, want 1..%d", n, 200*23/100)
	}
	h.deliver(p, getDataFor(chainhash.Hash{9}))
	h.expectSent(p, wire.CmdNotFound)
	// Core answers getaddr once per connection.
	h.deliver(p, wire.NewMsgGetAddr())
	h.expectSent(p)
}

func TestGetAddrServedAsAddrWithoutSendAddrV2(t *testing.T) {
	h := newTestEngine(t)
	h.seedAddrs(100)
	p := h.connectFakePeer(true)
	h.deliver(p, peerVersion(70016))
	h.deliver(p, wire.NewMsgVerAck())
	h.drainSent(p)
	h.deliver(p, wire.NewMsgGetAddr())
	msgs := h.expectSent(p, wire.CmdAddr)
	if len(msgs[0].(*wire.MsgAddr).AddrList) == 0 {
		t.Error("empty addr")
	}
}

func TestGetAddrFromOutboundIgnored(t *testing.T) {
	h := newTestEngine(t)
	h.seedAddrs(100)
	p := h.established(false)
	h.deliver(p, wire.NewMsgGetAddr())
	h.expectSent(p)
}

func TestSendOverflowDropsPeer(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(true)
	p.out.Push(peer.Outbound{Frame: filler(t, 2*outQueueLimit), Command: "filler"})
	// Bulk past the hard limit means a producer ignored HasRoom.
	if h.e.send(p, wire.NewMsgNotFound(), h.now()) {
		t.Fatal("bulk accepted past the hard limit")
	}
	h.expectDropped(p, DropStall, "send queue overflow")
}

// A peer that sends pings but does not read its pongs must not grow our
// memory without bound: past the hard limit the engine stops serving it, as
// Core pauses a peer whose send buffer is full, and resumes once drained.
func TestServingPausedWhileOutQueueOverHardLimit(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(true)
	other := h.established(true)
	p.out.Push(peer.Outbound{Frame: filler(t, 2*outQueueLimit), Command: "filler", Control: true})
	h.push(p, wire.NewMsgPing(1))
	h.push(other, wire.NewMsgPing(2))
	h.e.serveRound(h.now())
	if p.in.Len() != 1 {
		t.Fatalf("peer over its hard limit was served: %d inbound left", p.in.Len())
	}
	h.expectSent(other, wire.CmdPong)
	if h.e.serveRound(h.now()) {
		t.Error("serveRound reports work while the only queued peer is paused")
	}

	drainFrames(p)
	h.serveAll()
	if p.in.Len() != 0 {
		t.Fatal("not resumed after the queue drained")
	}
	h.expectSent(p, wire.CmdPong)
}

func TestFairness(t *testing.T) {
	h := newTestEngine(t)
	a := h.established(true)
	b := h.established(true)
	for i := range 1000 {
		h.push(a, wire.NewMsgPing(uint64(i)))
	}
	h.push(b, wire.NewMsgPing(5000))

	if !h.e.serveRound(h.now()) {
		t.Fatal("serveRound did nothing")
	}
	msgs := h.expectSent(b, wire.CmdPong)
	if msgs[0].(*wire.MsgPong).Nonce != 5000 {
		t.Error("wrong pong for B")
	}
	if served := len(h.drainSent(a)); served > perTurn || served == 0 {
		t.Errorf("A was served %d messages in one round, want 1..%d", served, perTurn)
	}
	if left := a.in.Len(); left != 1000-perTurn {
		t.Errorf("A has %d messages left, want %d", left, 1000-perTurn)
	}
	h.serveAll()
	if a.in.Len() != 0 || len(h.drainSent(a)) != 1000-perTurn {
		t.Error("A not fully served eventually")
	}
}

func TestBroadcastSharesOneFrame(t *testing.T) {
	h := newTestEngine(t)
	a := h.established(true)
	b := h.established(false)
	full := h.established(true)
	pending := h.connectFakePeer(true)
	full.out.Push(peer.Outbound{Frame: filler(t, outQueueLimit), Command: "filler"})

	n := h.e.broadcast(wire.NewMsgInv(), nil, h.now())
	if n != 2 {
		t.Fatalf("broadcast reached %d peers, want 2 (not the full one, not the one mid-handshake)", n)
	}
	fa, fb := drainFrames(a), drainFrames(b)
	if len(fa) != 1 || len(fb) != 1 || &fa[0].Frame[0] != &fb[0].Frame[0] {
		t.Fatal("broadcast did not share one framed message")
	}
	if len(drainFrames(pending)) != 0 || len(drainFrames(full)) != 1 {
		t.Error("broadcast reached a peer it should have skipped")
	}
	if n := h.e.broadcast(wire.NewMsgInv(), func(p *peerState) bool { return !p.inbound() }, h.now()); n != 1 {
		t.Errorf("filtered broadcast reached %d peers, want 1", n)
	}
}
