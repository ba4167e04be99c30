package netsync_test

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
)

// TestTimelineOfAStalledBlock: the block a staller held shows, in its
// timeline, the staller's request ended as stalled and the next peer's as
// delivered, then received (from that peer), stored and connected in
// order; the stall is recorded with its timeout and who replaced the
// staller; while it stalls, the window's first cell names the staller.
// The timelines kept stay within MaxTimelines, the newest kept.
func TestTimelineOfAStalledBlock(t *testing.T) {
	h := newBlockHarness(t, 0)
	c := newBlockChain(t, netsync.BlockDownloadWindow+100, h.Now())
	peers := h.connectBlockPeers(c, serveNothing, serveAll, serveAll)
	staller := peers[0]
	h.pump(peers, 0)
	first := staller.asked[0]
	snap := h.sync().Snapshot(h.Now())
	if snap.Window == nil || snap.Window.From != 1 || len(snap.Window.Cells) != netsync.BlockDownloadWindow {
		t.Fatalf("window %+v, want %d cells from 1", snap.Window, netsync.BlockDownloadWindow)
	}
	if cell := snap.Window.Cells[0]; cell.State != netsync.CellRequested || cell.Peer != staller.r.ID {
		t.Fatalf("first cell %+v, want requested from the staller %d", cell, staller.r.ID)
	}
	stored := 0
	for _, cell := range snap.Window.Cells {
		if cell.State == netsync.CellStored {
			stored++
		}
	}
	if stored == 0 {
		t.Error("no stored cell in the window while the staller holds its first block")
	}

	// Once another peer finds the window full, the staller is named.
	h.Advance(time.Second)
	h.Tick()
	if w := h.sync().Snapshot(h.Now()).Window; w.Staller != staller.r.ID || w.StallingSince.IsZero() || w.StallTimeout != netsync.StallTimeoutMin {
		t.Fatalf("window %+v: want the staller %d named, with the timeout %s", w, staller.r.ID, netsync.StallTimeoutMin)
	}
	h.Advance(netsync.StallTimeoutMin + time.Second)
	h.Tick()
	h.ExpectDropped(staller.r, p2p.DropStall, "block download stalled")
	h.Advance(time.Second)
	h.pump(peers, 0)
	h.checkAllStored(c)

	snap = h.sync().Snapshot(h.Now())
	tl := snap.Timelines[first]
	if tl == nil {
		t.Fatalf("no timeline for block %s", first)
	}
	if tl.Height != 1 || len(tl.Requests) != 2 {
		t.Fatalf("timeline %+v: want height 1 and two requests", tl)
	}
	if r := tl.Requests[0]; r.Peer != staller.r.ID || r.Outcome != netsync.OutcomeStalled || r.Why == "" {
		t.Errorf("first request %+v, want the staller's, stalled, with a why", r)
	}
	second := tl.Requests[1]
	if second.Outcome != netsync.OutcomeDelivered || second.Peer == staller.r.ID || tl.From != second.Peer {
		t.Errorf("second request %+v, delivered by %d: want another peer's, delivered by it", second, tl.From)
	}
	if !(tl.Requests[0].At.Before(tl.Requests[0].Ended) && !second.At.Before(tl.Requests[0].Ended) &&
		!tl.Received.Before(second.At) && !tl.Stored.Before(tl.Received) && !tl.Connected.Before(tl.Stored)) || tl.Connected.IsZero() {
		t.Errorf("stages out of order: %+v", tl)
	}
	if tl.Bytes != len(c.raw[first]) {
		t.Errorf("timeline bytes %d, want %d", tl.Bytes, len(c.raw[first]))
	}
	if len(snap.Stalls) != 1 {
		t.Fatalf("stall records %+v, want one", snap.Stalls)
	}
	st := snap.Stalls[0]
	if st.Peer != staller.r.ID || st.Hash != first || st.Timeout != netsync.StallTimeoutMin || st.ReplacedBy != second.Peer {
		t.Errorf("stall record %+v, want the staller on block %s, timeout %s, replaced by %d", st, first, netsync.StallTimeoutMin, second.Peer)
	}
	if len(snap.Timelines) != int(c.tip()) {
		t.Errorf("%d timelines kept, want one per block, %d", len(snap.Timelines), c.tip())
	}
	pb := snap.PeerBlocks[second.Peer]
	if pb.Received == 0 || pb.Bytes == 0 || pb.Busy <= 0 {
		t.Errorf("peer %d's share %+v: want blocks, bytes and busy time", second.Peer, pb)
	}
}

