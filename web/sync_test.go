package web

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/coder/websocket"

	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/netsync"
)

// testBlocksView is a download window of 1,024 cells from height 101: the
// first requested from peer 7, then received, stored, validated and
// missing ones; a stall of peer 3 replaced by peer 7; two recent connects;
// and timelines for blocks 99 and 100, 100 announced first by peer 3.
func testBlocksView() *engine.BlocksView {
	cells := make([]engine.WindowCell, netsync.BlockDownloadWindow)
	for i := range cells {
		switch {
		case i == 0:
			cells[i] = engine.WindowCell{State: engine.CellRequested, Peer: 7, Since: testTime.Add(-1500 * time.Millisecond)}
		case i < 10:
			cells[i] = engine.WindowCell{State: engine.CellReceived}
		case i < 20:
			cells[i] = engine.WindowCell{State: engine.CellStored}
		default:
			cells[i] = engine.WindowCell{State: engine.CellMissing}
		}
	}
	stall := engine.StallRecord{At: testTime, Peer: 3, Height: 90, Waited: 3 * time.Second, Timeout: 2 * time.Second,
		ReplacedBy: 7, DeliveredAt: testTime.Add(250 * time.Millisecond)}
	recent := []engine.RecentConnect{
		{Height: 99, ConnectStages: engine.ConnectStages{Read: time.Millisecond, Inputs: 2 * time.Millisecond, Scripts: 5 * time.Millisecond, Write: time.Millisecond, Txs: 3}},
		{Height: 100, ConnectStages: engine.ConnectStages{Read: time.Millisecond, Inputs: time.Millisecond, Scripts: 3 * time.Millisecond, Write: time.Millisecond, Txs: 2}},
	}
	timelines := map[chainhash.Hash]*netsync.BlockTimeline{}
	for h := int32(99); h <= 100; h++ {
		var hash chainhash.Hash
		hash[0] = byte(h)
		at := testTime.Add(time.Duration(h) * time.Second)
		tl := &netsync.BlockTimeline{Hash: hash, Height: h,
			Requests: []netsync.TimelineRequest{{Peer: 7, At: at.Add(10 * time.Millisecond), Why: "lowest block", Ended: at.Add(30 * time.Millisecond), Outcome: netsync.OutcomeDelivered}},
			Received: at.Add(30 * time.Millisecond), From: 7, Stored: at.Add(35 * time.Millisecond), Connected: at.Add(50 * time.Millisecond)}
		if h == 100 {
			tl.Announcements = []netsync.Announcement{{Peer: 3, At: at, Via: "headers"}, {Peer: 7, At: at.Add(5 * time.Millisecond), Via: "inv"}}
		}
		timelines[hash] = tl
	}
	return engine.NewBlocksView(engine.WindowView{From: 101, Cells: cells, Staller: 7, StallingSince: testTime.Add(-time.Second), StallTimeout: 2 * time.Second}, []engine.StallRecord{stall}, recent, timelines, nil)
}

func syncSnapshot(f *fakeEngine) engine.Snapshot {
	snap := f.snap
	snap.Blocks = testBlocksView()
	snap.Status.Blocks, snap.Status.Headers = 100, 2000
	snap.Status.Sync.Blocks = &netsync.BlockStatus{Connected: 100, StallTimeoutS: 4, Stalls: 1, StallsReplaced: 1}
	snap.Status.UTXO = &engine.UTXOStatus{Coins: 1234, Height: 100, CacheBytes: 1 << 20, CacheLimit: 450 << 20, BytesOnDisk: 5 << 20}
	hist := engine.StageHistogram{Bounds: []float64{0.001, 1}, Counts: []uint64{1, 2}, Count: 2, Sum: 0.004}
	snap.Status.Validation = &engine.ValidationStatus{Blocks: 100, Txs: 300, ChainTx: 301, Flushes: 2, VerificationProgress: 0.25, HasTxData: true,
		SignatureLibrary: "libsecp256k1", FastSignatures: 4321, SignatureChecks: 5678,
		BlocksHandedOver: 2156, BlocksReadBack: 125,
		Stages: map[string]engine.StageHistogram{"read": hist, "inputs": hist, "scripts": hist, "write": hist}}
	snap.Peers = append([]engine.PeerInfo(nil), snap.Peers...)
	snap.Peers[0].BlocksInFlight, snap.Peers[0].BlocksReceived = 16, 84
	snap.Peers[0].BlockBytes, snap.Peers[0].BlockBusyS, snap.Peers[0].BlockDeliveryMs = 2<<20, 2, 12.5
	return snap
}

