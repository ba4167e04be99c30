package engine

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// syncedEngine is an engine synced to a chain of n headers from an outbound
// peer announcing n, which it returns along with the chain.
func syncedEngine(t *testing.T, n int, seed uint64) (*harness, *testChain, *peerState) {
	t.Helper()
	h := newTestEngine(t)
	c := newTestChain(n, h.now(), seed)
	s, sent := h.establishedAt(false, int32(n))
	h.serveSync(s, c, oneGetHeaders(t, s, sent))
	h.expectChain(c, int32(n))
	if h.e.sync.state != SyncSynced {
		t.Fatalf("sync state %q after serving the whole chain, want %q", h.e.sync.state, SyncSynced)
	}
	return h, c, s
}

// answerTipCheck answers the getheaders a peer established after our sync
// is sent, as a peer with nothing new does.
func (h *harness) answerTipCheck(p *peerState, sent []wire.Message) {
	h.t.Helper()
	gh := oneGetHeaders(h.t, p, sent)
	if got, want := locatorOf(gh), h.e.chain.Locator(); !sameHashes(got, want) {
		h.t.Fatalf("tip check locator %v, want ours %v", got, want)
	}
	h.deliver(p, wire.NewMsgHeaders())
	if tracked(p, wire.CmdGetHeaders) != nil {
		h.t.Fatalf("peer %d: tip check still tracked after the answer", p.id)
	}
}

// TestHeaderSyncHonest follows a whole headers-first sync from one peer:
// our locator first, then each full batch immediately followed by a
// getheaders from its last header, then a tip check of every other peer.
func TestHeaderSyncHonest(t *testing.T) {
	h := newTestEngine(t)
	c := newTestChain(5000, h.now(), 1)

	// A peer that claims nothing above our genesis starts no sync.
	low, sent := h.establishedAt(true, 0)
	if n := len(getHeadersIn(sent)); n != 0 || h.e.sync.state != SyncIdle || h.e.sync.peer != 0 {
		t.Fatalf("peer at height 0: %d getheaders, state %q, sync peer %d", n, h.e.sync.state, h.e.sync.peer)
	}

	s, sent := h.establishedAt(false, 5000)
	gh := oneGetHeaders(t, s, sent)
	if got := locatorOf(gh); !sameHashes(got, h.e.chain.Locator()) || len(got) != 1 || got[0] != c.hashes[0] {
		t.Fatalf("first locator %v, want [genesis %s]", got, c.hashes[0])
	}
	if gh.HashStop != (chainhash.Hash{}) || gh.ProtocolVersion != protocol.ProtocolVersion {
		t.Fatalf("getheaders stop %s, version %d", gh.HashStop, gh.ProtocolVersion)
	}
	if h.e.sync.state != SyncSyncing || h.e.sync.peer != s.id {
		t.Fatalf("sync state %q peer %d, want %q peer %d", h.e.sync.state, h.e.sync.peer, SyncSyncing, s.id)
	}

	// Peers arriving during the sync are left alone, even one announcing
	// the same height.
	other, sent := h.establishedAt(false, 4000)
	same, sent2 := h.establishedAt(true, 5000)
	if n := len(getHeadersIn(sent)) + len(getHeadersIn(sent2)); n != 0 || h.e.sync.peer != s.id {
		t.Fatalf("peers joining during the sync were sent %d getheaders; sync peer %d", n, h.e.sync.peer)
	}

	// Full batches: each is followed at once by a getheaders whose locator
	// is exactly the batch's last hash.
	for from := int32(1); from+maxHeadersPerMsg-1 <= 4000; from += maxHeadersPerMsg {
		to := from + maxHeadersPerMsg - 1
		h.deliver(s, c.msg(from, to))
		h.expectChain(c, to)
		next := h.expectGetHeaders(s)
		if got := locatorOf(next); !sameHashes(got, []chainhash.Hash{c.hashes[to]}) {
			t.Fatalf("after batch %d..%d: locator %v, want [%s]", from, to, got, c.hashes[to])
		}
		if h.e.sync.state != SyncSyncing || h.e.sync.peer != s.id {
			t.Fatalf("after batch %d..%d: state %q peer %d", from, to, h.e.sync.state, h.e.sync.peer)
		}
		for _, q := range []*peerState{low, other, same} {
			h.expectNoGetHeaders(q)
		}
	}

	// The short last batch ends the sync.
	h.deliver(s, c.msg(4001, 5000))
	h.expectChain(c, 5000)
	if h.e.sync.state != SyncSynced || h.e.sync.peer != 0 {
		t.Fatalf("after the last batch: state %q peer %d, want synced, no sync peer", h.e.sync.state, h.e.sync.peer)
	}
	h.expectNoGetHeaders(s)
	if tracked(s, wire.CmdGetHeaders) != nil {
		t.Fatal("sync peer still has a getheaders tracked")
	}

	// Every other peer is asked for its tip, once.
	for _, q := range []*peerState{low, other, same} {
		gh := h.expectGetHeaders(q)
		if got := locatorOf(gh); !sameHashes(got, h.e.chain.Locator()) || got[0] != c.hashes[5000] {
			t.Fatalf("peer %d tip check locator starts %s, want our tip %s", q.id, got[0], c.hashes[5000])
		}
		if !q.tipAsked {
			t.Fatalf("peer %d: tipAsked not recorded", q.id)
		}
		h.deliver(q, wire.NewMsgHeaders())
		h.expectNoGetHeaders(q)
	}

	// Nothing more to do: ticks neither restart the sync nor ask again.
	for range 8 {
		h.clock.Advance(tickInterval)
		h.e.tick(h.now())
	}
	for _, q := range []*peerState{s, low, other, same} {
		h.expectNoGetHeaders(q)
		if !h.alive(q) {
			t.Fatalf("peer %d dropped", q.id)
		}
	}
	if h.e.sync.state != SyncSynced || h.e.chain.Height() != 5000 {
		t.Fatalf("after ticks: state %q height %d", h.e.sync.state, h.e.chain.Height())
	}
}

