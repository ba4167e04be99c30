package netsync_test

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestHeaderSyncHonest follows a whole headers-first sync from one peer:
// our locator first, then each full batch immediately followed by a
// getheaders from its last header, then a tip check of every other peer.
func TestHeaderSyncHonest(t *testing.T) {
	h := newHarness(t)
	c := newTestChain(5000, h.Now(), 1)

	// A peer that claims nothing above our genesis starts no sync.
	low, sent := h.establishedAt(true, 0)
	if n := len(getHeadersIn(sent)); n != 0 || h.state() != netsync.StateIdle || h.syncPeer() != 0 {
		t.Fatalf("peer at height 0: %d getheaders, state %q, sync peer %d", n, h.state(), h.syncPeer())
	}

	s, sent := h.establishedAt(false, 5000)
	gh := oneGetHeaders(t, s, sent)
	if got := locatorOf(gh); !slices.Equal(got, h.chain().Locator()) || len(got) != 1 || got[0] != c.hashes[0] {
		t.Fatalf("first locator %v, want [genesis %s]", got, c.hashes[0])
	}
	if gh.HashStop != (chainhash.Hash{}) || gh.ProtocolVersion != protocol.ProtocolVersion {
		t.Fatalf("getheaders stop %s, version %d", gh.HashStop, gh.ProtocolVersion)
	}
	if h.state() != netsync.StateSyncing || h.syncPeer() != s.ID {
		t.Fatalf("sync state %q peer %d, want %q peer %d", h.state(), h.syncPeer(), netsync.StateSyncing, s.ID)
	}

	// Peers arriving during the sync are left alone, even one announcing
	// the same height.
	other, sent := h.establishedAt(false, 4000)
	same, sent2 := h.establishedAt(true, 5000)
	if n := len(getHeadersIn(sent)) + len(getHeadersIn(sent2)); n != 0 || h.syncPeer() != s.ID {
		t.Fatalf("peers joining during the sync were sent %d getheaders; sync peer %d", n, h.syncPeer())
	}

	// Full batches: each is followed at once by a getheaders whose locator
	// is exactly the batch's last hash.
	for from := int32(1); from+maxHeadersPerMsg-1 <= 4000; from += maxHeadersPerMsg {
		to := from + maxHeadersPerMsg - 1
		s.Send(c.msg(from, to))
		h.expectChain(c, to)
		next := h.expectGetHeaders(s)
		if got := locatorOf(next); !slices.Equal(got, []chainhash.Hash{c.hashes[to]}) {
			t.Fatalf("after batch %d..%d: locator %v, want [%s]", from, to, got, c.hashes[to])
		}
		if h.state() != netsync.StateSyncing || h.syncPeer() != s.ID {
			t.Fatalf("after batch %d..%d: state %q peer %d", from, to, h.state(), h.syncPeer())
		}
		for _, q := range []*sim.Remote{low, other, same} {
			h.expectNoGetHeaders(q)
		}
	}

	// The short last batch ends the sync.
	s.Send(c.msg(4001, 5000))
	h.expectChain(c, 5000)
	if h.state() != netsync.StateSynced || h.syncPeer() != 0 {
		t.Fatalf("after the last batch: state %q peer %d, want synced, no sync peer", h.state(), h.syncPeer())
	}
	h.expectNoGetHeaders(s)
	if isTracked(s, wire.CmdGetHeaders) {
		t.Fatal("sync peer still has a getheaders tracked")
	}

	// Every other peer is asked for its tip, once.
	for _, q := range []*sim.Remote{low, other, same} {
		gh := h.expectGetHeaders(q)
		if got := locatorOf(gh); !slices.Equal(got, h.chain().LocatorAt(4999)) || got[0] != c.hashes[4999] {
			t.Fatalf("peer %d tip check locator starts %s, want our tip's parent %s", q.ID, got[0], c.hashes[4999])
		}
		if !h.peerState(q).TipAsked {
			t.Fatalf("peer %d: tipAsked not recorded", q.ID)
		}
		q.Send(wire.NewMsgHeaders())
		h.expectNoGetHeaders(q)
	}

	// Nothing more to do: ticks neither restart the sync nor ask again.
	for range 8 {
		h.Advance(sim.TickInterval)
		h.Tick()
	}
	for _, q := range []*sim.Remote{s, low, other, same} {
		h.expectNoGetHeaders(q)
		if !q.Alive() {
			t.Fatalf("peer %d dropped", q.ID)
		}
	}
	if h.state() != netsync.StateSynced || h.chain().Height() != 5000 {
		t.Fatalf("after ticks: state %q height %d", h.state(), h.chain().Height())
	}
}

// A chain that is a whole number of full batches ends with an empty answer
// to the last pipelined getheaders.
func TestHeaderSyncEndsOnEmptyAnswer(t *testing.T) {
	h := newHarness(t)
	c := newTestChain(2*maxHeadersPerMsg, h.Now(), 7)
	s, sent := h.establishedAt(false, c.tip())
	if rounds := h.serveSync(s, c, oneGetHeaders(t, s, sent)); rounds != 3 {
		t.Fatalf("%d headers messages, want 3 (2 full, 1 empty)", rounds)
	}
	h.expectChain(c, c.tip())
	if h.state() != netsync.StateSynced || h.syncPeer() != 0 {
		t.Fatalf("state %q peer %d", h.state(), h.syncPeer())
	}
}

