package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/web/views"
)

// blocksEngine serves block views by hash or height.
type blocksEngine struct {
	*pagesEngine
	blocks map[string]engine.BlockView
}

func (e *blocksEngine) Block(_ context.Context, key string) (engine.BlockView, error) {
	if b, ok := e.blocks[key]; ok {
		return b, nil
	}
	if _, err := strconv.Atoi(key); err != nil && len(key) != 64 {
		return engine.BlockView{}, fmt.Errorf("%q is %w", key, engine.ErrBadKey)
	}
	return engine.BlockView{}, fmt.Errorf("%w: %s", engine.ErrUnknownHeader, key)
}

func fee(v int64) *int64 { return &v }

// newBlocksEngine has three blocks: 250 (connected, 250 transactions with
// fees, a hostile coinbase text and a timeline), 251 (header only) and a
// failed one on a side chain.
func newBlocksEngine() *blocksEngine {
	e := &blocksEngine{pagesEngine: newPagesEngine(), blocks: map[string]engine.BlockView{}}
	b := engine.BlockView{
		HeaderView: engine.HeaderView{Hash: hashOf(250), Height: 250, Version: 0x20000000, PrevBlock: hashOf(249), MerkleRoot: hashOf(1000),
			Time: testTime, Bits: "207fffff", Nonce: 42, ChainWork: "01f4", MainChain: true, Next: hashOf(251)},
		Status: engine.BlockConnected, HaveData: true, Connected: true, HaveUndo: true,
		Size: 54321, StrippedSize: 50000, Weight: 204321, TxCount: 250,
		Subsidy: 50e8, CoinbaseText: "/pool/ " + xssScript,
	}
	var total int64
	for i := range 250 {
		tx := engine.BlockTxView{TxID: fmt.Sprintf("%064x", 0xa000+i), Size: 200 + i, VSize: 150 + i, Weight: 600 + 4*i, Inputs: 1 + i%3, Outputs: 2, OutputValue: int64(i) * 1000}
		if i == 0 {
			tx.Coinbase, tx.OutputValue = true, 50e8+249*500
		} else {
			tx.Fee = fee(500)
			total += 500
		}
		b.Txs = append(b.Txs, tx)
	}
	b.Fees, b.Claimed = &total, b.Txs[0].OutputValue
	t0 := testTime
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// Recorded out of order on purpose: the page sorts by time.
	b.Timeline = &engine.BlockTimeline{
		BlockTimeline: netsync.BlockTimeline{
			Height: 250,
			Announcements: []engine.Announcement{
				{Peer: 7, At: ms(0), Via: "headers"},
				{Peer: 3, At: ms(40), Via: "inv"},
			},
			Requests: []engine.TimelineRequest{
				{Peer: 7, At: ms(2), Why: "announced by " + xssImg, Ended: ms(30), Outcome: netsync.OutcomeTimedOut},
				{Peer: 3, At: ms(31), Why: "retry after a timeout", Ended: ms(50), Outcome: netsync.OutcomeDelivered},
			},
			Received: ms(50), From: 3, Bytes: 54321,
			Stored:    ms(55),
			Validated: ms(80),
			Connected: ms(81),
		},
		Stages: &engine.ConnectStages{Start: ms(56), Read: 2 * time.Millisecond, Inputs: 5 * time.Millisecond, Scripts: 15 * time.Millisecond,
			Write: 2 * time.Millisecond, Txs: 250, InputCount: 500, ScriptsChecked: 500},
	}
	e.blocks["250"], e.blocks[b.Hash] = b, b
	e.blocks["251"] = engine.BlockView{HeaderView: engine.HeaderView{Hash: hashOf(251), Height: 251, PrevBlock: hashOf(250), MainChain: true},
		Status: engine.BlockHeaderOnly}
	failed := engine.BlockView{HeaderView: engine.HeaderView{Hash: hashOf(777), Height: 250, PrevBlock: hashOf(249)},
		Status: engine.BlockFailed, Failed: "bad-cb-amount", HaveData: true, TxCount: 1, Subsidy: 50e8, Claimed: 50e8 + 1,
		Txs: []engine.BlockTxView{{TxID: hashOf(778), Coinbase: true, Inputs: 1, Outputs: 1, OutputValue: 50e8 + 1}}}
	e.blocks[failed.Hash] = failed
	e.blocks["0"] = engine.BlockView{HeaderView: engine.HeaderView{Hash: hashOf(0), Height: 0, PrevBlock: strings.Repeat("0", 64), MainChain: true},
		Status: engine.BlockPruned, Pruned: true}
	return e
}