// A chain that is a whole number of full batches ends with an empty answer
// to the last pipelined getheaders.
func TestHeaderSyncEndsOnEmptyAnswer(t *testing.T) {
	h := newTestEngine(t)
	c := newTestChain(2*maxHeadersPerMsg, h.now(), 7)
	s, sent := h.establishedAt(false, c.tip())
	if rounds := h.serveSync(s, c, oneGetHeaders(t, s, sent)); rounds != 3 {
		t.Fatalf("%d headers messages, want 3 (2 full, 1 empty)", rounds)
	}
	h.expectChain(c, c.tip())
	if h.e.sync.state != SyncSynced || h.e.sync.peer != 0 {
		t.Fatalf("state %q peer %d", h.e.sync.state, h.e.sync.peer)
	}
}

// TestHeaderSyncAnnouncements: once synced, a few new headers from any peer
// extend the chain and are announced by headers to the peers that asked for
// it with sendheaders, except the one they came from.
func TestHeaderSyncAnnouncements(t *testing.T) {
	h := newTestEngine(t)
	c := newTestChain(2500, h.now(), 3)
	s, sent := h.establishedAt(false, 2500)
	sgh := oneGetHeaders(t, s, sent)
	x, _ := h.establishedAt(false, 2500) // outbound, sendheaders
	y, _ := h.establishedAt(true, 0)     // inbound, announces by inv
	z, _ := h.establishedAt(true, 2400)  // inbound, sendheaders
	for _, p := range []*peerState{s, x, z} {
		h.deliver(p, wire.NewMsgSendHeaders())
	}
	h.serveSync(s, c, sgh)
	h.expectChain(c, 2500)
	// Nothing was announced during the sync.
	for _, p := range []*peerState{s, x, y, z} {
		if n := len(headersIn(h.drainSent(p))); n != 0 && p != s {
			t.Fatalf("peer %d was sent %d headers messages during the sync", p.id, n)
		}
	}
	// (drainSent above also took the tip checks; answer them as peers
	// with nothing new, which the tracker matches to the requests.)
	for _, p := range []*peerState{x, y, z} {
		if tracked(p, wire.CmdGetHeaders) == nil {
			t.Fatalf("peer %d: no tip check tracked", p.id)
		}
		h.deliver(p, wire.NewMsgHeaders())
	}

	// z, syncing from us, fetches the last 100 headers: from then on we
	// know it has our tip and can announce to it by headers.
	zgh := wire.NewMsgGetHeaders()
	zgh.AddBlockLocatorHash(&c.hashes[2400])
	h.deliver(z, zgh)
	if got := headersIn(h.drainSent(z)); len(got) != 1 || len(got[0].Headers) != 100 {
		t.Fatalf("z's getheaders was answered with %d messages", len(got))
	}

	h.clock.Advance(30 * time.Minute)
	ext := c.branch(2500, 6, h.now(), 3)

	announce := func(from *peerState, lo, hi int32, want ...*peerState) {
		t.Helper()
		h.deliver(from, ext.msg(lo, hi))
		if !h.alive(from) || from.misbehavior != 0 {
			t.Fatalf("announcing peer %d: alive %v misbehavior %d", from.id, h.alive(from), from.misbehavior)
		}
		h.expectChain(ext, hi)
		for _, p := range []*peerState{s, x, y, z} {
			msgs := h.drainSent(p)
			got := headersIn(msgs)
			if !slices.Contains(want, p) {
				// Peers that did not ask for headers announcements (y) are
				// announced the tip by inv, as Core does.
				if len(msgs) != 0 && !(p == y && p != from && slices.Equal(commands(msgs), []string{wire.CmdInv})) {
					t.Fatalf("headers %d..%d from peer %d: peer %d was sent %v, want nothing", lo, hi, from.id, p.id, commands(msgs))
				}
				continue
			}
			if len(msgs) != 1 || len(got) != 1 {
				t.Fatalf("headers %d..%d from peer %d: peer %d was sent %v, want one headers", lo, hi, from.id, p.id, commands(msgs))
			}
			hs := got[0].Headers
			if len(hs) == 0 || len(hs) > maxAnnounce {
				t.Fatalf("announcement of %d headers", len(hs))
			}
			first := hi - int32(len(hs)) + 1
			for i, w := range hs {
				if w.BlockHash() != ext.hashes[first+int32(i)] {
					t.Fatalf("announcement header %d is %s, want the header at %d", i, w.BlockHash(), first+int32(i))
				}
			}
			if p.announced != ext.hashes[hi] {
				t.Fatalf("peer %d: announced %s, want %s", p.id, p.announced, ext.hashes[hi])
			}
		}
	}
	announce(x, 2501, 2501, s, z)     // one header from an outbound peer
	announce(z, 2502, 2503, s, x)     // two from an inbound one
	announce(y, 2504, 2506, s, x, z)  // three from a peer without sendheaders
	h.deliver(y, ext.msg(2504, 2506)) // the same again: nothing new
	h.deliver(s, ext.msg(2500, 2506)) // nor from another peer
	for _, p := range []*peerState{s, x, y, z} {
		if msgs := h.drainSent(p); len(msgs) != 0 {
			t.Fatalf("duplicate headers: peer %d was sent %v", p.id, commands(msgs))
		}
		if !h.alive(p) || p.misbehavior != 0 {
			t.Fatalf("peer %d: alive %v misbehavior %d", p.id, h.alive(p), p.misbehavior)
		}
	}
	if h.e.sync.state != SyncSynced {
		t.Fatalf("state %q", h.e.sync.state)
	}
}