// TestHeaderSyncAnnouncements: once synced, a few new headers from any peer
// extend the chain and are announced by headers to the peers that asked for
// it with sendheaders, except the one they came from.
func TestHeaderSyncAnnouncements(t *testing.T) {
	h := newHarness(t)
	c := newTestChain(2500, h.Now(), 3)
	s, sent := h.establishedAt(false, 2500)
	sgh := oneGetHeaders(t, s, sent)
	x, _ := h.establishedAt(false, 2500) // outbound, sendheaders
	y, _ := h.establishedAt(true, 0)     // inbound, announces by inv
	z, _ := h.establishedAt(true, 2400)  // inbound, sendheaders
	for _, p := range []*sim.Remote{s, x, z} {
		p.Send(wire.NewMsgSendHeaders())
	}
	h.serveSync(s, c, sgh)
	h.expectChain(c, 2500)
	// Nothing was announced during the sync.
	for _, p := range []*sim.Remote{s, x, y, z} {
		if n := len(headersIn(p.Drain())); n != 0 && p != s {
			t.Fatalf("peer %d was sent %d headers messages during the sync", p.ID, n)
		}
	}
	// (drainSent above also took the tip checks; answer them as peers
	// with nothing new, which the tracker matches to the requests.)
	for _, p := range []*sim.Remote{x, y, z} {
		if !isTracked(p, wire.CmdGetHeaders) {
			t.Fatalf("peer %d: no tip check tracked", p.ID)
		}
		p.Send(wire.NewMsgHeaders())
	}

	// z, syncing from us, fetches the last 100 headers: from then on we
	// know it has our tip and can announce to it by headers.
	zgh := wire.NewMsgGetHeaders()
	zgh.AddBlockLocatorHash(&c.hashes[2400])
	z.Send(zgh)
	if got := headersIn(z.Drain()); len(got) != 1 || len(got[0].Headers) != 100 {
		t.Fatalf("z's getheaders was answered with %d messages", len(got))
	}

	h.Advance(30 * time.Minute)
	ext := c.branch(2500, 6, h.Now(), 3)

	announce := func(from *sim.Remote, lo, hi int32, want ...*sim.Remote) {
		t.Helper()
		from.Send(ext.msg(lo, hi))
		if !from.Alive() || from.Info().Misbehavior != 0 {
			t.Fatalf("announcing peer %d: alive %v misbehavior %d", from.ID, from.Alive(), from.Info().Misbehavior)
		}
		h.expectChain(ext, hi)
		for _, p := range []*sim.Remote{s, x, y, z} {
			msgs := p.Drain()
			got := headersIn(msgs)
			if !slices.Contains(want, p) {
				// Peers that did not ask for headers announcements (y) are
				// announced the tip by inv, as Core does.
				if len(msgs) != 0 && !(p == y && p != from && slices.Equal(sim.Commands(msgs), []string{wire.CmdInv})) {
					t.Fatalf("headers %d..%d from peer %d: peer %d was sent %v, want nothing", lo, hi, from.ID, p.ID, sim.Commands(msgs))
				}
				continue
			}
			if len(msgs) != 1 || len(got) != 1 {
				t.Fatalf("headers %d..%d from peer %d: peer %d was sent %v, want one headers", lo, hi, from.ID, p.ID, sim.Commands(msgs))
			}
			hs := got[0].Headers
			if len(hs) == 0 || len(hs) > netsync.MaxAnnounce {
				t.Fatalf("announcement of %d headers", len(hs))
			}
			first := hi - int32(len(hs)) + 1
			for i, w := range hs {
				if w.BlockHash() != ext.hashes[first+int32(i)] {
					t.Fatalf("announcement header %d is %s, want the header at %d", i, w.BlockHash(), first+int32(i))
				}
			}
			if h.peerState(p).Announced != ext.hashes[hi] {
				t.Fatalf("peer %d: announced %s, want %s", p.ID, h.peerState(p).Announced, ext.hashes[hi])
			}
		}
	}
	announce(x, 2501, 2501, s, z)    // one header from an outbound peer
	announce(z, 2502, 2503, s, x)    // two from an inbound one
	announce(y, 2504, 2506, s, x, z) // three from a peer without sendheaders
	y.Send(ext.msg(2504, 2506))      // the same again: nothing new
	s.Send(ext.msg(2500, 2506))      // nor from another peer
	for _, p := range []*sim.Remote{s, x, y, z} {
		if msgs := p.Drain(); len(msgs) != 0 {
			t.Fatalf("duplicate headers: peer %d was sent %v", p.ID, sim.Commands(msgs))
		}
		if !p.Alive() || p.Info().Misbehavior != 0 {
			t.Fatalf("peer %d: alive %v misbehavior %d", p.ID, p.Alive(), p.Info().Misbehavior)
		}
	}
	if h.state() != netsync.StateSynced {
		t.Fatalf("state %q", h.state())
	}
}

