package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

func TestHandshakeOutbound(t *testing.T) {
	h := newTestEngine(t)
	p := h.connectFakePeer(false)

	// Our version goes first, before the peer says anything.
	msgs := h.expectSent(p, wire.CmdVersion)
	v := msgs[0].(*wire.MsgVersion)
	if v.ProtocolVersion != 70016 || uint32(v.ProtocolVersion) != protocol.ProtocolVersion {
		t.Errorf("our version speaks protocol %d, want 70016", v.ProtocolVersion)
	}
	if !v.DisableRelayTx {
		t.Error("our version asks for transaction relay, want relay=false")
	}
	if v.UserAgent != DefaultUserAgent {
		t.Errorf("our user agent = %q, want %q", v.UserAgent, DefaultUserAgent)
	}
	if v.Services != wire.SFNodeWitness {
		t.Errorf("our services = %v, want WITNESS only", v.Services)
	}
	if v.Nonce != p.localNonce || h.e.nonces[v.Nonce] != p.id {
		t.Errorf("version nonce %x is not recorded as ours for peer %d", v.Nonce, p.id)
	}
	if !v.Timestamp.Equal(h.now().Truncate(time.Second)) {
		t.Errorf("version timestamp = %v, want the engine clock %v", v.Timestamp, h.now())
	}

	// The peer's version: we answer with wtxidrelay, sendaddrv2, verack.
	h.deliver(p, peerVersion(70016))
	h.expectSent(p, wire.CmdWTxIdRelay, wire.CmdSendAddrV2, wire.CmdVerAck)
	if p.established() {
		t.Fatal("established before the peer's verack")
	}

	// The peer's feature negotiation before its verack.
	h.deliver(p, wire.NewMsgWTxIdRelay())
	h.deliver(p, wire.NewMsgSendAddrV2())
	h.expectSent(p)
	if !p.features.WtxidRelay || !p.features.SendAddrV2 {
		t.Errorf("features after wtxidrelay and sendaddrv2 = %+v", p.features)
	}

	// Its verack completes the handshake; we announce and start working.
	h.deliver(p, wire.NewMsgVerAck())
	if !p.established() {
		t.Fatal("not established after verack")
	}
	frames := drainFrames(p)
	var got []string
	for _, f := range frames {
		got = append(got, f.Command)
	}
	if strings.Join(got, ",") != "sendheaders,feefilter,getaddr,ping" {
		t.Fatalf("after verack we sent %v, want [sendheaders feefilter getaddr ping]", got)
	}
	if ff := decodeFrame(t, frames[1].Frame).(*wire.MsgFeeFilter); ff.MinFee != noTxFeeRate {
		t.Errorf("feefilter = %d, want %d (no transactions)", ff.MinFee, noTxFeeRate)
	}
	for _, f := range frames {
		if !f.Control {
			t.Errorf("%s was queued as bulk, want control", f.Command)
		}
	}
	if frames[2].Request == 0 || frames[3].Request == 0 {
		t.Errorf("getaddr and ping frames carry no request id: %d, %d", frames[2].Request, frames[3].Request)
	}
	if tracked(p, wire.CmdGetAddr) == nil || tracked(p, wire.CmdPing) == nil {
		t.Errorf("getaddr and ping are not tracked: %v", p.reqs)
	}

	// Announcements after verack are recorded.
	h.deliver(p, wire.NewMsgSendHeaders())
	h.deliver(p, &protocol.MsgSendCmpct{Announce: true, Version: 2})
	h.deliver(p, wire.NewMsgFeeFilter(1000))
	h.expectSent(p)
	want := Features{SendHeaders: true, SendAddrV2: true, WtxidRelay: true, SendCmpct: true,
		CmpctAnnounce: true, CmpctVersion: 2, FeeFilter: 1000, Relay: true}
	if p.features != want {
		t.Errorf("features = %+v, want %+v", p.features, want)
	}
	if p.misbehavior != 0 || p.ignored != 0 {
		t.Errorf("misbehavior %d, ignored %d after a clean handshake", p.misbehavior, p.ignored)
	}
}