// A peer that announces by inv is asked for the headers from our locator,
// and what it sends is then announced to the sendheaders peers.
func TestHeaderSyncInvAnnouncement(t *testing.T) {
	h, c, s := syncedEngine(t, 300, 4)
	h.deliver(s, wire.NewMsgSendHeaders())
	y, sent := h.establishedAt(true, 300)
	h.answerTipCheck(y, sent)
	ext := c.branch(300, 2, h.now().Add(time.Hour), 4)

	inv := wire.NewMsgInv()
	inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &ext.hashes[302]))
	h.deliver(y, inv)
	gh := h.expectGetHeaders(y)
	if got := locatorOf(gh); !sameHashes(got, h.e.chain.Locator()) {
		t.Fatalf("inv answered with locator %v, want ours", got)
	}
	// A second inv while the getheaders is in flight asks nothing more.
	h.deliver(y, inv)
	h.expectNoGetHeaders(y)
	h.deliver(y, ext.answer(gh))
	h.expectChain(ext, 302)
	if got := headersIn(h.drainSent(s)); len(got) != 1 || got[0].Headers[len(got[0].Headers)-1].BlockHash() != ext.hashes[302] {
		t.Fatalf("sendheaders peer was not announced the new tip")
	}
	// An inv of a known block asks nothing.
	known := wire.NewMsgInv()
	known.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &ext.hashes[301]))
	h.deliver(y, known)
	h.expectNoGetHeaders(y)
}

// badHeaderCase makes header 2000 of c invalid in one way; the batch sent
// is headers 1..2000, so the 1999 before it are valid.
type badHeaderCase struct {
	name string
	// spoil changes w, the header at height 2000 (its parent is c's 1999).
	spoil func(t *testing.T, h *harness, c *testChain, w *wire.BlockHeader)
	// reason is text the drop reason must contain: the rule's name.
	reason string
}

var badHeaderCases = []badHeaderCase{
	{"proof of work", func(t *testing.T, _ *harness, _ *testChain, w *wire.BlockHeader) {
		for meetsTarget(w) {
			w.Nonce++
		}
	}, "breaks rule hash-meets-target"},
	{"mainnet bits on regtest", func(t *testing.T, _ *harness, _ *testChain, w *wire.BlockHeader) {
		// 0x1d00ffff is a valid target below the regtest limit; no header
		// we can grind meets it, so the proof of work fails before the
		// difficulty rule is reached.
		w.Bits = 0x1d00ffff
		if meetsTarget(w) {
			t.Skip("header happens to meet 0x1d00ffff")
		}
	}, "breaks rule hash-meets-target"},
	{"harder bits than required, met", func(t *testing.T, _ *harness, _ *testChain, w *wire.BlockHeader) {
		w.Bits = 0x2000ffff
		grind(t, w, w.Bits)
	}, "breaks rule difficulty"},
	{"bits above the pow limit", func(t *testing.T, _ *harness, _ *testChain, w *wire.BlockHeader) {
		w.Bits = 0x2100ffff
	}, "breaks rule bits-well-formed"},
	{"timestamp at the median time past", func(t *testing.T, _ *harness, c *testChain, w *wire.BlockHeader) {
		var ts []int64
		for ht := 1989; ht <= 1999; ht++ {
			ts = append(ts, c.headers[ht].Timestamp.Unix())
		}
		slices.Sort(ts)
		w.Timestamp = time.Unix(ts[5], 0)
		grind(t, w, w.Bits)
	}, "breaks rule timestamp-above-median"},
	{"version 1", func(t *testing.T, _ *harness, _ *testChain, w *wire.BlockHeader) {
		// Regtest activates BIP34/65/66 from low heights: version 1 is
		// obsolete at 2000.
		w.Version = 1
		grind(t, w, w.Bits)
	}, "breaks rule version-minimum"},
}

// TestHeaderSyncInvalidHeaders: a sync peer sending an invalid header is
// dropped for it and discouraged; the valid headers before it stay, and
// the honest peer finishes the sync.
func TestHeaderSyncInvalidHeaders(t *testing.T) {
	for _, tc := range badHeaderCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestEngine(t)
			c := newTestChain(3000, h.now(), 11)
			bad, sent := h.establishedAt(false, 3000)
			oneGetHeaders(t, bad, sent)
			honest, sent := h.establishedAt(false, 3000)
			if len(getHeadersIn(sent)) != 0 {
				t.Fatal("second peer asked for headers during the sync")
			}

			spoiled := c.headers[2000]
			tc.spoil(t, h, c, &spoiled)
			batch := c.msg(1, 2000)
			batch.Headers[1999] = &spoiled
			h.deliver(bad, batch)

			d := h.expectDropped(bad, DropViolation, tc.reason)
			h.expectDiscouraged(bad, d.Reason)
			h.expectChain(c, 1999)
			if hash := spoiled.BlockHash(); h.e.chain.Known(&hash) {
				t.Fatal("the invalid header was stored")
			}
			finishWithHonest(t, h, honest, c, 1999)
		})
	}

	t.Run("not continuous", func(t *testing.T) {
		h := newTestEngine(t)
		c := newTestChain(3000, h.now(), 12)
		bad, sent := h.establishedAt(false, 3000)
		oneGetHeaders(t, bad, sent)
		honest, _ := h.establishedAt(false, 3000)
		// 1..1000, then 1002..2000: header 1002 does not follow 1000.
		batch := headersMsg(append(slices.Clone(c.headers[1:1001]), c.headers[1002:2001]...))
		h.deliver(bad, batch)
		d := h.expectDropped(bad, DropViolation, "not continuous")
		h.expectDiscouraged(bad, d.Reason)
		h.expectChain(c, 1000)
		finishWithHonest(t, h, honest, c, 1000)
	})

	t.Run("second batch", func(t *testing.T) {
		// The invalid header comes after a whole valid batch: the first
		// batch and the second's valid prefix stay.
		h := newTestEngine(t)
		c := newTestChain(5000, h.now(), 13)
		bad, sent := h.establishedAt(false, 5000)
		oneGetHeaders(t, bad, sent)
		honest, _ := h.establishedAt(false, 5000)
		h.deliver(bad, c.msg(1, 2000))
		h.expectGetHeaders(bad)
		batch := c.msg(2001, 4000)
		w := *batch.Headers[500]
		for meetsTarget(&w) {
			w.Nonce++
		}
		batch.Headers[500] = &w
		h.deliver(bad, batch)
		d := h.expectDropped(bad, DropViolation, "hash-meets-target")
		h.expectDiscouraged(bad, d.Reason)
		h.expectChain(c, 2500)
		finishWithHonest(t, h, honest, c, 2500)
	})
}

