package engine

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// establishedKeepFrames is completeHandshake, but returns what we sent
// after the peer's verack (sendheaders, feefilter, [getaddr,] ping).
func (h *harness) establishedKeepFrames(inbound bool) (*peerState, []frameInfo) {
	h.t.Helper()
	p := h.connectFakePeer(inbound)
	h.deliver(p, peerVersion(70016))
	h.deliver(p, wire.NewMsgWTxIdRelay())
	h.deliver(p, wire.NewMsgSendAddrV2())
	h.drainSent(p)
	h.deliver(p, wire.NewMsgVerAck())
	var out []frameInfo
	for _, f := range drainFrames(p) {
		out = append(out, frameInfo{command: f.Command, request: f.Request, msg: decodeFrame(h.t, f.Frame)})
	}
	return p, out
}

type frameInfo struct {
	command string
	request uint64
	msg     wire.Message
}

func pingOf(t *testing.T, frames []frameInfo) (nonce, req uint64) {
	t.Helper()
	for _, f := range frames {
		if f.command == wire.CmdPing {
			return f.msg.(*wire.MsgPing).Nonce, f.request
		}
	}
	t.Fatal("no ping sent")
	return 0, 0
}

func TestPingAnswered(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(true)
	h.deliver(p, wire.NewMsgPing(0xabcdef))
	msgs := h.expectSent(p, wire.CmdPong)
	if n := msgs[0].(*wire.MsgPong).Nonce; n != 0xabcdef {
		t.Errorf("pong nonce %x, want abcdef", n)
	}
}

func TestPongMeasuresPing(t *testing.T) {
	h := newTestEngine(t)
	p, frames := h.establishedKeepFrames(true)
	nonce, req := pingOf(t, frames)
	if req == 0 {
		t.Fatal("ping frame carries no request id")
	}
	r := p.reqs.byID(req)
	if r == nil || r.Command != wire.CmdPing || r.Nonce != nonce {
		t.Fatalf("ping not tracked under id %d: %+v", req, r)
	}

	at := h.now()
	h.e.requestWritten(p.id, req, at)
	if !r.Written.Equal(at) {
		t.Fatalf("Written = %v, want %v", r.Written, at)
	}
	h.clock.Advance(50 * time.Millisecond)
	h.deliver(p, wire.NewMsgPong(nonce))
	if p.lastPing != 50*time.Millisecond || p.minPing != 50*time.Millisecond {
		t.Errorf("ping %v, min ping %v, want 50ms both", p.lastPing, p.minPing)
	}
	if tracked(p, wire.CmdPing) != nil {
		t.Error("answered ping still tracked")
	}
	if p.misbehavior != 0 || len(p.unsolicited) != 0 {
		t.Errorf("matched pong counted as unsolicited: %v, misbehavior %d", p.unsolicited, p.misbehavior)
	}

	// A slower second ping keeps the minimum.
	h.clock.Advance(DefaultPingInterval)
	h.e.tick(h.now())
	frames = nil
	for _, f := range drainFrames(p) {
		frames = append(frames, frameInfo{command: f.Command, request: f.Request, msg: decodeFrame(t, f.Frame)})
	}
	nonce, req = pingOf(t, frames)
	h.e.requestWritten(p.id, req, h.now())
	h.clock.Advance(80 * time.Millisecond)
	h.deliver(p, wire.NewMsgPong(nonce))
	if p.lastPing != 80*time.Millisecond || p.minPing != 50*time.Millisecond {
		t.Errorf("ping %v, min ping %v, want 80ms and 50ms", p.lastPing, p.minPing)
	}
}

func TestPongBeforeWriteMeasuresNothing(t *testing.T) {
	// A pong cannot honestly arrive before the ping was written; if the
	// writer's report is late, the round trip is not invented.
	h := newTestEngine(t)
	p, frames := h.establishedKeepFrames(true)
	nonce, _ := pingOf(t, frames)
	h.deliver(p, wire.NewMsgPong(nonce))
	if p.lastPing != 0 || p.minPing != 0 || tracked(p, wire.CmdPing) != nil {
		t.Errorf("ping %v, min %v, still tracked %v", p.lastPing, p.minPing, tracked(p, wire.CmdPing) != nil)
	}
}