// TestBlockPage: the header with its links, the status, the contents
// (fees, claim, the coinbase's text escaped), 250 transactions over three
// pages with their fees and decoder links, the timeline in time order with
// the first announcer marked and peers linked, and the pages of a block
// without data, a failed one and a pruned one.
func TestBlockPage(t *testing.T) {
	s := New(newBlocksEngine(), "secret", nil)
	doc := getPage(t, s, "/blocks/250", http.StatusOK)
	if got := doc.Find("body").AttrOr("data-page", ""); got != "block" {
		t.Errorf("data-page %q", got)
	}
	key := func(k string) string { return strings.TrimSpace(doc.Find(`dd[data-key="` + k + `"]`).Text()) }
	href := func(k string) string { return doc.Find(`dd[data-key="`+k+`"] a`).AttrOr("href", "") }
	for k, want := range map[string]string{
		"hash": hashOf(250), "version": "0x20000000", "merkle_root": hashOf(1000), "bits": "207fffff", "nonce": "42",
		"time": "2025-03-04 05:06:07 UTC", "tx_count": "250", "size": "54,321 bytes", "stripped_size": "50,000 bytes",
		"weight": "204,321 WU", "fees": "0.00124500 BTC (124,500 sat)", "subsidy": "50.00000000 BTC",
		"claimed": "50.00124500 BTC", "coinbase_text": "/pool/ " + xssScript, "prev": hashOf(249), "next": hashOf(251),
	} {
		if got := key(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(key("chain_work"), views.Log2Work("01f4")) {
		t.Errorf("chain work %q", key("chain_work"))
	}
	if href("prev") != "/blocks/"+hashOf(249) || href("next") != "/blocks/"+hashOf(251) || href("height") != "/blocks/250" {
		t.Errorf("links: prev %q next %q height %q", href("prev"), href("next"), href("height"))
	}
	if st := strings.TrimSpace(doc.Find("#block-status").Text()); st != "connected on the main chain" {
		t.Errorf("status %q", st)
	}
	if doc.Find("script:not([src])").Length() != 0 || doc.Find("img").Length() != 0 {
		t.Error("the coinbase text or a timeline detail was not escaped")
	}

	// Page 1 of 3: transactions 0..99.
	rows := doc.Find("#block-txs tbody tr")
	if rows.Length() != 100 {
		t.Fatalf("page 1 lists %d transactions, want 100", rows.Length())
	}
	if sum := strings.Join(strings.Fields(doc.Find("#block-txs-summary").Text()), " "); sum != "250 transactions; showing 1–100, page 1 of 3" {
		t.Errorf("summary %q", sum)
	}
	cell := func(r int, col string) string {
		return strings.TrimSpace(rows.Eq(r).Find(`td[data-col="` + col + `"]`).Text())
	}
	if cell(0, "fee") != "claims 50.00124500 BTC" || cell(0, "txid") != fmt.Sprintf("%064x", 0xa000) {
		t.Errorf("the coinbase row: fee %q, txid %q", cell(0, "fee"), cell(0, "txid"))
	}
	if cell(7, "fee") != "500 sat" || cell(7, "size") != "207" || cell(7, "vsize") != "157" || cell(7, "inputs") != "2" ||
		cell(7, "outputs") != "2" || cell(7, "value") != "0.00007000 BTC" || cell(7, "index") != "7" {
		t.Errorf("row 7: %q", texts(rows.Eq(7).Find("td")))
	}
	link := rows.Eq(7).Find("a.decode-tx").AttrOr("href", "")
	if want := "/decoder#block=" + hashOf(250) + "&tx=" + fmt.Sprintf("%064x", 0xa007); link != want {
		t.Errorf("decoder link %q, want %q", link, want)
	}
	if next := doc.Find(`nav.pager a[rel="next"]`).First().AttrOr("href", ""); next != "/blocks/"+hashOf(250)+"?page=2" {
		t.Errorf("next page link %q", next)
	}
	if doc.Find(`nav.pager a[rel="prev"]`).Length() != 0 {
		t.Error("page 1 links to a previous page")
	}
	// Page 3: the last 50, starting at transaction 200.
	last := getPage(t, s, "/blocks/"+hashOf(250)+"?page=3", http.StatusOK)
	lastRows := last.Find("#block-txs tbody tr")
	if lastRows.Length() != 50 || lastRows.First().AttrOr("data-index", "") != "200" || lastRows.Last().AttrOr("data-txid", "") != fmt.Sprintf("%064x", 0xa000+249) {
		t.Errorf("page 3: %d rows, first %q", lastRows.Length(), lastRows.First().AttrOr("data-index", ""))
	}
	if last.Find(`nav.pager a[rel="next"]`).Length() != 0 || last.Find(`nav.pager a[rel="prev"]`).First().AttrOr("href", "") != "/blocks/"+hashOf(250)+"?page=2" {
		t.Error("page 3's pager")
	}
	for _, bad := range []string{"4", "0", "x"} {
		getPage(t, s, "/blocks/250?page="+bad, http.StatusNotFound)
	}

	// The timeline, in time order.
	type row struct{ event, since, peer, detail, first string }
	var got []row
	doc.Find("#block-timeline tbody tr").Each(func(_ int, r *goquery.Selection) {
		c := func(col string) string { return strings.TrimSpace(r.Find(`td[data-col="` + col + `"]`).Text()) }
		got = append(got, row{r.AttrOr("data-event", ""), c("since"), c("peer"), c("detail"), r.AttrOr("data-first", "")})
	})
	want := []row{
		{"announced", "+0 ms", "7", "via headers", "yes"},
		{"requested", "+2 ms", "7", "announced by " + xssImg, "no"},
		{"request ended", "+30 ms", "7", "timed out", "no"},
		{"requested", "+31 ms", "3", "retry after a timeout", "no"},
		{"announced", "+40 ms", "3", "via inv", "no"},
		{"request ended", "+50 ms", "3", "delivered", "no"},
		{"received", "+50 ms", "3", "53.0 KiB", "no"},
		{"stored", "+55 ms", "", "", "no"},
		{"validated", "+80 ms", "", "read 2.0 ms · inputs 5.0 ms · scripts 15.0 ms · write 2.0 ms (500 of 500 inputs' scripts verified)", "no"},
		{"connected", "+81 ms", "", "", "no"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("timeline:\n%v\nwant\n%v", got, want)
	}
	if first := doc.Find(`#block-timeline tr[data-first="yes"] .first-announcer`); first.Length() != 1 {
		t.Errorf("%d first announcers marked", first.Length())
	}
	if p := doc.Find(`#block-timeline tr[data-event="received"] td[data-col="peer"] a`).AttrOr("href", ""); p != "/peers/3" {
		t.Errorf("the sender's link %q", p)
	}

	// Without data: the header, no transactions, no timeline.
	h := getPage(t, s, "/blocks/251", http.StatusOK)
	if st := strings.TrimSpace(h.Find("#block-status").Text()); !strings.HasPrefix(st, "header only") || h.Find("#block-txs").Length() != 0 {
		t.Errorf("a header only: status %q, %d transaction tables", st, h.Find("#block-txs").Length())
	}
	if tl := h.Find("#block-timeline").Text(); !strings.Contains(tl, "last "+views.Number(netsync.MaxTimelines)+" blocks") {
		t.Errorf("no timeline: %q", tl)
	}
	f := getPage(t, s, "/blocks/"+hashOf(777), http.StatusOK)
	if st := strings.TrimSpace(f.Find("#block-status").Text()); st != "failed: it breaks the rule bad-cb-amount" {
		t.Errorf("a failed block: %q", st)
	}
	if fees := strings.TrimSpace(f.Find(`dd[data-key="fees"]`).Text()); !strings.HasPrefix(fees, views.None) {
		t.Errorf("a block without undo data: fees %q", fees)
	}
	g := getPage(t, s, "/blocks/0", http.StatusOK)
	if st := g.Find("#block-status").Text(); !strings.HasPrefix(st, "pruned") || !strings.Contains(g.Find("#block-contents").Text(), "pruning") ||
		!strings.Contains(g.Find(`dd[data-key="prev"]`).Text(), "genesis") {
		t.Errorf("a pruned genesis block: status %q, contents %q", st, g.Find("#block-contents").Text())
	}

	// Unknown: 404; malformed: 400.
	getPage(t, s, "/blocks/"+hashOf(999), http.StatusNotFound)
	getPage(t, s, "/blocks/999", http.StatusNotFound)
	bad := getPage(t, s, "/blocks/nothex", http.StatusBadRequest)
	if !strings.Contains(bad.Find("main").Text(), "neither a height nor") {
		t.Errorf("400 page: %q", bad.Find("main").Text())
	}
}

// TestBlockHref: heights and hashes make block links, and a key with
// characters of a URL's syntax stays in the path.
func TestBlockHref(t *testing.T) {
	for key, want := range map[string]string{"170": "/blocks/170", hashOf(5): "/blocks/" + hashOf(5), "a/b?c#d": "/blocks/a%2Fb%3Fc%23d"} {
		if got := views.BlockHref(key); got != want {
			t.Errorf("BlockHref(%q) = %q, want %q", key, got, want)
		}
	}
}