// finishWithHonest checks that at the next tick honest becomes the sync
// peer and is asked from our tip at height, then serves it the rest of c.
func finishWithHonest(t *testing.T, h *harness, honest *peerState, c *testChain, height int32) {
	t.Helper()
	h.e.tick(h.now())
	if h.e.sync.peer != honest.id || h.e.sync.state != SyncSyncing {
		t.Fatalf("after the tick: sync peer %d state %q, want peer %d syncing", h.e.sync.peer, h.e.sync.state, honest.id)
	}
	gh := h.expectGetHeaders(honest)
	if got := locatorOf(gh); !sameHashes(got, h.e.chain.Locator()) || got[0] != c.hashes[height] {
		t.Fatalf("honest peer asked from %v, want our locator from %d", got, height)
	}
	h.serveSync(honest, c, gh)
	h.expectChain(c, c.tip())
	if h.e.sync.state != SyncSynced || !h.alive(honest) {
		t.Fatalf("after the honest peer: state %q, honest alive %v", h.e.sync.state, h.alive(honest))
	}
}

// TestHeaderSyncFutureHeader: a header more than two hours ahead of our
// clock (the engine's Now) is rejected; exactly two hours is fine.
func TestHeaderSyncFutureHeader(t *testing.T) {
	setup := func(t *testing.T, ahead time.Duration) (*harness, *testChain, *peerState, *peerState, wire.BlockHeader) {
		h := newTestEngine(t)
		c := newTestChain(3000, h.now(), 14)
		p, sent := h.establishedAt(false, 3000)
		oneGetHeaders(t, p, sent)
		honest, _ := h.establishedAt(false, 3000)
		w := c.headers[2000]
		w.Timestamp = h.now().Add(ahead)
		grind(t, &w, w.Bits)
		batch := c.msg(1, 2000)
		batch.Headers[1999] = &w
		h.deliver(p, batch)
		return h, c, p, honest, w
	}

	t.Run("two hours ahead", func(t *testing.T) {
		h, c, p, _, w := setup(t, 2*time.Hour)
		if !h.alive(p) || h.e.chain.Height() != 2000 || h.e.chain.HashAt(2000) != w.BlockHash() || h.e.chain.HashAt(1999) != c.hashes[1999] {
			t.Fatalf("header at the limit: alive %v, height %d", h.alive(p), h.e.chain.Height())
		}
	})

	t.Run("more than two hours ahead", func(t *testing.T) {
		h, c, p, honest, w := setup(t, 2*time.Hour+time.Second)
		h.expectChain(c, 1999)
		if hash := w.BlockHash(); h.e.chain.Known(&hash) {
			t.Fatal("the future header was stored")
		}
		// What the engine does today: a protocol violation naming the rule.
		if !h.alive(p) {
			d := h.expectDropped(p, DropViolation, "breaks rule timestamp-not-too-far-ahead")
			t.Logf("dropped: %s: %s", d.Kind, d.Reason)
			finishWithHonest(t, h, honest, c, 1999)
		}
		// The consensus package documents ErrTimeTooNew as the one breach
		// time heals, which callers must not punish; Core does not punish
		// BLOCK_TIME_FUTURE either. Punishing it means a node whose clock
		// runs slow discourages every honest peer that sends a new tip.
		ban, discouraged := h.e.bans.banned(p.addr.Addr(), h.now())
		if discouraged {
			t.Logf("discouraged: %+v", ban)
		}
		if discouraged {
			t.Fatalf("a peer was discouraged for a header from the future")
		}
	})
}