// A peer that announces by inv is asked for the headers from our locator,
// and what it sends is then announced to the sendheaders peers.
func TestHeaderSyncInvAnnouncement(t *testing.T) {
	h, c, s := syncedHarness(t, 300, 4)
	s.Send(wire.NewMsgSendHeaders())
	y, sent := h.establishedAt(true, 300)
	h.answerTipCheck(y, sent)
	ext := c.branch(300, 2, h.Now().Add(time.Hour), 4)

	inv := wire.NewMsgInv()
	inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &ext.hashes[302]))
	y.Send(inv)
	gh := h.expectGetHeaders(y)
	if got := locatorOf(gh); !slices.Equal(got, h.chain().Locator()) {
		t.Fatalf("inv answered with locator %v, want ours", got)
	}
	// A second inv while the getheaders is in flight asks nothing more.
	y.Send(inv)
	h.expectNoGetHeaders(y)
	y.Send(ext.answer(gh))
	h.expectChain(ext, 302)
	if got := headersIn(s.Drain()); len(got) != 1 || got[0].Headers[len(got[0].Headers)-1].BlockHash() != ext.hashes[302] {
		t.Fatalf("sendheaders peer was not announced the new tip")
	}
	// An inv of a known block asks nothing.
	known := wire.NewMsgInv()
	known.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &ext.hashes[301]))
	y.Send(known)
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
			h := newHarness(t)
			c := newTestChain(3000, h.Now(), 11)
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
			bad.Send(batch)

			d := h.ExpectDropped(bad, p2p.DropViolation, tc.reason)
			h.expectDiscouraged(bad, d.Reason)
			h.expectChain(c, 1999)
			if hash := spoiled.BlockHash(); h.chain().Known(&hash) {
				t.Fatal("the invalid header was stored")
			}
			finishWithHonest(t, h, honest, c, 1999)
		})
	}

	t.Run("not continuous", func(t *testing.T) {
		h := newHarness(t)
		c := newTestChain(3000, h.Now(), 12)
		bad, sent := h.establishedAt(false, 3000)
		oneGetHeaders(t, bad, sent)
		honest, _ := h.establishedAt(false, 3000)
		// 1..1000, then 1002..2000: header 1002 does not follow 1000.
		batch := headersMsg(append(slices.Clone(c.headers[1:1001]), c.headers[1002:2001]...))
		bad.Send(batch)
		d := h.ExpectDropped(bad, p2p.DropViolation, "not continuous")
		h.expectDiscouraged(bad, d.Reason)
		h.expectChain(c, 1000)
		finishWithHonest(t, h, honest, c, 1000)
	})

	t.Run("second batch", func(t *testing.T) {
		// The invalid header comes after a whole valid batch: the first
		// batch and the second's valid prefix stay.
		h := newHarness(t)
		c := newTestChain(5000, h.Now(), 13)
		bad, sent := h.establishedAt(false, 5000)
		oneGetHeaders(t, bad, sent)
		honest, _ := h.establishedAt(false, 5000)
		bad.Send(c.msg(1, 2000))
		h.expectGetHeaders(bad)
		batch := c.msg(2001, 4000)
		w := *batch.Headers[500]
		for meetsTarget(&w) {
			w.Nonce++
		}
		batch.Headers[500] = &w
		bad.Send(batch)
		d := h.ExpectDropped(bad, p2p.DropViolation, "hash-meets-target")
		h.expectDiscouraged(bad, d.Reason)
		h.expectChain(c, 2500)
		finishWithHonest(t, h, honest, c, 2500)
	})
}

// finishWithHonest checks that at the next tick honest becomes the sync
// peer and is asked from our tip at height, then serves it the rest of c.
func finishWithHonest(t *testing.T, h *harness, honest *sim.Remote, c *testChain, height int32) {
	t.Helper()
	h.Tick()
	if h.syncPeer() != honest.ID || h.state() != netsync.StateSyncing {
		t.Fatalf("after the tick: sync peer %d state %q, want peer %d syncing", h.syncPeer(), h.state(), honest.ID)
	}
	gh := h.expectGetHeaders(honest)
	if got := locatorOf(gh); !slices.Equal(got, h.chain().Locator()) || got[0] != c.hashes[height] {
		t.Fatalf("honest peer asked from %v, want our locator from %d", got, height)
	}
	h.serveSync(honest, c, gh)
	h.expectChain(c, c.tip())
	if h.state() != netsync.StateSynced || !honest.Alive() {
		t.Fatalf("after the honest peer: state %q, honest alive %v", h.state(), honest.Alive())
	}
}

// TestHeaderSyncFutureHeader: a header more than two hours ahead of our
// clock (the engine's Now) is rejected; exactly two hours is fine.
func TestHeaderSyncFutureHeader(t *testing.T) {
	setup := func(t *testing.T, ahead time.Duration) (*harness, *testChain, *sim.Remote, *sim.Remote, wire.BlockHeader) {
		h := newHarness(t)
		c := newTestChain(3000, h.Now(), 14)
		p, sent := h.establishedAt(false, 3000)
		oneGetHeaders(t, p, sent)
		honest, _ := h.establishedAt(false, 3000)
		w := c.headers[2000]
		w.Timestamp = h.Now().Add(ahead)
		grind(t, &w, w.Bits)
		batch := c.msg(1, 2000)
		batch.Headers[1999] = &w
		p.Send(batch)
		return h, c, p, honest, w
	}

	t.Run("two hours ahead", func(t *testing.T) {
		h, c, p, _, w := setup(t, 2*time.Hour)
		if !p.Alive() || h.chain().Height() != 2000 || h.chain().HashAt(2000) != w.BlockHash() || h.chain().HashAt(1999) != c.hashes[1999] {
			t.Fatalf("header at the limit: alive %v, height %d", p.Alive(), h.chain().Height())
		}
	})

	t.Run("more than two hours ahead", func(t *testing.T) {
		h, c, p, honest, w := setup(t, 2*time.Hour+time.Second)
		h.expectChain(c, 1999)
		if hash := w.BlockHash(); h.chain().Known(&hash) {
			t.Fatal("the future header was stored")
		}
		// What the engine does today: a protocol violation naming the rule.
		if !p.Alive() {
			d := h.ExpectDropped(p, p2p.DropViolation, "breaks rule timestamp-not-too-far-ahead")
			t.Logf("dropped: %s: %s", d.Kind, d.Reason)
			finishWithHonest(t, h, honest, c, 1999)
		}
		// The consensus package documents ErrTimeTooNew as the one breach
		// time heals, which callers must not punish; Core does not punish
		// BLOCK_TIME_FUTURE either. Punishing it means a node whose clock
		// runs slow discourages every honest peer that sends a new tip.
		if discouraged := h.banned(p); discouraged {
			t.Fatalf("a peer was discouraged for a header from the future")
		}
		// Offered again, it is counted, and logged at INFO only once: a
		// peer cannot fill the log for free.
		again := c.msg(1, 2000)
		again.Headers[1999] = &w
		p.Send(again)
		if n := h.peerState(p).TooNew; n != 2 {
			t.Errorf("%d too-new headers messages counted, want 2", n)
		}
		info := 0
		for _, l := range h.N.Logs {
			if l.Msg == "header too far in the future; ignored for now" && l.Level >= slog.LevelInfo {
				info++
			}
		}
		if info != 1 {
			t.Errorf("%d INFO logs of too-new headers, want 1", info)
		}
	})
}

