package p2p_test

import (
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

func TestHandshakeOutbound(t *testing.T) {
	h := newHarness(t)
	r := h.Connect(false)

	// Our version goes first, before the peer says anything.
	msgs := h.ExpectSent(r, wire.CmdVersion)
	v := msgs[0].(*wire.MsgVersion)
	if v.ProtocolVersion != 70016 || uint32(v.ProtocolVersion) != protocol.ProtocolVersion {
		t.Errorf("our version speaks protocol %d, want 70016", v.ProtocolVersion)
	}
	if !v.DisableRelayTx {
		t.Error("our version asks for transaction relay, want relay=false")
	}
	if v.UserAgent != p2p.DefaultUserAgent {
		t.Errorf("our user agent = %q, want %q", v.UserAgent, p2p.DefaultUserAgent)
	}
	if v.Services != wire.SFNodeNetwork|wire.SFNodeWitness {
		t.Errorf("our services = %v, want NETWORK and WITNESS (the default: we serve blocks)", v.Services)
	}
	if owner, ok := h.c.NonceOwner(v.Nonce); v.Nonce != h.debug(r).LocalNonce || !ok || owner != r.ID {
		t.Errorf("version nonce %x is not recorded as ours for peer %d", v.Nonce, r.ID)
	}
	if !v.Timestamp.Equal(h.Now().Truncate(time.Second)) {
		t.Errorf("version timestamp = %v, want the core's clock %v", v.Timestamp, h.Now())
	}

	// The peer's version: we answer with wtxidrelay, sendaddrv2, verack.
	r.Send(h.PeerVersion(70016))
	h.ExpectSent(r, wire.CmdWTxIdRelay, wire.CmdSendAddrV2, wire.CmdVerAck)
	if r.Info().Established {
		t.Fatal("established before the peer's verack")
	}

	// The peer's feature negotiation before its verack.
	r.Send(wire.NewMsgWTxIdRelay())
	r.Send(wire.NewMsgSendAddrV2())
	h.ExpectSent(r)
	if f := r.Info().Features; !f.WtxidRelay || !f.SendAddrV2 {
		t.Errorf("features after wtxidrelay and sendaddrv2 = %+v", f)
	}

	// Its verack completes the handshake; we announce and start working.
	r.Send(wire.NewMsgVerAck())
	if !r.Info().Established {
		t.Fatal("not established after verack")
	}
	frames := r.Read()
	var got []string
	for _, f := range frames {
		got = append(got, f.Frame.Command)
	}
	if strings.Join(got, ",") != "sendheaders,feefilter,getaddr,ping" {
		t.Fatalf("after verack we sent %v, want [sendheaders feefilter getaddr ping]", got)
	}
	if ff := frames[1].Msg.(*wire.MsgFeeFilter); ff.MinFee != p2p.NoTxFeeRate {
		t.Errorf("feefilter = %d, want %d (no transactions)", ff.MinFee, p2p.NoTxFeeRate)
	}
	for _, f := range frames {
		if !f.Frame.Control {
			t.Errorf("%s was queued as bulk, want control", f.Frame.Command)
		}
	}
	if frames[2].Request == 0 || frames[3].Request == 0 {
		t.Errorf("getaddr and ping frames carry no request id: %d, %d", frames[2].Request, frames[3].Request)
	}
	if h.tracked(r, wire.CmdGetAddr) == nil || h.tracked(r, wire.CmdPing) == nil {
		t.Errorf("getaddr and ping are not tracked: %v", h.debug(r).Requests)
	}

	// Announcements after verack are recorded.
	r.Send(wire.NewMsgSendHeaders())
	r.Send(&protocol.MsgSendCmpct{Announce: true, Version: 2})
	r.Send(wire.NewMsgFeeFilter(1000))
	h.ExpectSent(r)
	want := p2p.Features{SendHeaders: true, SendAddrV2: true, WtxidRelay: true, SendCmpct: true,
		CmpctAnnounce: true, CmpctVersion: 2, FeeFilter: 1000, Relay: true}
	info := r.Info()
	if info.Features != want {
		t.Errorf("features = %+v, want %+v", info.Features, want)
	}
	if info.Misbehavior != 0 || info.Ignored != 0 {
		t.Errorf("misbehavior %d, ignored %d after a clean handshake", info.Misbehavior, info.Ignored)
	}
}

func TestHandshakeInbound(t *testing.T) {
	h := newHarness(t)
	r := h.Connect(true)
	h.ExpectSent(r) // an inbound peer speaks first

	r.Send(h.PeerVersion(70016))
	msgs := h.ExpectSent(r, wire.CmdVersion, wire.CmdWTxIdRelay, wire.CmdSendAddrV2, wire.CmdVerAck)
	if v := msgs[0].(*wire.MsgVersion); v.Nonce != h.debug(r).LocalNonce || !v.DisableRelayTx {
		t.Errorf("our version: nonce %x (want %x), relay disabled %v", v.Nonce, h.debug(r).LocalNonce, v.DisableRelayTx)
	}

	r.Send(wire.NewMsgVerAck())
	// No getaddr to inbound peers: they could feed us a poisoned list.
	h.ExpectSent(r, wire.CmdSendHeaders, wire.CmdFeeFilter, wire.CmdPing)
	if !r.Info().Established {
		t.Fatal("not established")
	}
}

func TestHandshakeOldPeerGetsNoBIP155Messages(t *testing.T) {
	h := newHarness(t)
	r := h.Connect(true)
	r.Send(h.PeerVersion(70015))
	// wtxidrelay and sendaddrv2 are only for peers at 70016 and later.
	h.ExpectSent(r, wire.CmdVersion, wire.CmdVerAck)
}

func TestRedundantVersionAndVerackIgnored(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true)
	first := h.debug(r).Version
	r.Send(h.PeerVersion(70016))
	r.Send(wire.NewMsgVerAck())
	h.ExpectSent(r)
	if info := r.Info(); h.debug(r).Version != first || info.Ignored != 2 || !r.Alive() {
		t.Errorf("after a second version and verack: version replaced %v, ignored %d, alive %v",
			h.debug(r).Version != first, info.Ignored, r.Alive())
	}
}