func TestHandshakeInbound(t *testing.T) {
	h := newTestEngine(t)
	p := h.connectFakePeer(true)
	h.expectSent(p) // an inbound peer speaks first

	h.deliver(p, peerVersion(70016))
	msgs := h.expectSent(p, wire.CmdVersion, wire.CmdWTxIdRelay, wire.CmdSendAddrV2, wire.CmdVerAck)
	if v := msgs[0].(*wire.MsgVersion); v.Nonce != p.localNonce || !v.DisableRelayTx {
		t.Errorf("our version: nonce %x (want %x), relay disabled %v", v.Nonce, p.localNonce, v.DisableRelayTx)
	}

	h.deliver(p, wire.NewMsgVerAck())
	// No getaddr to inbound peers: they could feed us a poisoned list.
	h.expectSent(p, wire.CmdSendHeaders, wire.CmdFeeFilter, wire.CmdPing)
	if !p.established() {
		t.Fatal("not established")
	}
}

func TestHandshakeOldPeerGetsNoBIP155Messages(t *testing.T) {
	h := newTestEngine(t)
	p := h.connectFakePeer(true)
	h.deliver(p, peerVersion(70015))
	// wtxidrelay and sendaddrv2 are only for peers at 70016 and later.
	h.expectSent(p, wire.CmdVersion, wire.CmdVerAck)
}

func TestRedundantVersionAndVerackIgnored(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(true)
	first := p.version
	h.deliver(p, peerVersion(70016))
	h.deliver(p, wire.NewMsgVerAck())
	h.expectSent(p)
	if p.version != first || p.ignored != 2 || !h.alive(p) {
		t.Errorf("after a second version and verack: version replaced %v, ignored %d, alive %v",
			p.version != first, p.ignored, h.alive(p))
	}
}

func TestRefuseObsoleteVersion(t *testing.T) {
	h := newTestEngine(t)
	p := h.connectFakePeer(true)
	h.deliver(p, peerVersion(70014))
	d := h.expectDropped(p, DropRefused, "70014")
	if !strings.Contains(d.Reason, "obsolete") {
		t.Errorf("reason %q does not say the version is obsolete", d.Reason)
	}
	if h.link(p).closeCount() != 1 {
		t.Error("link not closed")
	}
	if _, banned := h.e.bans.banned(p.addr.Addr(), h.now()); banned {
		t.Error("an old peer was discouraged; it did nothing wrong")
	}
}