// TestHeaderSyncNotConnecting: headers whose first does not connect get a
// getheaders with our locator; more than netsync.MaxUnconnecting such messages in a
// row drop the peer, and the honest peer finishes the sync.
func TestHeaderSyncNotConnecting(t *testing.T) {
	h := newHarness(t)
	c := newTestChain(3000, h.Now(), 15)
	stranger := newTestChain(100, h.Now(), 16) // a chain we know nothing of
	bad, sent := h.establishedAt(false, 3000)
	oneGetHeaders(t, bad, sent)
	honest, _ := h.establishedAt(false, 3000)

	for i := 1; i <= netsync.MaxUnconnecting; i++ {
		from := int32(10 + 3*i)
		bad.Send(stranger.msg(from, from+2))
		if !bad.Alive() || h.peerState(bad).Unconnecting != i {
			t.Fatalf("message %d: alive %v, unconnecting %d", i, bad.Alive(), h.peerState(bad).Unconnecting)
		}
		gh := h.expectGetHeaders(bad)
		if got := locatorOf(gh); !slices.Equal(got, h.chain().Locator()) {
			t.Fatalf("message %d answered with locator %v, want ours", i, got)
		}
		if h.chain().Height() != 0 || h.chain().ForkCount() != 0 {
			t.Fatalf("non-connecting headers stored: height %d forks %d", h.chain().Height(), h.chain().ForkCount())
		}
	}
	bad.Send(stranger.msg(80, 82))
	d := h.ExpectDropped(bad, p2p.DropViolation, fmt.Sprintf("%d headers messages that do not connect", netsync.MaxUnconnecting+1))
	h.expectDiscouraged(bad, d.Reason)
	finishWithHonest(t, h, honest, c, 0)
}

// The count is of non-connecting messages in a row: one that connects
// resets it.
func TestHeaderSyncNotConnectingResets(t *testing.T) {
	h, c, _ := syncedHarness(t, 100, 17)
	stranger := newTestChain(100, h.Now(), 18)
	p, sent := h.establishedAt(true, 100)
	h.answerTipCheck(p, sent)
	ext := c.branch(100, 1, h.Now().Add(time.Hour), 17)
	for round := range 2 {
		for i := 1; i <= netsync.MaxUnconnecting; i++ {
			from := int32(3 * i)
			p.Send(stranger.msg(from, from+2))
			p.Drain()
		}
		if !p.Alive() || h.peerState(p).Unconnecting != netsync.MaxUnconnecting {
			t.Fatalf("round %d: alive %v unconnecting %d", round, p.Alive(), h.peerState(p).Unconnecting)
		}
		// Headers we already have connect too.
		p.Send(ext.msg(100, 100+int32(round)))
		if h.peerState(p).Unconnecting != 0 {
			t.Fatalf("round %d: unconnecting %d after a connecting message", round, h.peerState(p).Unconnecting)
		}
	}
	if !p.Alive() {
		t.Fatal("dropped")
	}
}

// TestHeaderSyncStall: a sync peer that does not answer within its
// request's timeout (counted from when the request was written) is dropped
// for a stall, and another peer continues from what was validated.
func TestHeaderSyncStall(t *testing.T) {
	h := newHarness(t)
	c := newTestChain(5000, h.Now(), 19)
	s, sent := h.establishedAt(false, 5000)
	oneGetHeaders(t, s, sent)
	other, _ := h.establishedAt(false, 5000)

	s.Send(c.msg(1, 2000))
	h.expectChain(c, 2000)
	var reqID uint64
	for _, f := range s.Peek() {
		if f.Frame.Command == wire.CmdGetHeaders {
			reqID = f.Request
		}
	}
	r, ok := tracked(s, wire.CmdGetHeaders)
	if reqID == 0 || !ok || r.ID != reqID {
		t.Fatalf("pipelined getheaders not tracked (request %d)", reqID)
	}
	timeout := time.Duration(r.TimeoutMs * float64(time.Millisecond))
	if want := netsync.HeadersTimeoutBase + maxHeadersPerMsg*netsync.HeadersTimeoutPerHeader; timeout != want {
		t.Fatalf("timeout %s, want %s", timeout, want)
	}

	// The clock runs only once the request is on the socket.
	h.Advance(30 * time.Second)
	h.Tick()
	if !s.Alive() {
		t.Fatal("dropped for a request never written")
	}
	s.Read() // written now
	h.Advance(timeout - time.Millisecond)
	h.Tick()
	if !s.Alive() || h.syncPeer() != s.ID {
		t.Fatalf("before the timeout: alive %v, sync peer %d", s.Alive(), h.syncPeer())
	}
	h.expectNoGetHeaders(other)
	h.Advance(time.Millisecond)
	h.Tick()
	h.ExpectDropped(s, p2p.DropStall, "headers sync stalled")
	if h.banned(s) {
		t.Fatal("a stalling peer was discouraged")
	}
	// The same tick hands the sync to the other peer, from our tip.
	if h.syncPeer() != other.ID || h.state() != netsync.StateSyncing {
		t.Fatalf("after the stall: sync peer %d state %q, want %d syncing", h.syncPeer(), h.state(), other.ID)
	}
	h.expectChain(c, 2000)
	gh := h.expectGetHeaders(other)
	if got := locatorOf(gh); got[0] != c.hashes[2000] {
		t.Fatalf("other peer asked from %s, want our tip %s", got[0], c.hashes[2000])
	}
	h.serveSync(other, c, gh)
	h.expectChain(c, 5000)
	if h.state() != netsync.StateSynced {
		t.Fatalf("state %q", h.state())
	}
}

