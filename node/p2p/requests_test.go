package p2p_test

import (
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
)

func TestPingAnswered(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true)
	r.Send(wire.NewMsgPing(0xabcdef))
	msgs := h.ExpectSent(r, wire.CmdPong)
	if n := msgs[0].(*wire.MsgPong).Nonce; n != 0xabcdef {
		t.Errorf("pong nonce %x, want abcdef", n)
	}
}

func TestPongMeasuresPing(t *testing.T) {
	h := newHarness(t)
	r, frames := h.establishedKeepFrames(true)
	nonce, req := pingOf(t, frames)
	if req == 0 {
		t.Fatal("ping frame carries no request id")
	}
	tr := h.tracked(r, wire.CmdPing)
	if tr == nil || tr.ID != req || tr.Nonce != nonce {
		t.Fatalf("ping not tracked under id %d: %+v", req, tr)
	}
	// The remote read it: the writer stamped it then.
	if !tr.Written.Equal(h.Now()) {
		t.Fatalf("Written = %v, want %v", tr.Written, h.Now())
	}
	h.Advance(50 * time.Millisecond)
	r.Send(wire.NewMsgPong(nonce))
	if d := h.debug(r); d.LastPing != 50*time.Millisecond || d.MinPing != 50*time.Millisecond {
		t.Errorf("ping %v, min ping %v, want 50ms both", d.LastPing, d.MinPing)
	}
	if h.tracked(r, wire.CmdPing) != nil {
		t.Error("answered ping still tracked")
	}
	if info := r.Info(); info.Misbehavior != 0 || len(info.Unsolicited) != 0 {
		t.Errorf("matched pong counted as unsolicited: %v, misbehavior %d", info.Unsolicited, info.Misbehavior)
	}

	// A slower second ping keeps the minimum.
	h.Advance(p2p.DefaultPingInterval)
	h.Tick()
	nonce, _ = pingOf(t, r.Read())
	h.Advance(80 * time.Millisecond)
	r.Send(wire.NewMsgPong(nonce))
	if d := h.debug(r); d.LastPing != 80*time.Millisecond || d.MinPing != 50*time.Millisecond {
		t.Errorf("ping %v, min ping %v, want 80ms and 50ms", d.LastPing, d.MinPing)
	}
}

func TestPongBeforeWriteMeasuresNothing(t *testing.T) {
	// A pong cannot honestly arrive before the ping was written; if the
	// writer has not started it, the round trip is not invented.
	h := newHarness(t)
	r := h.Connect(true)
	r.Send(h.PeerVersion(70016))
	r.Drain()
	r.Send(wire.NewMsgVerAck())
	nonce, _ := pingOf(t, r.Peek()) // seen, but not yet written
	r.Send(wire.NewMsgPong(nonce))
	if d := h.debug(r); d.LastPing != 0 || d.MinPing != 0 || h.tracked(r, wire.CmdPing) != nil {
		t.Errorf("ping %v, min %v, still tracked %v", d.LastPing, d.MinPing, h.tracked(r, wire.CmdPing) != nil)
	}
}

