package web

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/coder/websocket"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/web/views"
)

// Links is the fake's link log, made on first use so that every test's
// fake has one.
func (f *fakeEngine) Links() *engine.Ring[engine.RequestLink] {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.links == nil {
		f.links = engine.NewRing[engine.RequestLink](64)
	}
	return f.links
}

// seqEngine is a fake with one conversation with peer 4, logged as
// numbered, and the links of its requests: a ping answered, a getheaders
// pending, a getdata answered block by block, a getaddr expired. Peer 5's
// traffic and links are mixed in and must stay out of peer 4's diagram.
func seqEngine() *fakeEngine {
	f := &fakeEngine{msgs: engine.NewRing[engine.MessageRecord](64), events: engine.NewRing[engine.Event](8), snap: engine.Snapshot{
		Peers: []engine.PeerInfo{{ID: 4, Addr: "10.0.0.4:18444"}, {ID: 5, Addr: "10.0.0.5:18444"}},
	}}
	msg := func(peer engine.PeerID, in bool, command string, request bool) {
		f.msgs.Append(engine.MessageRecord{Time: testTime.Add(time.Duration(f.msgs.Last()) * time.Millisecond), Peer: peer, Addr: "10.0.0.4:18444",
			Inbound: in, Command: command, Size: 24, Summary: command + " summary", Request: request})
	}
	msg(4, false, "version", false)   // 1
	msg(4, true, "version", false)    // 2
	msg(4, false, "ping", true)       // 3
	msg(4, true, "pong", false)       // 4
	msg(4, false, "getheaders", true) // 5: pending
	msg(5, false, "getheaders", true) // 6: peer 5's
	msg(4, false, "getdata", true)    // 7
	msg(4, true, "block", false)      // 8
	msg(4, true, "block", false)      // 9
	msg(4, false, "getaddr", true)    // 10: expired
	msg(4, true, "inv", false)        // 11
	for _, l := range []engine.RequestLink{
		{Peer: 4, Request: 3, Response: 4, Outcome: p2p.Answered, Done: true, RoundTrip: 12345 * time.Microsecond},
		{Peer: 5, Request: 6, Outcome: p2p.Expired, Done: true, RoundTrip: time.Minute},
		// Peer 5's link naming a number of peer 4's must not touch it.
		{Peer: 5, Request: 5, Outcome: p2p.Expired, Done: true},
		{Peer: 4, Request: 7, Response: 8, Outcome: p2p.Answered, RoundTrip: 20 * time.Millisecond},
		{Peer: 4, Request: 7, Response: 9, Outcome: p2p.Answered, Done: true, RoundTrip: 30 * time.Millisecond},
		{Peer: 4, Request: 10, Outcome: p2p.Expired, Done: true, RoundTrip: time.Minute},
	} {
		f.Links().Append(l)
	}
	return f
}

// seqRowsOf returns the diagram's rows as shown.
func seqRowsOf(doc *goquery.Document) *goquery.Selection {
	return doc.Find(`#peer-seq[data-peer-id="4"] ol.seq-rows > li.seq-row`)
}

