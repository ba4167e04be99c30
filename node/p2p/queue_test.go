package p2p_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/addrman"
	"github.com/watchnode/watchnode/node/p2p"
)

// seedAddrs puts n routable addresses in the address book so getaddr has
// something to answer with.
func (h *harness) seedAddrs(n int) {
	var addrs []addrman.Address
	for i := range n {
		ip := netip.AddrFrom4([4]byte{byte(20 + i%200), byte(i / 200), 1, 1})
		addrs = append(addrs, addrman.Address{AddrPort: netip.AddrPortFrom(ip, 8333), Time: h.Now().Add(-time.Hour)})
	}
	if added := h.c.Addrs().Add(addrs, netip.Addr{}, h.Now()); added == 0 {
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

// fill queues a bulk frame of n payload bytes for r, as the core's own
// optional work would.
func (h *harness) fill(r *sim.Remote, n int, control bool) {
	h.t.Helper()
	f := sim.Filler(n)
	f.Control = control
	h.N.Do(func(c *p2p.Core) {
		if !c.QueueFrame(r.ID, f) {
			h.t.Fatal("filler refused")
		}
	})
}

func TestBackPressure(t *testing.T) {
	h := newHarness(t)
	h.seedAddrs(200)
	r := h.Established(true)

	// Our own bulk data fills the queue past its soft limit.
	h.fill(r, p2p.OutQueueLimit, false)
	if p, _ := h.c.Peer(r.ID); p.HasRoom() {
		t.Fatal("queue past its soft limit still has room")
	}

	r.Send(wire.NewMsgGetAddr())
	r.Send(getDataFor(chainhash.Hash{9}))
	r.Send(wire.NewMsgPing(77))
	if !r.Alive() {
		t.Fatal("peer dropped")
	}

	// Only the pong was queued, and it comes out ahead of the bulk frame.
	frames := r.Read()
	if len(frames) != 2 || frames[0].Frame.Command != wire.CmdPong || frames[1].Frame.Command != "filler" {
		var got []string
		for _, f := range frames {
			got = append(got, f.Frame.Command)
		}
		t.Fatalf("queued %v, want [pong filler]", got)
	}
	if h.debug(r).GetaddrDone {
		t.Fatal("getaddr marked answered although it was skipped")
	}

	// Drained: optional work resumes.
	r.Send(wire.NewMsgGetAddr())
	msgs := h.ExpectSent(r, wire.CmdAddrV2) // the peer sent sendaddrv2
	if n := len(msgs[0].(*wire.MsgAddrV2).AddrList); n == 0 || n > 200*23/100 {
		t.Errorf("getaddr answered with %d addresses, want 1..%d", n, 200*23/100)
	}
	r.Send(getDataFor(chainhash.Hash{9}))
	h.ExpectSent(r, wire.CmdNotFound)
	// Core answers getaddr once per connection.
	r.Send(wire.NewMsgGetAddr())
	h.ExpectSent(r)
}

// A getdata of the most items a message may carry is answered in notfound
// parts no larger than MaxReplyCost while the queue has room, not in one
// 1.8 MB frame past the outbound bound.
func TestLargeGetDataAnsweredInParts(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true)
	hashes := make([]chainhash.Hash, wire.MaxInvPerMsg)
	for i := range hashes {
		hashes[i] = chainhash.Hash{byte(i), byte(i >> 8), 1}
	}
	r.Send(getDataFor(hashes...))
	if !r.Alive() {
		t.Fatal("peer dropped")
	}
	frames := r.Read()
	answered := 0
	for _, f := range frames {
		if f.Frame.Command != wire.CmdNotFound {
			t.Fatalf("sent %s", f.Frame.Command)
		}
		if c := f.Frame.Cost(); c > p2p.MaxReplyCost {
			t.Errorf("notfound part costs %d, more than MaxReplyCost %d", c, p2p.MaxReplyCost)
		}
		answered += len(f.Msg.(*wire.MsgNotFound).InvList)
	}
	if len(frames) < 2 || answered == 0 || answered >= len(hashes) {
		t.Errorf("%d items answered in %d notfound, want some parts and not all %d items", answered, len(frames), len(hashes))
	}
	// Drained, the queue takes another part.
	r.Send(getDataFor(hashes[:10]...))
	if msgs := h.ExpectSent(r, wire.CmdNotFound); len(msgs[0].(*wire.MsgNotFound).InvList) != 10 {
		t.Errorf("after draining: %v", msgs)
	}
}

func TestGetAddrServedAsAddrWithoutSendAddrV2(t *testing.T) {
	h := newHarness(t)
	h.seedAddrs(100)
	r := h.Connect(true)
	r.Send(h.PeerVersion(70016))
	r.Send(wire.NewMsgVerAck())
	r.Drain()
	r.Send(wire.NewMsgGetAddr())
	msgs := h.ExpectSent(r, wire.CmdAddr)
	if len(msgs[0].(*wire.MsgAddr).AddrList) == 0 {
		t.Error("empty addr")
	}
}

func TestGetAddrFromOutboundIgnored(t *testing.T) {
	h := newHarness(t)
	h.seedAddrs(100)
	r := h.Established(false)
	r.Send(wire.NewMsgGetAddr())
	h.ExpectSent(r)
}

func TestSendOverflowDropsPeer(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true)
	h.fill(r, 2*p2p.OutQueueLimit, false)
	// Bulk past the hard limit means a producer ignored HasRoom.
	var sent bool
	h.N.Do(func(c *p2p.Core) { sent = c.Send(r.ID, wire.NewMsgNotFound()) })
	if sent {
		t.Fatal("bulk accepted past the hard limit")
	}
	h.ExpectDropped(r, p2p.DropStall, "send queue overflow")
}