// TestHeaderSyncNotConnecting: headers whose first does not connect get a
// getheaders with our locator; more than maxUnconnecting such messages in a
// row drop the peer, and the honest peer finishes the sync.
func TestHeaderSyncNotConnecting(t *testing.T) {
	h := newTestEngine(t)
	c := newTestChain(3000, h.now(), 15)
	stranger := newTestChain(100, h.now(), 16) // a chain we know nothing of
	bad, sent := h.establishedAt(false, 3000)
	oneGetHeaders(t, bad, sent)
	honest, _ := h.establishedAt(false, 3000)

	for i := 1; i <= maxUnconnecting; i++ {
		from := int32(10 + 3*i)
		h.deliver(bad, stranger.msg(from, from+2))
		if !h.alive(bad) || bad.unconnecting != i {
			t.Fatalf("message %d: alive %v, unconnecting %d", i, h.alive(bad), bad.unconnecting)
		}
		gh := h.expectGetHeaders(bad)
		if got := locatorOf(gh); !sameHashes(got, h.e.chain.Locator()) {
			t.Fatalf("message %d answered with locator %v, want ours", i, got)
		}
		if h.e.chain.Height() != 0 || h.e.chain.ForkCount() != 0 {
			t.Fatalf("non-connecting headers stored: height %d forks %d", h.e.chain.Height(), h.e.chain.ForkCount())
		}
	}
	h.deliver(bad, stranger.msg(80, 82))
	d := h.expectDropped(bad, DropViolation, fmt.Sprintf("%d headers messages that do not connect", maxUnconnecting+1))
	h.expectDiscouraged(bad, d.Reason)
	finishWithHonest(t, h, honest, c, 0)
}

// The count is of non-connecting messages in a row: one that connects
// resets it.
func TestHeaderSyncNotConnectingResets(t *testing.T) {
	h, c, _ := syncedEngine(t, 100, 17)
	stranger := newTestChain(100, h.now(), 18)
	p, sent := h.establishedAt(true, 100)
	h.answerTipCheck(p, sent)
	ext := c.branch(100, 1, h.now().Add(time.Hour), 17)
	for round := range 2 {
		for i := 1; i <= maxUnconnecting; i++ {
			from := int32(3 * i)
			h.deliver(p, stranger.msg(from, from+2))
			h.drainSent(p)
		}
		if !h.alive(p) || p.unconnecting != maxUnconnecting {
			t.Fatalf("round %d: alive %v unconnecting %d", round, h.alive(p), p.unconnecting)
		}
		// Headers we already have connect too.
		h.deliver(p, ext.msg(100, 100+int32(round)))
		if p.unconnecting != 0 {
			t.Fatalf("round %d: unconnecting %d after a connecting message", round, p.unconnecting)
		}
	}
	if !h.alive(p) {
		t.Fatal("dropped")
	}
}

// TestHeaderSyncStall: a sync peer that does not answer within its
// request's timeout (counted from when the request was written) is dropped
// for a stall, and another peer continues from what was validated.
func TestHeaderSyncStall(t *testing.T) {
	h := newTestEngine(t)
	c := newTestChain(5000, h.now(), 19)
	s, sent := h.establishedAt(false, 5000)
	oneGetHeaders(t, s, sent)
	other, _ := h.establishedAt(false, 5000)

	h.deliver(s, c.msg(1, 2000))
	h.expectChain(c, 2000)
	var reqID uint64
	for _, f := range drainFrames(s) {
		if f.Command == wire.CmdGetHeaders {
			reqID = f.Request
		}
	}
	r := s.reqs.byID(reqID)
	if reqID == 0 || r == nil || r.Command != wire.CmdGetHeaders {
		t.Fatalf("pipelined getheaders not tracked (request %d)", reqID)
	}
	if want := headersTimeoutBase + maxHeadersPerMsg*headersTimeoutPerHeader; r.Timeout != want {
		t.Fatalf("timeout %s, want %s", r.Timeout, want)
	}

	// The clock runs only once the request is on the socket.
	h.clock.Advance(30 * time.Second)
	h.e.tick(h.now())
	if !h.alive(s) {
		t.Fatal("dropped for a request never written")
	}
	h.e.requestWritten(s.id, reqID, h.now())
	h.clock.Advance(r.Timeout - time.Millisecond)
	h.e.tick(h.now())
	if !h.alive(s) || h.e.sync.peer != s.id {
		t.Fatalf("before the timeout: alive %v, sync peer %d", h.alive(s), h.e.sync.peer)
	}
	h.expectNoGetHeaders(other)
	h.clock.Advance(time.Millisecond)
	h.e.tick(h.now())
	h.expectDropped(s, DropStall, "headers sync stalled")
	if _, banned := h.e.bans.banned(s.addr.Addr(), h.now()); banned {
		t.Fatal("a stalling peer was discouraged")
	}
	// The same tick hands the sync to the other peer, from our tip.
	if h.e.sync.peer != other.id || h.e.sync.state != SyncSyncing {
		t.Fatalf("after the stall: sync peer %d state %q, want %d syncing", h.e.sync.peer, h.e.sync.state, other.id)
	}
	h.expectChain(c, 2000)
	gh := h.expectGetHeaders(other)
	if got := locatorOf(gh); got[0] != c.hashes[2000] {
		t.Fatalf("other peer asked from %s, want our tip %s", got[0], c.hashes[2000])
	}
	h.serveSync(other, c, gh)
	h.expectChain(c, 5000)
	if h.e.sync.state != SyncSynced {
		t.Fatalf("state %q", h.e.sync.state)
	}
}

// A sync peer that goes away hands the sync to another at the next tick.
func TestHeaderSyncPeerLeaves(t *testing.T) {
	h := newTestEngine(t)
	c := newTestChain(3000, h.now(), 20)
	s, sent := h.establishedAt(false, 3000)
	oneGetHeaders(t, s, sent)
	in, _ := h.establishedAt(true, 3000)
	out, _ := h.establishedAt(false, 2500)
	h.deliver(s, c.msg(1, 2000))
	h.e.drop(s, dropReason(DropRemoteClose, "peer closed the connection"), h.now())
	if h.e.sync.peer != 0 {
		t.Fatalf("sync peer %d after it left", h.e.sync.peer)
	}
	h.e.tick(h.now())
	// Outbound is preferred over a higher inbound.
	if h.e.sync.peer != out.id {
		t.Fatalf("sync peer %d, want the outbound peer %d", h.e.sync.peer, out.id)
	}
	h.expectNoGetHeaders(in)
	h.serveSync(out, c.branch(2500, 0, h.now(), 0), h.expectGetHeaders(out))
	// out's chain ends at 2500 and says so with a short batch: synced with
	// it; the inbound peer is then asked for its tip.
	if h.e.chain.Height() != 2500 || h.e.sync.state != SyncSynced {
		t.Fatalf("height %d state %q", h.e.chain.Height(), h.e.sync.state)
	}
	h.serveSync(in, c, h.expectGetHeaders(in))
	h.expectChain(c, 3000)
}