// TestTimelineAnnouncements: when two peers announce a new block by
// headers, its timeline lists both, the first announcer first, and then
// the request, delivery and connection.
func TestTimelineAnnouncements(t *testing.T) {
	h := newBlockHarness(t, 0)
	full := newBlockChain(t, 21, h.Now())
	c := &blockChain{testChain: makeTestChain(full.headers[:21]), raw: full.raw}
	peers := h.connectBlockPeers(c, serveAll, serveAll)
	h.pump(peers, 0)
	if got := h.sync().Connected(); got != 20 {
		t.Fatalf("connected %d, want 20", got)
	}
	next := full.headers[21]
	hash := next.BlockHash()
	second, first := peers[1], peers[0]
	h.Advance(time.Second)
	second.r.Send(headersMsg([]wire.BlockHeader{next}))
	h.Advance(time.Second)
	first.r.Send(headersMsg([]wire.BlockHeader{next}))
	for _, p := range peers {
		p.c = full
	}
	h.pump(peers, 0)
	if got := h.sync().Connected(); got != 21 {
		t.Fatalf("connected %d after the announcement, want 21", got)
	}
	tl := h.sync().Snapshot(h.Now()).Timelines[hash]
	if tl == nil || len(tl.Announcements) != 2 {
		t.Fatalf("timeline %+v: want two announcements", tl)
	}
	if a := tl.Announcements; a[0].Peer != second.r.ID || a[1].Peer != first.r.ID || a[0].Via != "headers" || !a[0].At.Before(a[1].At) {
		t.Errorf("announcements %+v: want peer %d first, then %d, via headers", a, second.r.ID, first.r.ID)
	}
	if len(tl.Requests) != 1 || tl.Requests[0].Outcome != netsync.OutcomeDelivered || tl.Received.IsZero() || tl.Connected.IsZero() || tl.Height != 21 {
		t.Errorf("timeline %+v: want one delivered request, received and connected at height 21", tl)
	}

	// Made-up block hashes cost a peer nothing: announcing them keeps no
	// timeline (real blocks' timelines would be pushed out).
	before := len(h.sync().Snapshot(h.Now()).Timelines)
	for i := range 50 {
		inv := wire.NewMsgInv()
		for j := range netsync.MaxAnnouncementHeaders {
			var fake chainhash.Hash
			fake[0], fake[1], fake[2] = byte(i), byte(j), 0xfe
			inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &fake))
		}
		first.r.Send(inv)
	}
	h.pump(peers, 0)
	if after := len(h.sync().Snapshot(h.Now()).Timelines); after != before {
		t.Errorf("400 made-up block announcements took the timelines from %d to %d", before, after)
	}
}

// TestTimelinesBounded: past MaxTimelines blocks the oldest timelines go
// and the newest stay.
func TestTimelinesBounded(t *testing.T) {
	h := newBlockHarness(t, 0)
	c := newBlockChain(t, netsync.MaxTimelines+100, h.Now())
	peers := h.connectBlockPeers(c, serveAll, serveAll)
	h.pump(peers, 0)
	h.checkAllStored(c)
	tls := h.sync().Snapshot(h.Now()).Timelines
	if len(tls) != netsync.MaxTimelines {
		t.Errorf("%d timelines kept, want the bound %d", len(tls), netsync.MaxTimelines)
	}
	if tls[c.hashes[c.tip()]] == nil || tls[c.hashes[1]] != nil {
		t.Error("the oldest timelines should go first: the tip's is missing or block 1's is still kept")
	}
}