// A sync peer that goes away hands the sync to another at the next tick.
func TestHeaderSyncPeerLeaves(t *testing.T) {
	h := newHarness(t)
	c := newTestChain(3000, h.Now(), 20)
	s, sent := h.establishedAt(false, 3000)
	oneGetHeaders(t, s, sent)
	in, _ := h.establishedAt(true, 3000)
	out, _ := h.establishedAt(false, 2500)
	s.Send(c.msg(1, 2000))
	s.Close()
	if h.syncPeer() != 0 {
		t.Fatalf("sync peer %d after it left", h.syncPeer())
	}
	h.Tick()
	// Outbound is preferred over a higher inbound.
	if h.syncPeer() != out.ID {
		t.Fatalf("sync peer %d, want the outbound peer %d", h.syncPeer(), out.ID)
	}
	h.expectNoGetHeaders(in)
	h.serveSync(out, c.branch(2500, 0, h.Now(), 0), h.expectGetHeaders(out))
	// out's chain ends at 2500 and says so with a short batch: synced with
	// it; the inbound peer is then asked for its tip.
	if h.chain().Height() != 2500 || h.state() != netsync.StateSynced {
		t.Fatalf("height %d state %q", h.chain().Height(), h.state())
	}
	h.serveSync(in, c, h.expectGetHeaders(in))
	h.expectChain(c, 3000)
}

// TestHeaderSyncReorg: a branch with more work from another peer becomes
// the main chain; the old branch stays known as a fork tip.
func TestHeaderSyncReorg(t *testing.T) {
	h, a, pa := syncedHarness(t, 100, 21)
	pa.Send(wire.NewMsgSendHeaders())

	// A branch from 90 with as much work as ours: no reorg, first seen wins.
	tie := a.branch(90, 10, h.Now(), 22)
	pc, sent := h.establishedAt(false, 100)
	pc.Send(tie.answer(oneGetHeaders(t, pc, sent)))
	h.expectChain(a, 100)
	if len(h.chain().Reorgs()) != 0 || h.chain().ForkCount() != 10 {
		t.Fatalf("equal work: reorgs %v, fork headers %d", h.chain().Reorgs(), h.chain().ForkCount())
	}
	pa.Drain()

	// A branch from 90 of 20 headers: more work.
	b := a.branch(90, 20, h.Now(), 23)
	pb, sent := h.establishedAt(false, 110)
	gh := oneGetHeaders(t, pb, sent)
	pb.Send(b.answer(gh))
	h.expectChain(b, 110)
	if !pb.Alive() || pb.Info().Misbehavior != 0 {
		t.Fatal("the peer with the better branch was punished")
	}
	reorgs := h.chain().Reorgs()
	if len(reorgs) != 1 {
		t.Fatalf("reorgs %v, want one", reorgs)
	}
	// The switch happens at the first header with more work (101); the
	// rest of the batch then extends the new main chain.
	if r := reorgs[0]; r.ForkHeight != 90 || r.OldTip != a.hashes[100] || r.OldHeight != 100 || r.NewTip != b.hashes[101] || r.NewHeight != 101 {
		t.Fatalf("reorg %+v", r)
	}
	if got := h.chain().HashAt(90); got != a.hashes[90] {
		t.Fatalf("fork point %s", got)
	}
	// The reorg event says its depth: 10 blocks off (91 to 100).
	depth := false
	for _, ev := range h.N.Events {
		depth = depth || ev.Kind == p2p.EventReorg && strings.Contains(ev.Text, "at height 90, depth 10 (11 blocks connected)")
	}
	if !depth {
		t.Errorf("no reorg event with its depth in %v", h.N.Events)
	}
	// The old branch is a fork now: its headers are known, off the main chain.
	for ht := int32(91); ht <= 100; ht++ {
		info, ok := h.chain().Lookup(&a.hashes[ht])
		if !ok || info.Main || info.Height != ht {
			t.Fatalf("old header %d: known %v, %+v", ht, ok, info)
		}
	}
	tips := h.chain().Tips()
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
	v := h.sync().Snapshot(h.Now()).Chain
	if height, best, _ := v.Tip(); height != 110 || best != b.hashes[110] || v.ForkCount() != 20 {
		t.Fatalf("view after the reorg: height %d best %s fork headers %d", height, best, v.ForkCount())
	}
}