func TestUnsolicitedPongPenalized(t *testing.T) {
	h := newTestEngine(t)
	p, frames := h.establishedKeepFrames(true)
	nonce, _ := pingOf(t, frames)

	h.deliver(p, wire.NewMsgPong(nonce+1))
	if p.unsolicited[wire.CmdPong] != 1 || p.misbehavior != unsolicitedPenalty {
		t.Fatalf("wrong-nonce pong: unsolicited %v, misbehavior %d", p.unsolicited, p.misbehavior)
	}
	if tracked(p, wire.CmdPing) == nil {
		t.Fatal("a wrong-nonce pong answered our ping")
	}
	for i := 2; i <= 4; i++ {
		h.deliver(p, wire.NewMsgPong(nonce+uint64(i)))
	}
	if !h.alive(p) {
		t.Fatal("dropped after 4 unsolicited pongs, want 5")
	}
	at := h.now()
	h.deliver(p, wire.NewMsgPong(nonce+5))
	h.expectDropped(p, DropViolation, "misbehaving")
	if _, banned := h.e.bans.banned(p.addr.Addr(), at); !banned {
		t.Error("misbehaving peer not discouraged")
	}
}

func TestPingTimeout(t *testing.T) {
	h := newTestEngine(t)
	p, frames := h.establishedKeepFrames(true)
	_, req := pingOf(t, frames)

	// Time queued behind our own data does not count.
	h.clock.Advance(time.Hour)
	h.e.tick(h.now())
	if !h.alive(p) {
		t.Fatal("dropped for a ping that was never written")
	}
	h.drainSent(p)

	h.e.requestWritten(p.id, req, h.now())
	h.clock.Advance(DefaultPingTimeout - time.Second)
	h.e.tick(h.now())
	if !h.alive(p) {
		t.Fatal("dropped before the ping timeout")
	}
	h.expectSent(p) // no second ping while one is outstanding
	h.clock.Advance(time.Second)
	h.e.tick(h.now())
	h.expectDropped(p, DropTimeout, "ping timeout")
}

func TestPingsRepeat(t *testing.T) {
	h := newTestEngine(t, func(c *Config) { c.PingInterval = 10 * time.Second })
	p, frames := h.establishedKeepFrames(true)
	nonce, req := pingOf(t, frames)
	h.e.requestWritten(p.id, req, h.now())
	h.clock.Advance(time.Second)
	h.deliver(p, wire.NewMsgPong(nonce))

	h.clock.Advance(9*time.Second - time.Millisecond)
	h.e.tick(h.now())
	h.expectSent(p)
	h.clock.Advance(time.Millisecond)
	h.e.tick(h.now())
	msgs := h.expectSent(p, wire.CmdPing)
	if msgs[0].(*wire.MsgPing).Nonce == nonce {
		t.Error("ping nonce reused")
	}
	h.clock.Advance(10 * time.Second)
	h.e.tick(h.now())
	h.expectSent(p) // the last one is unanswered
}

func testBlock(nonce uint32) *wire.MsgBlock {
	return wire.NewMsgBlock(wire.NewBlockHeader(1, &chainhash.Hash{}, &chainhash.Hash{}, 0x207fffff, nonce))
}

func TestGetDataTracking(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(false)
	blk := testBlock(7)
	bh := blk.BlockHash()
	other := chainhash.Hash{1, 2, 3}
	gd := wire.NewMsgGetData()
	gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &bh))
	gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &other))

	var rec doneRecorder
	r, ok := h.e.sendRequest(p, gd, time.Minute, rec.done, h.now())
	if !ok || r == nil || len(r.Items) != 2 {
		t.Fatalf("sendRequest: %+v %v", r, ok)
	}
	frames := drainFrames(p)
	if len(frames) != 1 || frames[0].Request != r.ID || frames[0].Control {
		t.Fatalf("getdata frame = %+v, want one bulk frame for request %d", frames, r.ID)
	}

	h.deliver(p, blk)
	rec.expect(t)
	if p.reqs.byID(r.ID) == nil || len(r.Items) != 1 || r.Items[bh] {
		t.Fatalf("after the block: request tracked %v, items %v", p.reqs.byID(r.ID) != nil, r.Items)
	}

	nf := wire.NewMsgNotFound()
	nf.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &other))
	h.deliver(p, nf)
	rec.expect(t, Answered)
	if p.reqs.byID(r.ID) != nil {
		t.Fatal("fully answered getdata still tracked")
	}
	if p.misbehavior != 0 || len(p.unsolicited) != 0 {
		t.Errorf("misbehavior %d, unsolicited %v", p.misbehavior, p.unsolicited)
	}

	// A notfound for nothing we asked is unsolicited and costs points.
	h.deliver(p, nf)
	if p.unsolicited[wire.CmdNotFound] != 1 || p.misbehavior != unsolicitedPenalty {
		t.Errorf("unsolicited notfound: %v, misbehavior %d", p.unsolicited, p.misbehavior)
	}
	rec.expect(t, Answered)
}