// The core takes a request's write stamp from the reply that carries it
// (Message.Stamps), so the round trip is measured even when the writer's
// own report has not reached the core yet.
func TestStampTravelsWithTheReply(t *testing.T) {
	h := newHarness(t)
	r := h.Connect(true)
	r.Send(h.PeerVersion(70016))
	r.Drain()
	r.Send(wire.NewMsgVerAck())
	frames := r.Peek()
	nonce, req := pingOf(t, frames)
	at := h.Now()
	h.Advance(30 * time.Millisecond)
	// The reply arrives with the stamp, before any write report.
	m, err := p2p.DecodeMessage(wire.CmdPong, pongPayload(t, nonce), h.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.Stamps = []p2p.RequestStamp{{ID: req, At: at}}
	h.N.Do(func(c *p2p.Core) { c.Message(h.Now(), r.ID, m) })
	if d := h.debug(r); d.LastPing != 30*time.Millisecond {
		t.Errorf("ping %v, want 30ms from the in-band stamp", d.LastPing)
	}
}

func pongPayload(t *testing.T, nonce uint64) []byte {
	t.Helper()
	var b [8]byte
	for i := range b {
		b[i] = byte(nonce >> (8 * i))
	}
	return b[:]
}

func TestUnsolicitedPongPenalized(t *testing.T) {
	h := newHarness(t)
	r, frames := h.establishedKeepFrames(true)
	nonce, _ := pingOf(t, frames)

	r.Send(wire.NewMsgPong(nonce + 1))
	if info := r.Info(); info.Unsolicited[wire.CmdPong] != 1 || info.Misbehavior != p2p.UnsolicitedPenalty {
		t.Fatalf("wrong-nonce pong: unsolicited %v, misbehavior %d", info.Unsolicited, info.Misbehavior)
	}
	if h.tracked(r, wire.CmdPing) == nil {
		t.Fatal("a wrong-nonce pong answered our ping")
	}
	for i := 2; i <= 4; i++ {
		r.Send(wire.NewMsgPong(nonce + uint64(i)))
	}
	if !r.Alive() {
		t.Fatal("dropped after 4 unsolicited pongs, want 5")
	}
	at := h.Now()
	r.Send(wire.NewMsgPong(nonce + 5))
	h.ExpectDropped(r, p2p.DropViolation, "misbehaving")
	if _, banned := h.c.Banned(r.Addr.Addr(), at); !banned {
		t.Error("misbehaving peer not discouraged")
	}
	// The ban event says which address, so the events list reads alone.
	var ban *p2p.Event
	for i := range h.N.Events {
		if h.N.Events[i].Kind == p2p.EventBan {
			ban = &h.N.Events[i]
		}
	}
	if ban == nil || !strings.HasPrefix(ban.Text, r.Addr.Addr().String()+" discouraged") || !strings.Contains(ban.Text, "misbehaving") {
		t.Errorf("ban event = %+v, want it to name %s and the reason", ban, r.Addr.Addr())
	}
}

func TestPingTimeout(t *testing.T) {
	// The send-stall rule would drop a peer that reads nothing for an
	// hour; this test is about the ping's own clock.
	h := newHarness(t, func(c *p2p.Config) { c.WriteTimeout = 2 * time.Hour })
	r := h.Connect(true)
	r.Send(h.PeerVersion(70016))
	r.Drain()
	r.Send(wire.NewMsgVerAck())

	// Time queued behind our own data does not count.
	h.Advance(time.Hour)
	h.Tick()
	if !r.Alive() {
		t.Fatal("dropped for a ping that was never written")
	}
	r.Drain() // written now

	h.Advance(p2p.DefaultPingTimeout - time.Second)
	h.Tick()
	if !r.Alive() {
		t.Fatal("dropped before the ping timeout")
	}
	h.ExpectSent(r) // no second ping while one is outstanding
	h.Advance(time.Second)
	h.Tick()
	h.ExpectDropped(r, p2p.DropTimeout, "ping timeout")
}

// A pong waiting in our own inbound queue when the ping's deadline passes
// is not the peer's fault: the request waits for it (btcd's
// deadlineOffset solves the same problem).
func TestDeadlineWaitsForQueuedAnswer(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.PingTimeout = time.Minute })
	r, frames := h.establishedKeepFrames(true)
	nonce, _ := pingOf(t, frames)
	r.AutoRead = true

	h.Advance(59 * time.Second)
	r.Push(wire.NewMsgPong(nonce)) // received in time, not yet handled
	h.S.Skip(2 * time.Second)      // the core was busy meanwhile
	h.N.Tick()                     // the deadline has passed, the answer waits in the queue
	if !r.Alive() {
		t.Fatalf("dropped with the answer in our own queue: %+v", h.LastDisconnect())
	}
	h.N.ServeAll()
	if h.tracked(r, wire.CmdPing) != nil || !r.Alive() {
		t.Fatal("the queued pong did not answer the ping")
	}

	// A queue holding only messages received after the deadline does not
	// save the request.
	h.Advance(p2p.DefaultPingInterval)
	h.Tick()
	h.Advance(time.Minute + time.Second)
	r.Push(wire.NewMsgPing(1))
	h.N.Tick()
	h.ExpectDropped(r, p2p.DropTimeout, "ping timeout")
}