// TestHeaderSyncReorg: a branch with more work from another peer becomes
// the main chain; the old branch stays known as a fork tip.
func TestHeaderSyncReorg(t *testing.T) {
	h, a, pa := syncedEngine(t, 100, 21)
	h.deliver(pa, wire.NewMsgSendHeaders())

	// A branch from 90 with as much work as ours: no reorg, first seen wins.
	tie := a.branch(90, 10, h.now(), 22)
	pc, sent := h.establishedAt(false, 100)
	h.deliver(pc, tie.answer(oneGetHeaders(t, pc, sent)))
	h.expectChain(a, 100)
	if len(h.e.chain.Reorgs()) != 0 || h.e.chain.ForkCount() != 10 {
		t.Fatalf("equal work: reorgs %v, fork headers %d", h.e.chain.Reorgs(), h.e.chain.ForkCount())
	}
	h.drainSent(pa)

	// A branch from 90 of 20 headers: more work.
	b := a.branch(90, 20, h.now(), 23)
	pb, sent := h.establishedAt(false, 110)
	gh := oneGetHeaders(t, pb, sent)
	h.deliver(pb, b.answer(gh))
	h.expectChain(b, 110)
	if !h.alive(pb) || pb.misbehavior != 0 {
		t.Fatal("the peer with the better branch was punished")
	}
	reorgs := h.e.chain.Reorgs()
	if len(reorgs) != 1 {
		t.Fatalf("reorgs %v, want one", reorgs)
	}
	// The switch happens at the first header with more work (101); the
	// rest of the batch then extends the new main chain.
	if r := reorgs[0]; r.ForkHeight != 90 || r.OldTip != a.hashes[100] || r.OldHeight != 100 || r.NewTip != b.hashes[101] || r.NewHeight != 101 {
		t.Fatalf("reorg %+v", r)
	}
	if got := h.e.chain.HashAt(90); got != a.hashes[90] {
		t.Fatalf("fork point %s", got)
	}
	// The old branch is a fork now: its headers are known, off the main chain.
	for ht := int32(91); ht <= 100; ht++ {
		info, ok := h.e.chain.Lookup(&a.hashes[ht])
		if !ok || info.Main || info.Height != ht {
			t.Fatalf("old header %d: known %v, %+v", ht, ok, info)
		}
	}
	tips := h.e.chain.Tips()
	if len(tips) != 3 || tips[0].Status != "active" || tips[0].Hash != b.hashes[110] || tips[0].Height != 110 {
		t.Fatalf("tips %+v", tips)
	}
	var sawOld, sawTie bool
	for _, tp := range tips[1:] {
		switch {
		case tp.Hash == a.hashes[100]:
			sawOld = tp.Height == 100 && tp.BranchLength == 10 && tp.Status == "valid-headers"
		case tp.Hash == tie.hashes[100]:
			sawTie = tp.Height == 100 && tp.BranchLength == 10 && tp.Status == "valid-headers"
		}
	}
	if !sawOld || !sawTie {
		t.Fatalf("tips %+v: old branch listed %v, tie branch listed %v", tips, sawOld, sawTie)
	}
	h.e.publish(h.now())
	if st := h.e.Snapshot().Status; st.Height != 110 || st.BestHash != b.hashes[110].String() || st.ForkHeaders != 20 {
		t.Fatalf("status after the reorg: height %d best %s fork headers %d", st.Height, st.BestHash, st.ForkHeaders)
	}
}

// After a reorg, a peer that asked for headers announcements is sent the new
// branch; the announcement must connect to a header the peer has, or the
// peer cannot use it (Core reverts to an inv announcement when it cannot
// find one that connects, see SendMessages in net_processing.cpp).
func TestHeaderSyncReorgAnnouncementConnects(t *testing.T) {
	h, a, pa := syncedEngine(t, 100, 24)
	h.deliver(pa, wire.NewMsgSendHeaders())
	b := a.branch(90, 20, h.now(), 25)
	pb, sent := h.establishedAt(false, 110)
	h.deliver(pb, b.answer(oneGetHeaders(t, pb, sent)))
	h.expectChain(b, 110)

	sentToA := h.drainSent(pa)
	got := headersIn(sentToA)
	if len(got) == 0 {
		// A 20-header reorg is more than the 8 headers Core announces:
		// like Core, we announce the new tip by inv and the peer asks.
		if len(sentToA) != 1 || sentToA[0].Command() != wire.CmdInv || sentToA[0].(*wire.MsgInv).InvList[0].Hash != b.hashes[110] {
			t.Fatalf("peer on the old branch was sent %v, want headers that connect or an inv of the new tip", commands(sentToA))
		}
		return
	}
	if len(got) != 1 || len(got[0].Headers) == 0 {
		t.Fatalf("peer on the old branch was sent %d headers messages", len(got))
	}
	hs := got[0].Headers
	if last := hs[len(hs)-1].BlockHash(); last != b.hashes[110] {
		t.Fatalf("announcement ends at %s, want the new tip", last)
	}
	_, connects := a.index[hs[0].PrevBlock]
	t.Logf("announcement of %d headers starting at height %d; connects to the peer's chain: %v", len(hs), b.index[hs[0].BlockHash()], connects)
	if !connects {
		t.Fatalf("the announcement's first header follows %s, which the peer does not have", hs[0].PrevBlock)
	}
}