// TestSyncPage: the sync page renders the window cell by cell (the
// requested one with its peer and age), the peers downloading, the stall
// with its outcome, the stage means and the progress by transactions.
func TestSyncPage(t *testing.T) {
	f := newPagesEngine()
	f.setSnapshot(syncSnapshot(f.fakeEngine))
	s := New(f, "secret", nil)
	doc := getPage(t, s, "/sync", 200)
	cells := doc.Find("#sync-window .cell")
	if cells.Length() != netsync.BlockDownloadWindow {
		t.Fatalf("%d window cells, want %d", cells.Length(), netsync.BlockDownloadWindow)
	}
	first := cells.First()
	if !first.HasClass("cell-requested") || first.AttrOr("data-peer", "") != "7" || first.AttrOr("data-height", "") != "101" ||
		!strings.Contains(first.AttrOr("title", ""), "from peer 7 for 1s") {
		t.Errorf("first cell %v %q", first.AttrOr("class", ""), first.AttrOr("title", ""))
	}
	if !first.HasClass("cell-stalling") || !strings.Contains(doc.Find("#sync-staller").Text(), "Peer 7 is stalling the download window") ||
		doc.Find("#sync-staller[hidden]").Length() != 0 {
		t.Errorf("staller not shown: cell %q, banner %q", first.AttrOr("class", ""), doc.Find("#sync-staller").Text())
	}
	if n := doc.Find("#sync-window .cell-received").Length(); n != 9 {
		t.Errorf("%d received cells, want 9", n)
	}
	row := doc.Find("#sync-peers tbody tr")
	if row.Length() != 1 || row.AttrOr("data-peer", "") != "7" || !strings.Contains(row.Text(), "1.0 MiB/s") || !strings.Contains(row.Text(), "12.5") {
		t.Errorf("peers downloading: %d rows, %q", row.Length(), row.Text())
	}
	stall := doc.Find("#sync-stalls tbody tr")
	if stall.Length() != 1 || !strings.Contains(stall.Text(), "delivered by peer 7 250ms later") {
		t.Errorf("stalls: %q", stall.Text())
	}
	if got := strings.TrimSpace(doc.Find(`#sync-stages tr[data-stage="scripts"] td`).Eq(1).Text()); got != "2.00" {
		t.Errorf("scripts mean %q, want 2.00 ms", got)
	}
	if got := doc.Find(`[data-field="status.validation.verification_progress"]`).Text(); got != "25.0%" {
		t.Errorf("verification progress %q", got)
	}
	if lib, n := doc.Find(`[data-field="status.validation.signature_library"]`).Text(), doc.Find(`[data-field="status.validation.fast_signatures"]`).Text(); lib != "libsecp256k1" || n != "4,321" {
		t.Errorf("signatures verified with %q, %q by libsecp256k1; want libsecp256k1, 4,321", lib, n)
	}
	if got := doc.Find(`[data-field="status.validation.signature_checks"]`).Text(); got != "5,678" {
		t.Errorf("signature checks %q, want 5,678", got)
	}
	if got := doc.Find(`[data-field="status.validation.blocks_handed_over"]`).Text(); got != "2,156" {
		t.Errorf("blocks handed over %q, want 2,156", got)
	}
	if got := doc.Find(`[data-field="status.validation.blocks_read_back"]`).Text(); got != "125" {
		t.Errorf("blocks read back %q, want 125", got)
	}
	if doc.Find(`script[src="/static/sync.js"]`).Length() != 1 || doc.Find("#stage-chart").Length() != 1 {
		t.Error("no sync.js or stage chart")
	}
}

// TestSyncPageHeadersOnly: a node without block download says so.
func TestSyncPageHeadersOnly(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	doc := getPage(t, s, "/sync", 200)
	if doc.Find("#sync-window").Length() != 0 || !strings.Contains(doc.Find(".notice").Text(), "headers only") {
		t.Errorf("headers-only sync page: %q", doc.Find("main").Text())
	}
}