func TestPingsRepeat(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.PingInterval = 10 * time.Second })
	r, frames := h.establishedKeepFrames(true)
	nonce, _ := pingOf(t, frames)
	h.Advance(time.Second)
	r.Send(wire.NewMsgPong(nonce))

	h.Advance(9*time.Second - time.Millisecond)
	h.Tick()
	h.ExpectSent(r)
	h.Advance(time.Millisecond)
	h.Tick()
	msgs := h.ExpectSent(r, wire.CmdPing)
	if msgs[0].(*wire.MsgPing).Nonce == nonce {
		t.Error("ping nonce reused")
	}
	h.Advance(10 * time.Second)
	h.Tick()
	h.ExpectSent(r) // the last one is unanswered
}

func testBlock(nonce uint32) *wire.MsgBlock {
	return wire.NewMsgBlock(wire.NewBlockHeader(1, &chainhash.Hash{}, &chainhash.Hash{}, 0x207fffff, nonce))
}

func TestGetDataTracking(t *testing.T) {
	h := newHarness(t)
	r := h.Established(false)
	blk := testBlock(7)
	bh := blk.BlockHash()
	other := chainhash.Hash{1, 2, 3}
	gd := wire.NewMsgGetData()
	gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &bh))
	gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &other))

	var rec doneRecorder
	req := h.request(r, gd, time.Minute, rec.done)
	if len(req.Items) != 2 {
		t.Fatalf("request: %+v", req)
	}
	frames := r.Read()
	if len(frames) != 1 || frames[0].Request != req.ID || frames[0].Frame.Control {
		t.Fatalf("getdata frames = %+v, want one bulk frame for request %d", frames, req.ID)
	}

	r.Send(blk)
	rec.expect(t)
	if !h.trackedID(r, req.ID) || len(req.Items) != 1 || req.Items[bh] {
		t.Fatalf("after the block: request tracked %v, items %v", h.trackedID(r, req.ID), req.Items)
	}

	nf := wire.NewMsgNotFound()
	nf.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &other))
	r.Send(nf)
	rec.expect(t, p2p.Answered)
	if h.trackedID(r, req.ID) {
		t.Fatal("fully answered getdata still tracked")
	}
	if info := r.Info(); info.Misbehavior != 0 || len(info.Unsolicited) != 0 {
		t.Errorf("misbehavior %d, unsolicited %v", info.Misbehavior, info.Unsolicited)
	}

	// A notfound for nothing we asked is unsolicited and costs points.
	r.Send(nf)
	if info := r.Info(); info.Unsolicited[wire.CmdNotFound] != 1 || info.Misbehavior != p2p.UnsolicitedPenalty {
		t.Errorf("unsolicited notfound: %v, misbehavior %d", info.Unsolicited, info.Misbehavior)
	}
	rec.expect(t, p2p.Answered)
}

func TestGetHeadersAnswered(t *testing.T) {
	h := newHarness(t)
	r := h.Established(false)
	var rec doneRecorder
	gh := wire.NewMsgGetHeaders()
	gh.AddBlockLocatorHash(&chainhash.Hash{})
	req := h.request(r, gh, time.Minute, rec.done)
	h.ExpectSent(r, wire.CmdGetHeaders)
	r.Send(wire.NewMsgHeaders())
	rec.expect(t, p2p.Answered)
	if info := r.Info(); h.trackedID(r, req.ID) || len(info.Unsolicited) != 0 {
		t.Errorf("tracked %v, unsolicited %v", h.trackedID(r, req.ID), info.Unsolicited)
	}
}