func TestPeerPageSequenceDiagram(t *testing.T) {
	f := seqEngine()
	doc := getPage(t, New(f, "secret", nil), "/peers/4", 200)
	rows := seqRowsOf(doc)
	// Peer 4's messages, oldest first: the newest at the bottom.
	if got := attrs(rows, "data-seq"); !slices.Equal(got, []string{"1", "2", "3", "4", "5", "7", "8", "9", "10", "11"}) {
		t.Fatalf("rows %q, want peer 4's messages oldest first", got)
	}
	if got := doc.Find("#peer-seq").AttrOr("data-max-rows", ""); got != "500" {
		t.Errorf("data-max-rows %q", got)
	}
	if doc.Find(`script[src="/static/sequence.js"]`).Length() != 1 {
		t.Error("the page does not load sequence.js")
	}
	row := func(seq string) *goquery.Selection { return doc.Find("li#seq-" + seq) }
	note := func(seq string) string { return strings.TrimSpace(row(seq).Find(".seq-note").Text()) }

	// Every arrow opens its message in the decoder, as the log's links do.
	rows.Each(func(_ int, r *goquery.Selection) {
		seq := r.AttrOr("data-seq", "")
		dir := r.AttrOr("data-dir", "")
		if !r.HasClass("dir-"+dir) || (dir != "in" && dir != "out") {
			t.Errorf("row %s: direction %q, class %q", seq, dir, r.AttrOr("class", ""))
		}
		a := r.Find("a.seq-msg")
		m := views.MsgRow{Seq: mustUint(t, seq), Time: testTime.Add(time.Duration(mustUint(t, seq)-1) * time.Millisecond), Peer: 4, Addr: "10.0.0.4:18444", Dir: dir}
		if href := a.AttrOr("href", ""); href != views.DecoderLink(m) {
			t.Errorf("row %s opens %q, want %q", seq, href, views.DecoderLink(m))
		}
		if a.Text() != r.AttrOr("data-command", "?") {
			t.Errorf("row %s: arrow %q, command %q", seq, a.Text(), r.AttrOr("data-command", ""))
		}
	})

	// The ping is tied to its pong, both ways, with the round trip.
	if row("3").AttrOr("data-state", "") != "answered" || row("3").AttrOr("data-responses", "") != "4" {
		t.Errorf("ping row: state %q, responses %q", row("3").AttrOr("data-state", ""), row("3").AttrOr("data-responses", ""))
	}
	if got := note("3"); got != "→ #4 · 12.3 ms" || row("3").Find("a.seq-link").AttrOr("href", "") != "#seq-4" {
		t.Errorf("ping's link %q to %q", got, row("3").Find("a.seq-link").AttrOr("href", ""))
	}
	if got := note("4"); got != "↩ ping #3 · 12.3 ms" || row("4").Find("a.seq-link").AttrOr("href", "") != "#seq-3" || row("4").AttrOr("data-answers", "") != "3" {
		t.Errorf("pong's link %q (answers %q)", got, row("4").AttrOr("data-answers", ""))
	}
	// Unanswered: pending (peer 5's expiry of its own request 5 aside).
	if got := note("5"); row("5").AttrOr("data-state", "") != "pending" || got != "pending" || row("5").Find(`.seq-mark[data-state="pending"]`).Length() != 1 {
		t.Errorf("getheaders: state %q, note %q", row("5").AttrOr("data-state", ""), got)
	}
	// A getdata answered block by block: both answers, the last one's
	// round trip.
	if got := note("7"); row("7").AttrOr("data-state", "") != "answered" || row("7").AttrOr("data-responses", "") != "8 9" || got != "→ 2 answers, last #9 · 30.0 ms" {
		t.Errorf("getdata: state %q, responses %q, note %q", row("7").AttrOr("data-state", ""), row("7").AttrOr("data-responses", ""), got)
	}
	if note("8") != "↩ getdata #7 · 20.0 ms" || note("9") != "↩ getdata #7 · 30.0 ms" {
		t.Errorf("blocks' links %q, %q", note("8"), note("9"))
	}
	if got := note("10"); row("10").AttrOr("data-state", "") != "expired" || got != "expired" || row("10").Find("a.seq-link").Length() != 0 {
		t.Errorf("getaddr: state %q, note %q", row("10").AttrOr("data-state", ""), got)
	}
	// Messages that are neither requests nor answers carry no mark.
	for _, seq := range []string{"1", "2", "11"} {
		if note(seq) != "" || row(seq).AttrOr("data-state", "") != "" {
			t.Errorf("row %s: note %q, state %q", seq, note(seq), row(seq).AttrOr("data-state", ""))
		}
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("%q is not a number", s)
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// TestPeerPageSequenceBounded: the page loads with the newest seqRows of
// the peer's messages, newest at the bottom.
func TestPeerPageSequenceBounded(t *testing.T) {
	f := &fakeEngine{msgs: engine.NewRing[engine.MessageRecord](512), events: engine.NewRing[engine.Event](8), snap: engine.Snapshot{
		Peers: []engine.PeerInfo{{ID: 4}},
	}}
	for range 300 {
		f.msgs.Append(engine.MessageRecord{Peer: 4, Command: "inv", Inbound: true})
	}
	rows := seqRowsOf(getPage(t, New(f, "secret", nil), "/peers/4", 200))
	if rows.Length() != seqRows || rows.First().AttrOr("data-seq", "") != "101" || rows.Last().AttrOr("data-seq", "") != "300" {
		t.Errorf("%d rows from %s to %s, want %d from 101 to 300", rows.Length(), rows.First().AttrOr("data-seq", ""), rows.Last().AttrOr("data-seq", ""), seqRows)
	}
}

// TestFeedCarriesPeerLinks: a peer's subscription that asks for links gets
// that peer's links (and its lines, requests marked); one that does not
// ask gets none.
func TestFeedCarriesPeerLinks(t *testing.T) {
	f := seqEngine()
	s := New(f, "secret", nil)
	srv := httptest.NewServer(s)
	defer srv.Close()
	startHub(t, s)

	subscribe := func(links bool) *websocket.Conn {
		c := feedClient(t, srv)
		readFeed(t, c) // snapshot
		req, _ := json.Marshal(clientRequest{Type: "subscribe", Peer: 4, Links: links})
		if err := c.Write(context.Background(), websocket.MessageText, req); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// read collects the messages batches until one has line until.
	read := func(c *websocket.Conn, until uint64) (lines []MessageLine, links []LinkLine) {
		for {
			m := readFeed(t, c)
			if m.Type != "messages" {
				continue
			}
			var d messagesData
			if err := json.Unmarshal(m.Data, &d); err != nil {
				t.Fatal(err)
			}
			lines, links = append(lines, d.Lines...), append(links, d.Links...)
			if slices.ContainsFunc(d.Lines, func(l MessageLine) bool { return l.Seq == until }) {
				return lines, links
			}
		}
	}

	lines, links := read(subscribe(true), 11)
	want := []LinkLine{
		{Peer: 4, Request: 3, Response: 4, Outcome: "answered", Done: true, RoundTripMs: 12.345},
		{Peer: 4, Request: 7, Response: 8, Outcome: "answered", RoundTripMs: 20},
		{Peer: 4, Request: 7, Response: 9, Outcome: "answered", Done: true, RoundTripMs: 30},
		{Peer: 4, Request: 10, Outcome: "expired", Done: true, RoundTripMs: 60000},
	}
	if !slices.Equal(links, want) {
		t.Errorf("links %+v, want %+v", links, want)
	}
	for _, l := range lines {
		if l.Request != (l.Command == "ping" || l.Command == "getheaders" || l.Command == "getdata" || l.Command == "getaddr") || l.Peer != 4 {
			t.Errorf("line %+v", l)
		}
	}

	if _, links := read(subscribe(false), 11); len(links) != 0 {
		t.Errorf("a subscription without links got %+v", links)
	}
}