func TestRefuseSelfConnection(t *testing.T) {
	h := newTestEngine(t)
	out := h.connectFakePeer(false)
	ours := h.drainSent(out)[0].(*wire.MsgVersion)

	// Our own version arrives on an inbound connection.
	in := h.connectFakePeer(true)
	self := peerVersion(70016)
	self.Nonce = ours.Nonce
	h.deliver(in, self)
	h.expectDropped(in, DropRefused, "connected to self")
	h.expectSent(in) // nothing, not even our version
	if !h.alive(out) {
		t.Error("the outbound side was dropped too")
	}
	// Its nonce no longer matters once the outbound peer is gone.
	h.e.drop(out, dropReason(DropOperator, "test"), h.now())
	if len(h.e.nonces) != 0 {
		t.Errorf("nonces left after every peer dropped: %v", h.e.nonces)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	h := newTestEngine(t, func(c *Config) { c.HandshakeTimeout = 30 * time.Second })
	silent := h.connectFakePeer(true)
	halfway := h.connectFakePeer(false) // sends version, never verack
	h.deliver(halfway, peerVersion(70016))
	done := h.established(true)

	h.clock.Advance(30*time.Second - time.Millisecond)
	h.e.tick(h.now())
	if !h.alive(silent) || !h.alive(halfway) {
		t.Fatal("dropped before the handshake timeout")
	}
	h.clock.Advance(time.Millisecond)
	h.e.tick(h.now())
	h.expectDropped(halfway, DropTimeout, "handshake timeout")
	if h.alive(silent) {
		t.Error("silent peer survived the handshake timeout")
	}
	if !h.alive(done) {
		t.Error("an established peer was dropped by the handshake timeout")
	}
}

func TestMessagesBeforeHandshakeIgnored(t *testing.T) {
	h := newTestEngine(t)
	p := h.connectFakePeer(true)

	// Before version: everything but version is ignored.
	h.deliver(p, wire.NewMsgPing(1))
	h.deliver(p, wire.NewMsgVerAck())
	h.deliver(p, wire.NewMsgGetAddr())
	h.expectSent(p)
	if p.ignored != 3 || p.version != nil || p.verackRecv {
		t.Fatalf("before version: ignored %d, version %v, verack %v", p.ignored, p.version, p.verackRecv)
	}

	h.deliver(p, peerVersion(70016))
	h.drainSent(p)
	// Between version and verack: only handshake messages count.
	h.deliver(p, wire.NewMsgPing(2))
	h.deliver(p, wire.NewMsgSendHeaders())
	h.deliver(p, wire.NewMsgGetData())
	h.expectSent(p) // no pong
	if p.ignored != 6 || p.features.SendHeaders {
		t.Fatalf("before verack: ignored %d, sendheaders recorded %v", p.ignored, p.features.SendHeaders)
	}
	if !h.alive(p) || p.misbehavior != 0 {
		t.Fatal("ignoring is not punishing")
	}
}

func TestNegotiationAfterVerackIsViolation(t *testing.T) {
	for _, msg := range []wire.Message{wire.NewMsgWTxIdRelay(), wire.NewMsgSendAddrV2()} {
		t.Run(msg.Command(), func(t *testing.T) {
			h := newTestEngine(t)
			p := h.established(true)
			at := h.now()
			h.deliver(p, msg)
			h.expectDropped(p, DropViolation, msg.Command()+" received after verack")
			ban, banned := h.e.bans.banned(p.addr.Addr(), at)
			if !banned || ban.Manual {
				t.Fatalf("address not discouraged: %+v %v", ban, banned)
			}
			if !ban.Until.Equal(at.Add(24 * time.Hour)) {
				t.Errorf("discouraged until %v, want 24h after %v", ban.Until, at)
			}
			if _, still := h.e.bans.banned(p.addr.Addr(), at.Add(24*time.Hour-time.Second)); !still {
				t.Error("discouragement ended early")
			}
			if _, still := h.e.bans.banned(p.addr.Addr(), at.Add(24*time.Hour)); still {
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
			h := newTestEngine(t)
			p := h.established(true)
			h.deliver(p, msg)
			h.expectDropped(p, DropViolation, "bloom")
			if _, banned := h.e.bans.banned(p.addr.Addr(), h.now()); !banned {
				t.Error("address not discouraged")
			}
		})
	}
}

func TestSendTxRcnclRecorded(t *testing.T) {
	h := newTestEngine(t)
	p := h.connectFakePeer(true)
	h.deliver(p, peerVersion(70016))
	h.deliver(p, &protocol.MsgUnknown{Cmd: protocol.CmdSendTxRcncl, Payload: make([]byte, 12)})
	if !p.features.SendTxRcncl || p.ignored != 0 {
		t.Errorf("sendtxrcncl: recorded %v, ignored %d", p.features.SendTxRcncl, p.ignored)
	}
	h.deliver(p, wire.NewMsgVerAck())
	h.deliver(p, &protocol.MsgUnknown{Cmd: "madeup"})
	if p.ignored != 1 || !h.alive(p) {
		t.Errorf("unknown command: ignored %d, alive %v", p.ignored, h.alive(p))
	}
}
