package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
)

// poll waits in the browser until the script expr is true.
func poll(t *testing.T, ctx context.Context, timeout time.Duration, what, expr string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	if err := chromedp.Run(tctx, chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(timeout))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestSyncPageInBrowser: the sync page in headless Chromium while the node
// downloads 1,500 blocks from a real btcd and a test peer that stalls:
// the window shows the staller named and its requested cells outlined (hovering one says why
// the staller was asked), then the stall with the
// staller and the peer that replaced it, the window moves on, and the
// rates and connect stages fill in. Then btcd mines a block, and the
// block's timeline (GET /api/blocks) names btcd as its first announcer
// with its stages in order.
func TestSyncPageInBrowser(t *testing.T) {
	src := btcdtest.Start(t, btcdtest.Options{})
	const blocks = 1500
	src.Generate(t, blocks)
	staller := startStallingPeer(t, "/staller:1.0/", src.RawBlocks(t))
	// The staller alone first, so it holds the window's first blocks.
	n := startNode(t, "-connect="+staller.addr())
	var stallerID engine.PeerID
	n.waitFor(60*time.Second, "the staller to be asked for blocks", func() bool {
		p, ok := n.established("/staller:1.0/")
		stallerID = p.ID
		return ok && staller.blocksAsked() > 0
	})
	id := strconv.FormatUint(uint64(stallerID), 10)

	ctx, _ := browser(t)
	browse(t, ctx, "open /sync", chromedp.Navigate(n.url("/sync")))
	poll(t, ctx, 20*time.Second, "the staller's requested cells", `document.querySelector('#sync-window .cell-requested[data-peer="`+id+`"]') !== null`)
	// Hovering a requested cell says which peer, since when and why.
	browse(t, ctx, "hover the staller's cell", chromedp.Evaluate(`document.querySelector('#sync-window .cell-requested[data-peer="`+id+`"]').dispatchEvent(new MouseEvent("mouseover", { bubbles: true }))`, nil))
	poll(t, ctx, 10*time.Second, "the hovered cell's why", `(() => { const t = document.querySelector('#sync-cell-detail').textContent; return t.includes("from peer `+id+`") && t.includes("because: lowest block of the window"); })()`)
	var from int
	browse(t, ctx, "window start", chromedp.Evaluate(`Number(document.querySelector('#sync-window').dataset.from)`, &from))
	if code, body := n.call("POST", "/api/peers", n.token(), map[string]string{"addr": src.P2PAddr()}); code/100 != 2 {
		t.Fatalf("adding btcd: %d %s", code, body)
	}
	// While btcd fills the window behind the staller's blocks, the page
	// shows cells stored ahead of the staller's.
	poll(t, ctx, 30*time.Second, "stored cells ahead of the staller's", `document.querySelectorAll('#sync-window .cell-stored, #sync-window .cell-validated').length > 100`)
	poll(t, ctx, 20*time.Second, "the staller named", `(() => { const e = document.querySelector('#sync-staller'); return !e.hidden && e.textContent.startsWith("Peer `+id+` is stalling") &&
		document.querySelector('#sync-window .cell-stalling[data-peer="`+id+`"]') !== null; })()`)
	screenshot(t, ctx, "sync")
	poll(t, ctx, 30*time.Second, "the stall, replaced", `Array.from(document.querySelectorAll('#sync-stalls tbody tr')).some((r) => r.dataset.peer === "`+id+`" && r.textContent.includes("delivered by peer"))`)
	poll(t, ctx, 60*time.Second, "the window moving on", `(() => { const w = document.querySelector('#sync-window'); return Number(w.dataset.from) > `+strconv.Itoa(from)+` + 100 || w.children.length === 0; })()`)
	var st engine.Status
	n.waitFor(90*time.Second, "every block connected", func() bool {
		n.get("/api/status", &st)
		return st.Blocks == blocks
	})
	poll(t, ctx, 20*time.Second, "connect stages in the table", `document.querySelector('#sync-stages tr[data-stage="scripts"] td:nth-child(3)').textContent.replace(/,/g, "") >= 1000`)
	poll(t, ctx, 20*time.Second, "a block rate", `Array.from(document.querySelectorAll('[data-rate="blocks_per_sec"]')).some((e) => e.textContent !== "\u2014")`)
	poll(t, ctx, 20*time.Second, "the stage chart drawn", `document.querySelectorAll('#stage-chart rect').length >= 4`)

	// A new block: btcd announces it, and its timeline says so.
	btcdID := engine.PeerID(0)
	for _, p := range n.peers() {
		if p.Addr == src.P2PAddr() {
			btcdID = p.ID
		}
	}
	hash := src.Generate(t, 1)[0]
	n.waitFor(30*time.Second, "the new block connected", func() bool {
		n.get("/api/status", &st)
		return st.Blocks == blocks+1
	})
	var bv engine.BlockView
	n.waitFor(10*time.Second, "the new block's timeline connected", func() bool {
		n.get("/api/blocks/"+hash, &bv)
		return bv.Timeline != nil && !bv.Timeline.Connected.IsZero()
	})
	tl := bv.Timeline
	if len(tl.Announcements) == 0 || tl.Announcements[0].Peer != btcdID {
		t.Fatalf("timeline of the new block %+v: want btcd (peer %d) as its first announcer", tl, btcdID)
	}
	order := []time.Time{tl.Announcements[0].At, tl.Requests[len(tl.Requests)-1].At, tl.Received, tl.Stored, tl.Validated, tl.Connected}
	for i := 1; i < len(order); i++ {
		if order[i].IsZero() || order[i].Before(order[i-1]) {
			t.Fatalf("the new block's stages out of order at %d: %v", i, order)
		}
	}

	// Its page shows the timeline: the first announcer marked and linked,
	// the stages in order, each later than the one before.
	browse(t, ctx, "open the new block's page", chromedp.Navigate(n.url("/blocks/"+hash)))
	var page struct {
		Events []string `json:"events"`
		Since  []string `json:"since"`
		First  string   `json:"first"`
	}
	browse(t, ctx, "read the timeline", chromedp.Evaluate(`(() => {
		const rows = Array.from(document.querySelectorAll('#block-timeline tbody tr'));
		const first = rows.find((r) => r.dataset.first === "yes");
		return { events: rows.map((r) => r.dataset.event), since: rows.map((r) => r.querySelector('[data-col="since"]').textContent),
			first: first ? first.querySelector('[data-col="peer"] a').getAttribute("href") : "" };
	})()`, &page))
	screenshot(t, ctx, "block")
	if page.First != "/peers/"+strconv.FormatUint(uint64(btcdID), 10) {
		t.Errorf("first announcer on the page links %q, want btcd's peer %d", page.First, btcdID)
	}
	stages := []string{"announced", "requested", "received", "stored", "validated", "connected"}
	at := 0
	for _, ev := range page.Events {
		if at < len(stages) && ev == stages[at] {
			at++
		}
	}
	if at != len(stages) {
		t.Errorf("timeline events %v: want %v in that order", page.Events, stages)
	}
	t.Logf("block page timeline: %v %v", page.Events, page.Since)
}