// A peer that sends pings but does not read its pongs must not grow our
// memory without bound: past the hard limit the core stops serving it, as
// Core pauses a peer whose send buffer is full, and resumes once drained.
func TestServingPausedWhileOutQueueOverHardLimit(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true)
	other := h.Established(true)
	h.fill(r, 2*p2p.OutQueueLimit, true)
	r.Push(wire.NewMsgPing(1))
	other.Push(wire.NewMsgPing(2))
	h.N.ServeRound()
	if n := h.N.InQueueLen(r.ID); n != 1 {
		t.Fatalf("peer over its hard limit was served: %d inbound left", n)
	}
	h.ExpectSent(other, wire.CmdPong)
	if h.N.ServeRound() {
		t.Error("ServeRound reports work while the only queued peer is paused")
	}

	r.Read()
	h.N.ServeAll()
	if n := h.N.InQueueLen(r.ID); n != 0 {
		t.Fatal("not resumed after the queue drained")
	}
	h.ExpectSent(r, wire.CmdPong)
}

func TestFairness(t *testing.T) {
	h := newHarness(t)
	a := h.Established(true)
	b := h.Established(true)
	for i := range 1000 {
		a.Push(wire.NewMsgPing(uint64(i)))
	}
	b.Push(wire.NewMsgPing(5000))

	if !h.N.ServeRound() {
		t.Fatal("ServeRound did nothing")
	}
	msgs := h.ExpectSent(b, wire.CmdPong)
	if msgs[0].(*wire.MsgPong).Nonce != 5000 {
		t.Error("wrong pong for B")
	}
	if served := len(a.Drain()); served != p2p.PerTurn {
		t.Errorf("A was served %d messages in one round, want %d", served, p2p.PerTurn)
	}
	a.AutoRead = true
	h.S.Settle()
	if h.N.InQueueLen(a.ID) != 0 || len(a.Drain()) != 1000-p2p.PerTurn {
		t.Error("A not fully served eventually")
	}
}

// The send-stall rule: a peer with something queued must accept one whole
// message, or 64 KiB of a larger one, every WriteTimeout. A peer that keeps
// its window almost shut (it takes a few bytes now and then, never a whole
// message) is dropped one WriteTimeout after its queue stopped moving,
// whatever trickle it accepts.
func TestSendStallJudgedByProgress(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.WriteTimeout = time.Minute })
	r := h.Established(true)
	h.fill(r, 200<<10, false) // one big message, then nothing moves
	start := h.Now()
	for i := 0; i < 12; i++ {
		h.Advance(5 * time.Second)
		// A trickle: a few hundred bytes, never a whole message.
		h.N.Do(func(c *p2p.Core) { c.Written(h.Now(), r.ID, p2p.WriteReport{Bytes: 300}) })
		h.Tick()
		if h.Now().Sub(start) < time.Minute && !r.Alive() {
			t.Fatalf("dropped after %s", h.Now().Sub(start))
		}
	}
	d := h.ExpectDropped(r, p2p.DropStall, "send stall")
	if got := d.Time.Sub(start); got != time.Minute {
		t.Errorf("dropped %s after the queue stopped moving, want 1m0s", got)
	}

	// A slow but steady reader is not a staller: 64 KiB every 50 s moves
	// the same big message along.
	s := h.Established(true)
	h.fill(s, 300<<10, false)
	for range 4 {
		h.Advance(50 * time.Second)
		h.N.Do(func(c *p2p.Core) { c.Written(h.Now(), s.ID, p2p.WriteReport{Bytes: 64 << 10}) })
		h.Tick()
	}
	if !s.Alive() {
		t.Fatalf("a steady slow reader was dropped: %+v", h.LastDisconnect())
	}
}