// TestChainRecentBlocks: /chain lists the recent blocks, highest first,
// with the first announcer and the time between stages.
func TestChainRecentBlocks(t *testing.T) {
	f := newPagesEngine()
	f.setSnapshot(syncSnapshot(f.fakeEngine))
	s := New(f, "secret", nil)
	doc := getPage(t, s, "/chain", 200)
	rows := doc.Find("#recent-blocks tbody tr")
	if rows.Length() != 2 || rows.First().AttrOr("data-height", "") != "100" {
		t.Fatalf("recent blocks: %d rows, first %q", rows.Length(), rows.First().AttrOr("data-height", ""))
	}
	if got := strings.TrimSpace(rows.First().Find(`[data-col="first-announcer"]`).Text()); got != "3" {
		t.Errorf("first announcer %q, want peer 3", got)
	}
	// Seen (announced at 0) → asked at 10 ms → received at 30 ms.
	tds := rows.First().Find("td")
	if seen, got := strings.TrimSpace(tds.Eq(3).Text()), strings.TrimSpace(tds.Eq(4).Text()); seen != "10.0" || got != "20.0" {
		t.Errorf("seen→asked %q, asked→received %q; want 10.0 and 20.0", seen, got)
	}
	if href := rows.First().Find("a").AttrOr("href", ""); href != "/blocks/100" {
		t.Errorf("block link %q", href)
	}
}

// TestFeedSyncPartOnRequest: only a client that asked gets the window,
// at most twice a second however often it changes, packed in a few
// kilobytes for 1,024 cells.
func TestFeedSyncPartOnRequest(t *testing.T) {
	f, _ := newTestServer()
	f.setSnapshot(syncSnapshot(f))
	s := New(f, "secret", nil)
	srv := httptest.NewServer(s)
	defer srv.Close()
	startHub(t, s)
	watcher, other := feedClient(t, srv), feedClient(t, srv)
	readFeed(t, watcher)
	readFeed(t, other)
	req, _ := json.Marshal(clientRequest{Type: "sync"})
	if err := watcher.Write(context.Background(), websocket.MessageText, req); err != nil {
		t.Fatal(err)
	}
	// The window changes at every hub tick for two seconds.
	stop := make(chan struct{})
	changed := make(chan struct{})
	go func() {
		defer close(changed)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(deltaInterval / 2):
			}
			snap := syncSnapshot(f)
			snap.Blocks.Window.Cells[1+i%1000].State = engine.CellStored
			f.setSnapshot(snap)
		}
	}()
	start := time.Now()
	var syncs int
	var maxSize int
	for time.Since(start) < 2*time.Second {
		m := readFeed(t, watcher)
		var d struct {
			Sync *syncData `json:"sync"`
		}
		json.Unmarshal(m.Data, &d)
		if d.Sync == nil {
			continue
		}
		syncs++
		maxSize = max(maxSize, len(m.Data))
		if d.Sync.From != 101 || len(d.Sync.States) != netsync.BlockDownloadWindow || d.Sync.States[0] != 'r' || d.Sync.Peers[0] != 7 || d.Sync.AgeMs[0] <= 0 {
			t.Fatalf("sync part: from %d, %d states, first %q peer %d age %d", d.Sync.From, len(d.Sync.States), d.Sync.States[:1], d.Sync.Peers[0], d.Sync.AgeMs[0])
		}
		if d.Sync.Staller != 7 || d.Sync.StallTimeoutMs != 2000 || d.Sync.StallingMs < 1000 {
			t.Fatalf("sync part's staller %d for %d of %d ms", d.Sync.Staller, d.Sync.StallingMs, d.Sync.StallTimeoutMs)
		}
		if len(d.Sync.Stalls) != 1 || !strings.Contains(d.Sync.Stalls[0].Outcome, "peer 7") || len(d.Sync.Recent) != 2 {
			t.Fatalf("sync part's stalls %+v, %d recent", d.Sync.Stalls, len(d.Sync.Recent))
		}
	}
	close(stop)
	<-changed
	elapsed := time.Since(start)
	if limit := int(elapsed/syncInterval) + 2; syncs == 0 || syncs > limit {
		t.Errorf("%d sync parts in %s, want 1 to %d", syncs, elapsed, limit)
	}
	if maxSize > 16<<10 {
		t.Errorf("a delta with the window took %d bytes, more than 16 KiB", maxSize)
	}
	// The other client never asked: none of its messages carries the window.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for {
		_, data, err := other.Read(ctx)
		if err != nil {
			break
		}
		var d struct {
			Data struct {
				Sync json.RawMessage `json:"sync"`
			} `json:"data"`
		}
		if json.Unmarshal(data, &d) == nil && d.Data.Sync != nil {
			t.Fatalf("a client that did not ask got the sync part: %.200s", data)
		}
	}
}