// TestHeaderSyncServing: getheaders from a peer is answered from the main
// chain: up to 2000 headers after the first locator hash we have on it.
func TestHeaderSyncServing(t *testing.T) {
	h, c, _ := syncedEngine(t, 2500, 26)
	q, sent := h.establishedAt(true, 0)
	h.answerTipCheck(q, sent)

	ask := func(stop chainhash.Hash, locator ...chainhash.Hash) []*wire.BlockHeader {
		t.Helper()
		gh := wire.NewMsgGetHeaders()
		gh.ProtocolVersion = protocol.ProtocolVersion
		for i := range locator {
			gh.AddBlockLocatorHash(&locator[i])
		}
		gh.HashStop = stop
		h.deliver(q, gh)
		msgs := h.drainSent(q)
		got := headersIn(msgs)
		if len(msgs) != 1 || len(got) != 1 {
			t.Fatalf("getheaders answered with %v, want one headers message", commands(msgs))
		}
		return got[0].Headers
	}
	expect := func(what string, hs []*wire.BlockHeader, first, n int32) {
		t.Helper()
		if int32(len(hs)) != n {
			t.Fatalf("%s: %d headers, want %d", what, len(hs), n)
		}
		for i, w := range hs {
			if w.BlockHash() != c.hashes[first+int32(i)] {
				t.Fatalf("%s: header %d is %s, want the header at height %d", what, i, w.BlockHash(), first+int32(i))
			}
		}
	}
	var zero chainhash.Hash
	unknown := newTestChain(20, h.now(), 27)

	// A locator from our chain at 100: 101..2100.
	expect("locator at 100", ask(zero, h.e.chain.LocatorAt(100)...), 101, 2000)
	// A peer on a branch of its own: its unknown hashes first, then ours.
	expect("branch locator", ask(zero, unknown.hashes[20], unknown.hashes[19], c.hashes[2300], c.hashes[2290]), 2301, 200)
	// hashStop on our chain ends the answer there.
	expect("stop at 150", ask(c.hashes[150], c.hashes[100]), 101, 50)
	// A stop we do not know is no stop.
	expect("unknown stop", ask(unknown.hashes[5], c.hashes[2000]), 2001, 500)
	// Nothing we know: from the genesis.
	expect("unknown locator", ask(zero, unknown.hashes[20], unknown.hashes[10]), 1, 2000)
	// Our tip: nothing to send, but an answer all the same.
	expect("our tip", ask(zero, h.e.chain.Locator()...), 2501, 0)
	if !h.alive(q) || q.misbehavior != 0 {
		t.Fatal("serving peer punished")
	}

	// Core answers an empty locator with the hashStop header alone
	// (ProcessMessage, GETHEADERS: "If locator is null, return the
	// hashStop block").
	hs := ask(c.hashes[50])
	t.Logf("empty locator, stop at 50: %d headers", len(hs))
	expect("empty locator with stop", hs, 50, 1)
}

// A peer that sends getheaders and does not read is served only until its
// queue reaches the hard limit; the rest waits, and nothing is dropped.
func TestHeaderSyncServingBackPressure(t *testing.T) {
	h, c, _ := syncedEngine(t, 2500, 28)
	q, sent := h.establishedAt(true, 0)
	h.answerTipCheck(q, sent)
	const asks = 20
	for range asks {
		gh := wire.NewMsgGetHeaders()
		gh.AddBlockLocatorHash(&c.hashes[0])
		h.push(q, gh)
	}
	h.serveAll()
	if !h.alive(q) {
		t.Fatalf("peer dropped: %+v", h.lastDisconnect())
	}
	if b := q.out.Bytes(); b > 2*outQueueLimit+maxHeadersPerMsg*81+100 {
		t.Fatalf("%d bytes queued, over the hard limit", b)
	}
	if q.in.Bytes() == 0 {
		t.Fatal("every getheaders served although the peer reads nothing")
	}
	served := 0
	for round := 0; round < asks && served < asks; round++ {
		served += len(headersIn(h.drainSent(q)))
		h.serveAll()
	}
	if served != asks || !h.alive(q) {
		t.Fatalf("served %d of %d; alive %v", served, asks, h.alive(q))
	}
}