// An honest peer sends each one-time message once; repeating them costs a
// point each, so a flood of them ends in a drop instead of costing us
// forever.
func TestRepeatedOneTimeMessagesPenalized(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true)
	r.Send(wire.NewMsgSendHeaders())
	if info := r.Info(); info.Misbehavior != 0 {
		t.Fatalf("first sendheaders penalized: %d", info.Misbehavior)
	}
	for i := 1; i < 100; i++ {
		r.Send(wire.NewMsgSendHeaders())
		if info := r.Info(); info.Misbehavior != i || info.Redundant != uint64(i) {
			t.Fatalf("after %d repeats: misbehavior %d, redundant %d", i, info.Misbehavior, info.Redundant)
		}
	}
	r.Send(wire.NewMsgSendHeaders())
	h.ExpectDropped(r, p2p.DropViolation, "repeated sendheaders")
}

func TestRefuseObsoleteVersion(t *testing.T) {
	h := newHarness(t)
	r := h.Connect(true)
	r.Send(h.PeerVersion(70014))
	d := h.ExpectDropped(r, p2p.DropRefused, "70014")
	if !strings.Contains(d.Reason, "obsolete") {
		t.Errorf("reason %q does not say the version is obsolete", d.Reason)
	}
	if _, banned := h.c.Banned(r.Addr.Addr(), h.Now()); banned {
		t.Error("an old peer was discouraged; it did nothing wrong")
	}
}

func TestRefuseSelfConnection(t *testing.T) {
	h := newHarness(t)
	out := h.Connect(false)
	ours := out.Drain()[0].(*wire.MsgVersion)

	// Our own version arrives on an inbound connection.
	in := h.Connect(true)
	self := h.PeerVersion(70016)
	self.Nonce = ours.Nonce
	in.Send(self)
	h.ExpectDropped(in, p2p.DropRefused, "connected to self")
	h.ExpectSent(in) // nothing, not even our version
	if !out.Alive() {
		t.Error("the outbound side was dropped too")
	}
	// Its nonce no longer matters once the outbound peer is gone.
	h.N.Do(func(c *p2p.Core) { c.Drop(out.ID, p2p.Because(p2p.DropOperator, "test")) })
	if n := h.c.NonceCount(); n != 0 {
		t.Errorf("%d nonces left after every peer dropped", n)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.HandshakeTimeout = 30 * time.Second })
	silent := h.Connect(true)
	halfway := h.Connect(false) // sends version, never verack
	halfway.Send(h.PeerVersion(70016))
	done := h.Established(true)
	silent.AutoRead, halfway.AutoRead, done.AutoRead = true, true, true

	h.Advance(30*time.Second - time.Millisecond)
	h.Tick()
	if !silent.Alive() || !halfway.Alive() {
		t.Fatal("dropped before the handshake timeout")
	}
	h.Advance(time.Millisecond)
	h.Tick()
	h.ExpectDropped(halfway, p2p.DropTimeout, "handshake timeout")
	if silent.Alive() {
		t.Error("silent peer survived the handshake timeout")
	}
	if !done.Alive() {
		t.Error("an established peer was dropped by the handshake timeout")
	}
}