// After a reorg, a peer that asked for headers announcements is sent the new
// branch; the announcement must connect to a header the peer has, or the
// peer cannot use it (Core reverts to an inv announcement when it cannot
// find one that connects, see SendMessages in net_processing.cpp).
func TestHeaderSyncReorgAnnouncementConnects(t *testing.T) {
	h, a, pa := syncedHarness(t, 100, 24)
	pa.Send(wire.NewMsgSendHeaders())
	b := a.branch(90, 20, h.Now(), 25)
	pb, sent := h.establishedAt(false, 110)
	pb.Send(b.answer(oneGetHeaders(t, pb, sent)))
	h.expectChain(b, 110)

	sentToA := pa.Drain()
	got := headersIn(sentToA)
	if len(got) == 0 {
		// A 20-header reorg is more than the 8 headers Core announces:
		// like Core, we announce the new tip by inv and the peer asks.
		if len(sentToA) != 1 || sentToA[0].Command() != wire.CmdInv || sentToA[0].(*wire.MsgInv).InvList[0].Hash != b.hashes[110] {
			t.Fatalf("peer on the old branch was sent %v, want headers that connect or an inv of the new tip", sim.Commands(sentToA))
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
	h, c, _ := syncedHarness(t, 2500, 26)
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
		q.Send(gh)
		msgs := q.Drain()
		got := headersIn(msgs)
		if len(msgs) != 1 || len(got) != 1 {
			t.Fatalf("getheaders answered with %v, want one headers message", sim.Commands(msgs))
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
	unknown := newTestChain(20, h.Now(), 27)

	// A locator from our chain at 100: 101..2100.
	expect("locator at 100", ask(zero, h.chain().LocatorAt(100)...), 101, 2000)
	// A peer on a branch of its own: its unknown hashes first, then ours.
	expect("branch locator", ask(zero, unknown.hashes[20], unknown.hashes[19], c.hashes[2300], c.hashes[2290]), 2301, 200)
	// hashStop on our chain ends the answer there.
	expect("stop at 150", ask(c.hashes[150], c.hashes[100]), 101, 50)
	// A stop we do not know is no stop.
	expect("unknown stop", ask(unknown.hashes[5], c.hashes[2000]), 2001, 500)
	// Nothing we know: from the genesis.
	expect("unknown locator", ask(zero, unknown.hashes[20], unknown.hashes[10]), 1, 2000)
	// Our tip: nothing to send, but an answer all the same.
	expect("our tip", ask(zero, h.chain().Locator()...), 2501, 0)
	if !q.Alive() || q.Info().Misbehavior != 0 {
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
	h, c, _ := syncedHarness(t, 2500, 28)
	q, sent := h.establishedAt(true, 0)
	h.answerTipCheck(q, sent)
	const asks = 20
	for range asks {
		gh := wire.NewMsgGetHeaders()
		gh.AddBlockLocatorHash(&c.hashes[0])
		q.Push(gh)
	}
	h.N.ServeAll()
	if !q.Alive() {
		t.Fatalf("peer dropped: %+v", h.LastDisconnect())
	}
	if b := q.Info().QueueBytes; b > 2*p2p.OutQueueLimit+maxHeadersPerMsg*81+200+p2p.FrameOverhead {
		t.Fatalf("%d bytes queued, over the hard limit", b)
	}
	if h.N.InQueueLen(q.ID) == 0 {
		t.Fatal("every getheaders served although the peer reads nothing")
	}
	served := 0
	for round := 0; round < asks && served < asks; round++ {
		served += len(headersIn(q.Drain()))
		h.N.ServeAll()
	}
	if served != asks || !q.Alive() {
		t.Fatalf("served %d of %d; alive %v", served, asks, q.Alive())
	}
}

// Before any peer on mainnet only the clock says how far behind the
// genesis is: the target is an estimate and says so, and progress by
// work is near zero (the minimum chain work dwarfs the genesis's).
func TestSyncTargetFromTheClock(t *testing.T) {
	h := newHarness(t, func(nc *sim.NodeConfig) { nc.P2P.Network = protocol.Mainnet })
	st := h.sync().StatusAt(h.Now())
	wantAbout := int32(h.Now().Sub(time.Date(2009, 1, 3, 18, 15, 5, 0, time.UTC)) / (10 * time.Minute))
	if st.TargetSource != "clock" || st.Target != wantAbout || st.WorkProgress <= 0 || st.WorkProgress > 1e-9 || st.Progress != 0 {
		t.Fatalf("mainnet before any peer: target %d (want %d) from %q, progress %v, work progress %v",
			st.Target, wantAbout, st.TargetSource, st.Progress, st.WorkProgress)
	}
}

// TestHeaderSyncStatus: the published status during and after a sync.
func TestHeaderSyncStatus(t *testing.T) {
	h := newHarness(t)
	c := newTestChain(5000, h.Now(), 29)
	if st := h.sync().StatusAt(h.Now()); st.State != netsync.StateIdle || st.Peer != 0 {
		t.Fatalf("before any peer: %+v", st)
	}
	// Regtest's blocks come when someone mines them: the clock says
	// nothing about its target.
	if st := h.sync().StatusAt(h.Now()); st.TargetSource != "tip" || st.Target != 0 {
		t.Fatalf("regtest before any peer: target %d from %q", st.Target, st.TargetSource)
	}
	s, sent := h.establishedAt(false, 5000)
	oneGetHeaders(t, s, sent)
	s.Send(c.msg(1, 2000))
	h.expectGetHeaders(s)
	h.Advance(time.Second)
	s.Send(c.msg(2001, 4000))
	h.expectGetHeaders(s)

	if height, best, _ := h.chain().Tip(); height != 4000 || best != c.hashes[4000] {
		t.Fatalf("during sync: height %d best %s", height, best)
	}
	sy := h.sync().StatusAt(h.Now())
	if sy.State != netsync.StateSyncing || sy.Peer != s.ID || sy.Target < 5000 {
		t.Fatalf("during sync: %+v", sy)
	}
	if sy.Progress <= 0 || sy.Progress >= 1 || math.Abs(sy.Progress-4000/float64(sy.Target)) > 1e-9 || sy.TargetSource != "peers" {
		t.Fatalf("during sync: progress %v, target %d from %q", sy.Progress, sy.Target, sy.TargetSource)
	}
	// Every regtest header has the same work: 4,001 of Target+1 headers'.
	if want := 4001 / float64(sy.Target+1); math.Abs(sy.WorkProgress-want) > 1e-9 {
		t.Fatalf("during sync: work progress %v, want %v", sy.WorkProgress, want)
	}
	if sy.HeadersPerSec != 2000 || math.Abs(sy.EtaS-float64(sy.Target-4000)/2000) > 1e-9 {
		t.Fatalf("during sync: %v headers/s, eta %v s (target %d)", sy.HeadersPerSec, sy.EtaS, sy.Target)
	}

	s.Send(c.msg(4001, 5000))
	params := consensus.ParamsFor(protocol.Regtest)
	var work consensus.U256
	for range 5001 {
		work = work.Add(consensus.Work(params.PowLimitBits))
	}
	v := h.sync().Snapshot(h.Now()).Chain
	if height, best, got := v.Tip(); height != 5000 || best != c.hashes[5000] || got.Hex() != work.Hex() {
		t.Fatalf("after sync: height %d best %s work %s, want %s", height, best, got.Hex(), work.Hex())
	}
	if tt := time.Unix(int64(v.TipHeader().Timestamp), 0); !tt.Equal(c.headers[5000].Timestamp) {
		t.Fatalf("tip time %s, want %s", tt, c.headers[5000].Timestamp.UTC())
	}
	if sy := h.sync().StatusAt(h.Now()); sy.State != netsync.StateSynced || sy.Progress != 1 || sy.Peer != 0 || sy.Target != 5000 || sy.EtaS != 0 || sy.WorkProgress != 1 || sy.TargetSource != "tip" {
		t.Fatalf("after sync: %+v", sy)
	}
}

// A peer whose version claims a height above ours but which has nothing to
// send (it answers getheaders with an empty headers message) must not be
// picked as sync peer again and again: once it showed us its tip, we are
// synced with it, as Core starts a headers sync with a peer once.
func TestHeaderSyncClaimedHeightNotResynced(t *testing.T) {
	h, _, _ := syncedHarness(t, 100, 30)
	liar, sent := h.establishedAt(true, 1_000_000)
	h.answerTipCheck(liar, sent)

	asked, flips := 0, 0
	for range 20 {
		h.Advance(sim.TickInterval)
		h.Tick()
		if h.state() != netsync.StateSynced {
			flips++
		}
		for _, gh := range getHeadersIn(liar.Drain()) {
			asked++
			if got := locatorOf(gh); !slices.Equal(got, h.chain().Locator()) {
				t.Fatalf("locator %v", got)
			}
			liar.Send(wire.NewMsgHeaders())
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
	h := newHarness(t, func(c *sim.NodeConfig) { c.Params = params })
	t0 := h.Now().Add(-72 * time.Hour)
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
	p.Send(fc.answer(oneGetHeaders(t, p, sent)))
	h.expectChain(mc, 47) // the higher branch has less work
	if tips := h.chain().Tips(); len(tips) != 2 || tips[1].Height != 60 || tips[1].Work.Cmp(tips[0].Work) >= 0 {
		t.Fatalf("tips %+v, want the active one at 47 and a branch at 60 with less work", tips)
	}
	t.Logf("peer's bestKnown after sending its branch: %d (our height %d)", h.peerState(p).BestKnown, h.chain().Height())

	gh := wire.NewMsgGetHeaders()
	gh.AddBlockLocatorHash(&mc.hashes[10])
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		p.Send(gh)
	}()
	if panicked != nil {
		t.Logf("serving getheaders panicked: %v", panicked)
	}
	if panicked != nil {
		t.Fatalf("serving getheaders panicked: %v", panicked)
	}
	msgs := p.Drain()
	if got := headersIn(msgs); len(got) != 1 || len(got[0].Headers) != 37 {
		t.Fatalf("sent %v, want one headers message with 11..47", sim.Commands(msgs))
	}
}

// isTracked reports whether r has a request for command in flight.
func isTracked(r *sim.Remote, command string) bool {
	_, ok := tracked(r, command)
	return ok
}

// askHeaders sends q a getheaders from after and returns the headers of
// its one answer.
func askHeaders(t *testing.T, q *sim.Remote, after chainhash.Hash) []*wire.BlockHeader {
	t.Helper()
	gh := wire.NewMsgGetHeaders()
	gh.AddBlockLocatorHash(&after)
	q.Send(gh)
	got := headersIn(q.Drain())
	if len(got) != 1 {
		t.Fatalf("getheaders answered with %d headers messages", len(got))
	}
	return got[0].Headers
}

// Serving ahead: once a peer asks for the batch after the one it got, the
// next is made while it validates, and is exactly what the peer would have
// been sent; after a reorg below its end it is not used.
func TestHeaderSyncServingAhead(t *testing.T) {
	h, c, s := syncedHarness(t, 8000, 31)
	q, sent := h.establishedAt(true, 0)
	h.answerTipCheck(q, sent)
	ask := func(after chainhash.Hash) []*wire.BlockHeader { t.Helper(); return askHeaders(t, q, after) }
	expect := func(chain *testChain, hs []*wire.BlockHeader, first int32) {
		t.Helper()
		if len(hs) != maxHeadersPerMsg {
			t.Fatalf("%d headers", len(hs))
		}
		for i, w := range hs {
			if w.BlockHash() != chain.hashes[first+int32(i)] {
				t.Fatalf("header %d is %s, want height %d's", i, w.BlockHash(), first+int32(i))
			}
		}
	}
	prepared := func() bool { p, _ := h.sync().Prepared(q.ID); return p }
	expect(c, ask(c.hashes[0]), 1)
	if prepared() {
		t.Error("a batch made ahead before the peer asked for a continuation")
	}
	expect(c, ask(c.hashes[2000]), 2001) // a continuation: 4001..6000 is made ahead
	if !prepared() {
		t.Error("no batch made ahead for a peer syncing from us")
	}
	expect(c, ask(c.hashes[4000]), 4001) // made ahead
	// A branch from 7000 with more work replaces 7001..8000: the batch
	// made ahead (6001..8000) is stale.
	b := c.branch(7000, 1100, h.Now(), 32)
	s.Send(b.msg(7001, 8100))
	h.expectChain(b, 8100)
	expect(b, ask(c.hashes[6000]), 6001)
}

// Peers that ask for the continuation once and then stop cannot keep
// serving ahead from the others: past maxPrepared, a batch unused for
// preparedTTL gives its place.
func TestServingAheadReclaimsUnusedBatches(t *testing.T) {
	h, c, _ := syncedHarness(t, 8000, 35)
	var peers []*sim.Remote
	for range netsync.MaxPrepared + 1 {
		q, sent := h.establishedAt(true, 0)
		h.answerTipCheck(q, sent)
		askHeaders(t, q, c.hashes[0])
		askHeaders(t, q, c.hashes[2000])
		peers = append(peers, q)
	}
	last := peers[len(peers)-1]
	if p, n := h.sync().Prepared(last.ID); p || n != netsync.MaxPrepared {
		t.Fatalf("past the bound: prepared %v, %d peers with a batch made ahead", p, n)
	}
	h.Advance(netsync.PreparedTTL)
	askHeaders(t, last, c.hashes[4000])
	if p, n := h.sync().Prepared(last.ID); !p || n != netsync.MaxPrepared {
		t.Errorf("after the others' batches went unused: prepared %v, %d peers with a batch made ahead", p, n)
	}
	if p, _ := h.sync().Prepared(peers[0].ID); p {
		t.Error("the oldest unused batch was kept")
	}
}

// Announcements start right after the last header the peer is known to
// have (one header for a peer one behind, not the last 8 every time), and
// a block a peer announced to us is never announced back to it.
func TestHeaderSyncAnnouncesOnlyWhatThePeerLacks(t *testing.T) {
	h, c, s := syncedHarness(t, 300, 33)
	s.Send(wire.NewMsgSendHeaders())
	q, sent := h.establishedAt(true, 300)
	h.answerTipCheck(q, sent)
	q.Send(wire.NewMsgSendHeaders())
	// q has our chain: it fetched it from us.
	gh := wire.NewMsgGetHeaders()
	gh.AddBlockLocatorHash(&c.hashes[0])
	q.Send(gh)
	q.Drain()

	ext := c.branch(300, 3, h.Now().Add(time.Hour), 33)
	// q announces 301 by inv first (it heard of it before s did)...
	inv := wire.NewMsgInv()
	inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &ext.hashes[301]))
	q.Send(inv)
	q.Drain() // our getheaders for it
	// ...then s sends it to us: q is not told of its own block.
	s.Send(ext.msg(301, 301))
	h.expectChain(ext, 301)
	if msgs := q.Drain(); len(headersIn(msgs)) != 0 || len(msgs) != 0 {
		t.Fatalf("q was announced the block it announced: %v", sim.Commands(msgs))
	}
	// 302 from s: q gets exactly that one header.
	s.Send(ext.msg(302, 302))
	got := headersIn(q.Drain())
	if len(got) != 1 || len(got[0].Headers) != 1 || got[0].Headers[0].BlockHash() != ext.hashes[302] {
		t.Fatalf("announcement to a peer one behind: %d messages (%v)", len(got), got)
	}
}

// getblocks is answered as Core does: an inv of up to 500 main-chain
// hashes after the locator's fork point, up to hashStop; with nothing
// after it, an empty inv (btcd drops a peer that sends nothing).
func TestGetBlocksAnswered(t *testing.T) {
	h, c, _ := syncedHarness(t, 1200, 34)
	q, sent := h.establishedAt(true, 0)
	h.answerTipCheck(q, sent)
	ask := func(stop chainhash.Hash, locator ...chainhash.Hash) []*wire.InvVect {
		t.Helper()
		gb := wire.NewMsgGetBlocks(&stop)
		for i := range locator {
			gb.AddBlockLocatorHash(&locator[i])
		}
		q.Send(gb)
		msgs := q.Drain()
		if len(msgs) != 1 || msgs[0].Command() != wire.CmdInv {
			t.Fatalf("getblocks answered with %v", sim.Commands(msgs))
		}
		return msgs[0].(*wire.MsgInv).InvList
	}
	var zero chainhash.Hash
	if got := ask(zero, c.hashes[100]); len(got) != 500 || got[0].Hash != c.hashes[101] || got[499].Hash != c.hashes[600] {
		t.Fatalf("from 100: %d hashes", len(got))
	}
	if got := ask(c.hashes[150], c.hashes[100]); len(got) != 50 || got[49].Hash != c.hashes[150] {
		t.Fatalf("from 100 to 150: %d hashes", len(got))
	}
	if got := ask(zero, c.hashes[1200]); len(got) != 0 {
		t.Fatalf("from our tip: %d hashes, want an empty inv", len(got))
	}
	if !q.Alive() || q.Info().Misbehavior != 0 {
		t.Fatal("getblocks punished")
	}
}

// Messages sync has no use for yet (a block: the node keeps none) are
// counted as ignored, as the core counts unknown commands.
func TestUnusedMessagesCountAsIgnored(t *testing.T) {
	h := newHarness(t)
	p, _ := h.establishedAt(true, 0)
	before := p.Info().Ignored
	p.Send(wire.NewMsgBlock(&wire.BlockHeader{}))
	if got := p.Info().Ignored; got != before+1 || !p.Alive() {
		t.Errorf("ignored %d after a block (was %d), alive %v", got, before, p.Alive())
	}
}