// TestHeaderSyncStatus: the published status during and after a sync.
func TestHeaderSyncStatus(t *testing.T) {
	h := newTestEngine(t)
	c := newTestChain(5000, h.now(), 29)
	h.e.publish(h.now())
	if st := h.e.Snapshot().Status.Sync; st.State != SyncIdle || st.Peer != 0 {
		t.Fatalf("before any peer: %+v", st)
	}
	s, sent := h.establishedAt(false, 5000)
	oneGetHeaders(t, s, sent)
	h.deliver(s, c.msg(1, 2000))
	h.expectGetHeaders(s)
	h.clock.Advance(time.Second)
	h.deliver(s, c.msg(2001, 4000))
	h.expectGetHeaders(s)

	h.e.publish(h.now())
	st := h.e.Snapshot().Status
	if st.Height != 4000 || st.BestHash != c.hashes[4000].String() {
		t.Fatalf("during sync: height %d best %s", st.Height, st.BestHash)
	}
	sy := st.Sync
	if sy.State != SyncSyncing || sy.Peer != s.id || sy.Target < 5000 {
		t.Fatalf("during sync: %+v", sy)
	}
	if sy.Progress <= 0 || sy.Progress >= 1 || math.Abs(sy.Progress-4000/float64(sy.Target)) > 1e-9 {
		t.Fatalf("during sync: progress %v, target %d", sy.Progress, sy.Target)
	}
	if sy.HeadersPerSec != 2000 || math.Abs(sy.EtaS-float64(sy.Target-4000)/2000) > 1e-9 {
		t.Fatalf("during sync: %v headers/s, eta %v s (target %d)", sy.HeadersPerSec, sy.EtaS, sy.Target)
	}

	h.deliver(s, c.msg(4001, 5000))
	h.e.publish(h.now())
	st = h.e.Snapshot().Status
	params := consensus.ParamsFor(protocol.Regtest)
	var work consensus.U256
	for range 5001 {
		work = work.Add(consensus.Work(params.PowLimitBits))
	}
	if st.Height != 5000 || st.BestHash != c.hashes[5000].String() || st.ChainWork != work.Hex() {
		t.Fatalf("after sync: height %d best %s work %s, want %s", st.Height, st.BestHash, st.ChainWork, work.Hex())
	}
	if st.TipTime != c.headers[5000].Timestamp.UTC() {
		t.Fatalf("tip time %s, want %s", st.TipTime, c.headers[5000].Timestamp.UTC())
	}
	if sy := st.Sync; sy.State != SyncSynced || sy.Progress != 1 || sy.Peer != 0 || sy.Target != 5000 || sy.EtaS != 0 {
		t.Fatalf("after sync: %+v", sy)
	}
}

// A peer whose version claims a height above ours but which has nothing to
// send (it answers getheaders with an empty headers message) must not be
// picked as sync peer again and again: once it showed us its tip, we are
// synced with it, as Core starts a headers sync with a peer once.
func TestHeaderSyncClaimedHeightNotResynced(t *testing.T) {
	h, _, _ := syncedEngine(t, 100, 30)
	liar, sent := h.establishedAt(true, 1_000_000)
	h.answerTipCheck(liar, sent)

	asked, flips := 0, 0
	for range 20 {
		h.clock.Advance(tickInterval)
		h.e.tick(h.now())
		if h.e.sync.state != SyncSynced {
			flips++
		}
		for _, gh := range getHeadersIn(h.drainSent(liar)) {
			asked++
			if got := locatorOf(gh); !sameHashes(got, h.e.chain.Locator()) {
				t.Fatalf("locator %v", got)
			}
			h.deliver(liar, wire.NewMsgHeaders())
		}
	}
	t.Logf("in 20 ticks (5 s): %d getheaders to the peer, %d ticks not synced", asked, flips)
	if asked == 0 && flips == 0 {
		return
	}
	if asked > 1 {
		t.Fatalf("%d getheaders in 5 s to a peer with nothing to send", asked)
	}
}

// On a network whose difficulty changes (every network but regtest), a
// branch can be higher than our main chain and still have less work. A peer
// that sent us such a branch and then asks us for headers must simply be
// served. The test makes such a branch on regtest with retargeting turned
// on: the main chain's blocks come fast, so its difficulty rises; the
// branch's come slowly and stay at the pow limit.
func TestHeaderSyncServingPeerWithHigherLowWorkBranch(t *testing.T) {
	params := consensus.ParamsFor(protocol.Regtest)
	params.NoRetargeting = false
	params.RetargetInterval = 16
	params.TargetTimespan = 16 * params.TargetSpacing
	h := newTestEngine(t, func(c *Config) { c.Params = params })
	t0 := h.now().Add(-72 * time.Hour)
	mainHs := mineOn(params, []consensus.Header{params.Genesis}, 47, t0, time.Second, 1)
	forkHs := mineOn(params, mainHs[:21], 40, t0.Add(time.Hour), time.Hour, 2)
	if mainHs[40].Bits == params.PowLimitBits || forkHs[40].Bits != params.PowLimitBits {
		t.Fatalf("main bits %08x, branch bits %08x: difficulty did not diverge", mainHs[40].Bits, forkHs[40].Bits)
	}
	mc, fc := wireChain(mainHs), wireChain(forkHs)

	s, sent := h.establishedAt(false, mc.tip())
	h.serveSync(s, mc, oneGetHeaders(t, s, sent))
	h.expectChain(mc, 47)

	p, sent := h.establishedAt(true, fc.tip())
	h.deliver(p, fc.answer(oneGetHeaders(t, p, sent)))
	h.expectChain(mc, 47) // the higher branch has less work
	if tips := h.e.chain.Tips(); len(tips) != 2 || tips[1].Height != 60 || tips[1].Work.Cmp(tips[0].Work) >= 0 {
		t.Fatalf("tips %+v, want the active one at 47 and a branch at 60 with less work", tips)
	}
	t.Logf("peer's bestKnown after sending its branch: %d (our height %d)", p.bestKnown, h.e.chain.Height())

	gh := wire.NewMsgGetHeaders()
	gh.AddBlockLocatorHash(&mc.hashes[10])
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		h.deliver(p, gh)
	}()
	if panicked != nil {
		t.Logf("serving getheaders panicked: %v", panicked)
	}
	if panicked != nil {
		t.Fatalf("serving getheaders panicked: %v", panicked)
	}
	msgs := h.drainSent(p)
	if got := headersIn(msgs); len(got) != 1 || len(got[0].Headers) != 37 {
		t.Fatalf("sent %v, want one headers message with 11..47", commands(msgs))
	}
}
