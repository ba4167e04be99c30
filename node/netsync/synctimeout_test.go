package netsync_test

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// dribble answers r's getheaders gh from c after waiting just inside the
// request's timeout, again and again, until stop says so or r is dropped;
// it answers pings, as a live peer does (others' too, which do nothing
// else), and returns the last getheaders.
func (h *harness) dribble(r *sim.Remote, c *testChain, gh *wire.MsgGetHeaders, wait time.Duration, stop func() bool, others ...*sim.Remote) *wire.MsgGetHeaders {
	h.t.Helper()
	for r.Alive() && !stop() {
		h.Advance(wait)
		r.Send(c.answer(gh))
		h.Tick()
		for _, o := range others {
			answerPings(o, o.Drain())
		}
		msgs := r.Drain()
		answerPings(r, msgs)
		var next *wire.MsgGetHeaders
		if ghs := getHeadersIn(msgs); len(ghs) > 0 {
			next = ghs[len(ghs)-1]
		}
		if next == nil {
			if r.Alive() {
				h.t.Fatalf("peer %d was not asked for more headers at height %d", r.ID, h.chain().Height())
			}
			return nil
		}
		gh = next
	}
	return gh
}

// answerPings answers the pings among msgs, which r was sent.
func answerPings(r *sim.Remote, msgs []wire.Message) {
	for _, m := range msgs {
		if ping, ok := m.(*wire.MsgPing); ok {
			r.Send(wire.NewMsgPong(ping.Nonce))
		}
	}
}

// A sync peer that answers every getheaders just in time but crawls is
// dropped at the whole sync's deadline (Core's 15 minutes plus 1 ms per
// header the clock says we lack) once an outbound peer can take over, and
// only then: with only an inbound peer besides it, it is kept.
func TestHeaderSyncWholeTimeout(t *testing.T) {
	h := newHarness(t)
	c := newTestChain(260_000, h.Now(), 31)
	s, sent := h.establishedAt(false, c.tip())
	gh := oneGetHeaders(t, s, sent)
	answerPings(s, sent)

	genesis := consensus.ParamsFor(protocol.Regtest).Genesis
	behind := h.Now().Sub(time.Unix(int64(genesis.Timestamp), 0))
	allowed := netsync.SyncTimeoutBase + time.Duration(int64(behind/(10*time.Minute)))*netsync.SyncTimeoutPerHeader
	deadline := h.sync().SyncDeadline()
	if want := h.Now().Add(allowed); !deadline.Equal(want) {
		t.Fatalf("deadline %s, want %s (15 min + 1 ms for each of the %s since genesis)", deadline, want, behind)
	}

	// Every request is answered 1 s inside its timeout.
	wait := netsync.HeadersTimeoutBase + maxHeadersPerMsg*netsync.HeadersTimeoutPerHeader - time.Second
	in, inSent := h.establishedAt(true, c.tip())
	answerPings(in, inSent)
	gh = h.dribble(s, c, gh, wait, func() bool { return h.Now().After(deadline.Add(time.Minute)) }, in)
	if !s.Alive() || h.syncPeer() != s.ID {
		t.Fatalf("the slow sync peer was dropped with only an inbound peer to take over (alive %v, sync peer %d, at height %d; last disconnect %+v)",
			s.Alive(), h.syncPeer(), h.chain().Height(), h.LastDisconnect())
	}

	// An outbound peer arrives: the next tick drops the slow one and hands
	// the sync over, from our tip.
	out, _ := h.establishedAt(false, c.tip())
	height := h.chain().Height()
	h.Tick()
	d := h.ExpectDropped(s, p2p.DropStall, "headers sync timed out")
	t.Logf("dropped: %s", d.Reason)
	if h.banned(s) {
		t.Fatal("a slow sync peer was discouraged")
	}
	if h.syncPeer() != out.ID {
		t.Fatalf("sync peer %d after the timeout, want %d", h.syncPeer(), out.ID)
	}
	next := h.expectGetHeaders(out)
	if got := locatorOf(next); got[0] != c.hashes[height] {
		t.Fatalf("the new sync peer was asked from %s, want our tip %s", got[0], c.hashes[height])
	}
	if d := h.sync().SyncDeadline(); !d.After(h.Now().Add(netsync.SyncTimeoutBase)) {
		t.Fatalf("the new sync's deadline %s is not a fresh one", d)
	}
}

// Once the best header is within a day of the clock the deadline is lifted:
// a peer is never dropped for taking long over the end of a live chain.
func TestHeaderSyncWholeTimeoutLiftedNearTheTip(t *testing.T) {
	h := newHarness(t)
	// 4,100 headers 10 minutes apart ending an hour ago: from height 4,000
	// the best header is under a day old.
	c := newTestChain(4100, h.Now(), 32)
	s, sent := h.establishedAt(false, c.tip())
	gh := oneGetHeaders(t, s, sent)
	h.establishedAt(false, c.tip())
	if h.sync().SyncDeadline().IsZero() {
		t.Fatal("a sync from genesis has no deadline")
	}
	s.Send(c.answer(gh))
	h.Tick()
	if h.chain().Height() != 2000 || h.sync().SyncDeadline().IsZero() {
		t.Fatalf("at height %d (a month old): deadline %v, want kept", h.chain().Height(), h.sync().SyncDeadline())
	}
	s.Send(c.answer(h.expectGetHeaders(s)))
	h.Tick()
	if h.chain().Height() != 4000 || !h.sync().SyncDeadline().IsZero() || h.syncPeer() != s.ID {
		t.Fatalf("at height %d (under a day old): deadline %v, sync peer %d; want no deadline, the same peer", h.chain().Height(), h.sync().SyncDeadline(), h.syncPeer())
	}
}