func TestGetHeadersAnswered(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(false)
	var rec doneRecorder
	gh := wire.NewMsgGetHeaders()
	gh.AddBlockLocatorHash(&chainhash.Hash{})
	r, _ := h.e.sendRequest(p, gh, time.Minute, rec.done, h.now())
	h.expectSent(p, wire.CmdGetHeaders)
	h.deliver(p, wire.NewMsgHeaders())
	rec.expect(t, Answered)
	if p.reqs.byID(r.ID) != nil || len(p.unsolicited) != 0 {
		t.Errorf("tracked %v, unsolicited %v", p.reqs.byID(r.ID) != nil, p.unsolicited)
	}
}

func TestUnsolicitedAllowed(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(true)
	hdrs := wire.NewMsgHeaders()
	hdrs.AddBlockHeader(&testBlock(1).Header)
	h.deliver(p, hdrs)
	h.deliver(p, wire.NewMsgAddr())
	h.deliver(p, wire.NewMsgAddrV2())
	h.deliver(p, testBlock(2))
	h.deliver(p, wire.NewMsgInv())
	if !h.alive(p) || p.misbehavior != 0 {
		t.Fatalf("allowed unsolicited messages punished: alive %v, misbehavior %d", h.alive(p), p.misbehavior)
	}
	want := map[string]uint64{wire.CmdHeaders: 1, wire.CmdAddr: 1, wire.CmdAddrV2: 1, wire.CmdBlock: 1}
	for cmd, n := range want {
		if p.unsolicited[cmd] != n {
			t.Errorf("unsolicited[%s] = %d, want %d (all: %v)", cmd, p.unsolicited[cmd], n, p.unsolicited)
		}
	}
}

func TestUnsolicitedTxPenalized(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(true)
	h.deliver(p, wire.NewMsgTx(2))
	if p.unsolicited[wire.CmdTx] != 1 || p.misbehavior != unsolicitedPenalty {
		t.Errorf("tx after relay=false: unsolicited %v, misbehavior %d", p.unsolicited, p.misbehavior)
	}
}

func TestRequestExpiry(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(false)
	var rec doneRecorder
	r, _ := h.e.sendRequest(p, wire.NewMsgGetHeaders(), 30*time.Second, rec.done, h.now())
	h.drainSent(p)

	// Not written yet: the clock has not started.
	h.clock.Advance(time.Minute)
	h.e.tick(h.now())
	rec.expect(t)

	h.e.requestWritten(p.id, r.ID, h.now())
	h.clock.Advance(30*time.Second - time.Millisecond)
	h.e.tick(h.now())
	rec.expect(t)
	h.clock.Advance(time.Millisecond)
	h.e.tick(h.now())
	rec.expect(t, Expired)
	if p.reqs.byID(r.ID) != nil || !h.alive(p) {
		t.Errorf("expired request tracked %v; peer alive %v (want true: sync decides)", p.reqs.byID(r.ID) != nil, h.alive(p))
	}
	// A late answer is merely unsolicited headers.
	h.deliver(p, wire.NewMsgHeaders())
	rec.expect(t, Expired)
	if p.misbehavior != 0 {
		t.Errorf("late headers penalized: %d", p.misbehavior)
	}
}

func TestRequestsReleasedOnDrop(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(false)
	var a, b doneRecorder
	h.e.sendRequest(p, wire.NewMsgGetHeaders(), time.Minute, a.done, h.now())
	h.e.sendRequest(p, wire.NewMsgGetData(), time.Minute, b.done, h.now())
	h.e.drop(p, dropReason(DropOperator, "test"), h.now())
	a.expect(t, Released)
	b.expect(t, Released)
	// Writer reports for a dropped peer are harmless.
	h.e.requestWritten(p.id, 1, h.now())
}

// When the ping timeout drops the peer, every other request that expired in
// the same tick must still be reported exactly once, or its owner (header
// sync) would wait for it forever.
func TestExpiryThatDropsStillReportsOthers(t *testing.T) {
	h := newTestEngine(t, func(c *Config) { c.PingTimeout = time.Minute })
	p, frames := h.establishedKeepFrames(true)
	_, pingReq := pingOf(t, frames)
	var rec doneRecorder
	r, _ := h.e.sendRequest(p, wire.NewMsgGetHeaders(), time.Minute, rec.done, h.now())
	h.e.requestWritten(p.id, pingReq, h.now())
	h.e.requestWritten(p.id, r.ID, h.now())
	h.clock.Advance(time.Minute)
	h.e.tick(h.now())
	h.expectDropped(p, DropTimeout, "ping timeout")
	if len(rec.outcomes) != 1 {
		t.Fatalf("getheaders outcomes = %v, want exactly one", rec.outcomes)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Answered: "answered", Expired: "expired", Released: "released"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}