func TestUnsolicitedAllowed(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true)
	hdrs := wire.NewMsgHeaders()
	hdrs.AddBlockHeader(&testBlock(1).Header)
	r.Send(hdrs)
	r.Send(wire.NewMsgAddr())
	r.Send(wire.NewMsgAddrV2())
	r.Send(testBlock(2))
	r.Send(wire.NewMsgInv())
	if info := r.Info(); !r.Alive() || info.Misbehavior != 0 {
		t.Fatalf("allowed unsolicited messages punished: alive %v, misbehavior %d", r.Alive(), info.Misbehavior)
	}
	want := map[string]uint64{wire.CmdHeaders: 1, wire.CmdAddr: 1, wire.CmdAddrV2: 1, wire.CmdBlock: 1}
	info := r.Info()
	for cmd, n := range want {
		if info.Announcements[cmd] != n {
			t.Errorf("announcements[%s] = %d, want %d (all: %v)", cmd, info.Announcements[cmd], n, info.Announcements)
		}
	}
	if len(info.Unsolicited) != 0 {
		t.Errorf("allowed announcements counted as penalized unsolicited responses: %v", info.Unsolicited)
	}
}

func TestUnsolicitedTxPenalized(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true)
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 1}, nil, nil))
	tx.AddTxOut(wire.NewTxOut(1000, []byte{0x51}))
	r.Send(tx)
	if info := r.Info(); info.Unsolicited[wire.CmdTx] != 1 || info.Misbehavior != p2p.UnsolicitedPenalty {
		t.Errorf("tx after relay=false: unsolicited %v, misbehavior %d", info.Unsolicited, info.Misbehavior)
	}
}

func TestRequestExpiry(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.WriteTimeout = time.Hour })
	r := h.Established(false)
	var rec doneRecorder
	req := h.request(r, wire.NewMsgGetHeaders(), 30*time.Second, rec.done)

	// Not written yet: the clock has not started.
	h.Advance(time.Minute)
	h.Tick()
	rec.expect(t)

	r.Drain()
	h.Advance(30*time.Second - time.Millisecond)
	h.Tick()
	rec.expect(t)
	h.Advance(time.Millisecond)
	h.Tick()
	rec.expect(t, p2p.Expired)
	if h.trackedID(r, req.ID) || !r.Alive() {
		t.Errorf("expired request tracked %v; peer alive %v (want true: its owner decides)", h.trackedID(r, req.ID), r.Alive())
	}
	// A late answer is merely unsolicited headers.
	r.Send(wire.NewMsgHeaders())
	rec.expect(t, p2p.Expired)
	if info := r.Info(); info.Misbehavior != 0 {
		t.Errorf("late headers penalized: %d", info.Misbehavior)
	}
}

func TestRequestsReleasedOnDrop(t *testing.T) {
	h := newHarness(t)
	r := h.Established(false)
	var a, b doneRecorder
	h.request(r, wire.NewMsgGetHeaders(), time.Minute, a.done)
	h.request(r, wire.NewMsgGetData(), time.Minute, b.done)
	h.N.Do(func(c *p2p.Core) { c.Drop(r.ID, p2p.Because(p2p.DropOperator, "test")) })
	a.expect(t, p2p.Released)
	b.expect(t, p2p.Released)
	// Writer reports for a dropped peer are harmless.
	h.N.Do(func(c *p2p.Core) { c.Written(h.Now(), r.ID, p2p.WriteReport{Bytes: 10, Messages: 1}) })
}

// When the ping timeout drops the peer, every other request that expired in
// the same tick must still be reported exactly once, or its owner (header
// sync) would wait for it forever.
func TestExpiryThatDropsStillReportsOthers(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.PingTimeout = time.Minute })
	r, _ := h.establishedKeepFrames(true)
	var rec doneRecorder
	h.request(r, wire.NewMsgGetHeaders(), time.Minute, rec.done)
	r.Drain()
	h.Advance(time.Minute)
	h.Tick()
	h.ExpectDropped(r, p2p.DropTimeout, "ping timeout")
	if len(rec.outcomes) != 1 {
		t.Fatalf("getheaders outcomes = %v, want exactly one", rec.outcomes)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[p2p.Outcome]string{p2p.Answered: "answered", p2p.Expired: "expired", p2p.Released: "released"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}