func TestMessagesBeforeHandshakeIgnored(t *testing.T) {
	h := newHarness(t)
	r := h.Connect(true)

	// Before version: everything but version is ignored.
	r.Send(wire.NewMsgPing(1))
	r.Send(wire.NewMsgVerAck())
	r.Send(wire.NewMsgGetAddr())
	h.ExpectSent(r)
	if info, d := r.Info(), h.debug(r); info.Ignored != 3 || d.Version != nil || d.VerackRecv {
		t.Fatalf("before version: ignored %d, version %v, verack %v", info.Ignored, d.Version, d.VerackRecv)
	}

	r.Send(h.PeerVersion(70016))
	r.Drain()
	// Between version and verack: only handshake messages count.
	r.Send(wire.NewMsgPing(2))
	r.Send(wire.NewMsgSendHeaders())
	r.Send(wire.NewMsgGetData())
	h.ExpectSent(r) // no pong
	if info := r.Info(); info.Ignored != 6 || info.Features.SendHeaders {
		t.Fatalf("before verack: ignored %d, sendheaders recorded %v", info.Ignored, info.Features.SendHeaders)
	}
	if !r.Alive() || r.Info().Misbehavior != 0 {
		t.Fatal("ignoring is not punishing")
	}
}

func TestNegotiationAfterVerackIsViolation(t *testing.T) {
	for _, msg := range []wire.Message{wire.NewMsgWTxIdRelay(), wire.NewMsgSendAddrV2()} {
		t.Run(msg.Command(), func(t *testing.T) {
			h := newHarness(t)
			r := h.Established(true)
			at := h.Now()
			r.Send(msg)
			h.ExpectDropped(r, p2p.DropViolation, msg.Command()+" received after verack")
			ban, banned := h.c.Banned(r.Addr.Addr(), at)
			if !banned || ban.Manual {
				t.Fatalf("address not discouraged: %+v %v", ban, banned)
			}
			if !ban.Until.Equal(at.Add(24 * time.Hour)) {
				t.Errorf("discouraged until %v, want 24h after %v", ban.Until, at)
			}
			if _, still := h.c.Banned(r.Addr.Addr(), at.Add(24*time.Hour-time.Second)); !still {
				t.Error("discouragement ended early")
			}
			if _, still := h.c.Banned(r.Addr.Addr(), at.Add(24*time.Hour)); still {
				t.Error("discouragement outlasted 24h")
			}
		})
	}
}

func TestBloomMessagesDropped(t *testing.T) {
	for _, msg := range []wire.Message{
		wire.NewMsgFilterLoad([]byte{1}, 1, 0, wire.BloomUpdateNone),
		wire.NewMsgFilterAdd([]byte{1}),
		wire.NewMsgFilterClear(),
		wire.NewMsgMemPool(),
	} {
		t.Run(msg.Command(), func(t *testing.T) {
			h := newHarness(t)
			r := h.Established(true)
			r.Send(msg)
			h.ExpectDropped(r, p2p.DropViolation, "bloom")
			if _, banned := h.c.Banned(r.Addr.Addr(), h.Now()); !banned {
				t.Error("address not discouraged")
			}
		})
	}
}

func TestSendTxRcnclRecorded(t *testing.T) {
	h := newHarness(t)
	r := h.Connect(true)
	r.Send(h.PeerVersion(70016))
	r.Send(&protocol.MsgUnknown{Cmd: protocol.CmdSendTxRcncl, Payload: make([]byte, 12)})
	if info := r.Info(); !info.Features.SendTxRcncl || info.Ignored != 0 {
		t.Errorf("sendtxrcncl: recorded %v, ignored %d", info.Features.SendTxRcncl, info.Ignored)
	}
	r.Send(wire.NewMsgVerAck())
	r.Send(&protocol.MsgUnknown{Cmd: "madeup"})
	if info := r.Info(); info.Ignored != 1 || !r.Alive() {
		t.Errorf("unknown command: ignored %d, alive %v", info.Ignored, r.Alive())
	}
}

// TestOutboundPeerMustServeBlocks: a peer we chose to connect to that
// offers no blocks (or no witness data) is refused after its version, as
// Core refuses outbound peers without its desirable service flags; one
// that offers the last 288 blocks is kept, and so is an inbound peer that
// offers nothing.
func TestOutboundPeerMustServeBlocks(t *testing.T) {
	for _, tc := range []struct {
		services wire.ServiceFlag
		inbound  bool
		kept     bool
	}{
		{wire.SFNodeWitness, false, false},
		{wire.SFNodeNetwork, false, false},
		{wire.SFNodeNetworkLimited | wire.SFNodeWitness, false, true},
		{wire.SFNodeNetwork | wire.SFNodeWitness, false, true},
		{0, true, true},
	} {
		h := newHarness(t)
		r := h.Connect(tc.inbound)
		v := h.PeerVersion(70016)
		v.Services = tc.services
		r.Send(v)
		if r.Alive() != tc.kept {
			t.Fatalf("services %v inbound %v: alive %v, want %v", tc.services, tc.inbound, r.Alive(), tc.kept)
		}
		if !tc.kept {
			h.ExpectDropped(r, p2p.DropRefused, "does not offer blocks")
		}
	}
}
