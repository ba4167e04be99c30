package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/coder/websocket"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/web/views"
)

// Hostile text a peer controls: its user agent, and so event texts and
// disconnect records.
const (
	xssScript = `<script>alert(1)</script>`
	xssImg    = `"><img src=x onerror=alert(1)>`
)

// pagesEngine adds a chain to fakeEngine, for the chain page.
type pagesEngine struct {
	*fakeEngine
	headers map[int32]engine.HeaderView
	tips    []engine.TipView
}

func (e *pagesEngine) Header(_ context.Context, key string) (engine.HeaderView, error) {
	h, err := strconv.Atoi(key)
	if err != nil {
		return engine.HeaderView{}, fmt.Errorf("%q is not a height", key)
	}
	hv, ok := e.headers[int32(h)]
	if !ok {
		return engine.HeaderView{}, fmt.Errorf("%w: %s", engine.ErrUnknownHeader, key)
	}
	return hv, nil
}

func (e *pagesEngine) Tips(context.Context) ([]engine.TipView, error) { return e.tips, nil }

var testTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func hashOf(n int) string { return fmt.Sprintf("%064x", n) }

// testSessionID is peer 7's v2 session id.
const testSessionID = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

// newPagesEngine returns an engine with three peers (two with hostile
// user agents; one on v2, one on v1, one in its v2 handshake), 25 events,
// 150 logged messages, a disconnect, a ban and a 25-header chain.
func newPagesEngine() *pagesEngine {
	f := &fakeEngine{msgs: engine.NewRing[engine.MessageRecord](256), events: engine.NewRing[engine.Event](64)}
	traffic := map[string]engine.CommandTraffic{"ping": {Bytes: 320, Messages: 10}, "headers": {Bytes: 5 << 20, Messages: 3}}
	f.snap = engine.Snapshot{
		Time: testTime,
		Status: engine.Status{
			Network: "regtest", Height: 25, BestHash: hashOf(25), ChainWork: "00000000000000000000000000000000000000000000000000000000000000ff",
			TipTime: testTime,
			Sync:    engine.SyncStatus{State: "headers", Progress: 0.5234, HeadersPerSec: 1234.5, EtaS: 3725, Target: 50, Peer: 3},
			Peers:   3, Inbound: 1, Outbound: 2, UptimeS: 90061, Discovery: "asking DNS seeds",
			BytesRecv: 1536, BytesSent: 2 << 20,
			MsgsRecv: traffic, MsgsSent: map[string]engine.CommandTraffic{"getheaders": {Bytes: 1000, Messages: 2}, "ping": {Bytes: 32, Messages: 1}},
			Transports: map[string]engine.TransportTraffic{
				"v1": {Peers: 1, BytesSent: 3 << 20, BytesRecv: 512},
				"v2": {Peers: 1, BytesSent: 2048, BytesRecv: 1024},
			},
		},
		Peers: []engine.PeerInfo{
			{ID: 7, Addr: "127.0.0.1:18444", UserAgent: xssScript, Version: 70016, ServiceNames: []string{"NETWORK", "WITNESS"},
				Transport: "v2", SessionID: testSessionID,
				PingMs: 12.34, MinPingMs: 10, BytesSent: 2048, BytesRecv: 1 << 20, ConnectedAt: time.Now().Add(-3 * time.Minute),
				StartHeight: 1234, QueueBytes: 100, Misbehavior: 5, MsgsRecv: traffic, MsgsSent: map[string]engine.CommandTraffic{"getheaders": {Bytes: 93, Messages: 1}},
				Inflight:      []engine.RequestInfo{{ID: 1, Command: "getheaders", Queued: testTime, AgeMs: 1500}, {ID: 2, Command: "ping", Queued: testTime, AgeMs: 20}},
				Features:      engine.Features{SendHeaders: true, WtxidRelay: true, FeeFilter: 1000},
				Announcements: map[string]uint64{"headers": 22, "addr": 1500}, Unsolicited: map[string]uint64{"pong": 1}},
			{ID: 3, Addr: "10.0.0.3:8333", UserAgent: "/btcd:0.24.2/", Version: 70016, ServiceNames: []string{"NETWORK"}, Transport: "v1"},
			{ID: 9, Addr: "[::1]:5555", Inbound: true, UserAgent: xssImg, Version: 70015},
		},
		Disconnects: []engine.Disconnect{
			{ID: 5, Addr: "10.0.0.5:8333", UserAgent: xssImg, Kind: engine.DropViolation, Reason: "bad " + xssScript, Time: testTime},
		},
		Bans: []engine.Ban{{Addr: "10.0.0.1", Reason: "spam " + xssImg, Created: testTime, Until: testTime.Add(24 * time.Hour), Manual: true}},
	}
	for i := 1; i <= 25; i++ {
		ev := engine.Event{Time: testTime.Add(time.Duration(i) * time.Second), Kind: engine.EventConnect, Peer: 7, Text: fmt.Sprintf("event %d", i)}
		switch i {
		case 10:
			ev.Kind, ev.Peer, ev.Text = engine.EventReorg, 0, "reorg from 5 to 6"
		case 24:
			ev.Text = "connected " + xssScript
		case 25:
			ev.Text = "connected " + xssImg
		}
		f.events.Append(ev)
	}
	cmds := []string{"ping", "pong", "headers"}
	for i := 0; i < 150; i++ {
		id := []engine.PeerID{3, 7, 9}[i%3]
		f.msgs.Append(engine.MessageRecord{Time: testTime.Add(time.Duration(i) * time.Millisecond), Peer: id, Addr: "addr-" + strconv.Itoa(int(id)),
			Inbound: i%2 == 0, Command: cmds[i%len(cmds)], Size: 24 + i})
	}
	e := &pagesEngine{fakeEngine: f, headers: map[int32]engine.HeaderView{}}
	for h := int32(0); h <= 25; h++ {
		e.headers[h] = engine.HeaderView{Height: h, Hash: hashOf(int(h)), Time: testTime, Bits: "207fffff", Nonce: uint32(h), ChainWork: "ff", MainChain: true}
	}
	e.tips = []engine.TipView{{Hash: hashOf(25), Height: 25, Status: "active"}, {Hash: hashOf(99), Height: 20, BranchLength: 2, Status: "valid-fork"}}
	return e
}

// request runs one request through the server.
func request(t *testing.T, h http.Handler, method, path string, form url.Values, mods ...func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	for _, m := range mods {
		m(req)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func withCookie(token string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: authCookie, Value: token}) }
}

func withBearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func parse(t *testing.T, w *httptest.ResponseRecorder) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// getPage fetches path and checks it is an HTML page answered with status.
func getPage(t *testing.T, h http.Handler, path string, status int, mods ...func(*http.Request)) *goquery.Document {
	t.Helper()
	w := request(t, h, "GET", path, nil, mods...)
	if w.Code != status {
		t.Fatalf("GET %s: %d, want %d\n%s", path, w.Code, status, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET %s: content type %q", path, ct)
	}
	return parse(t, w)
}

func texts(sel *goquery.Selection) []string {
	return sel.Map(func(_ int, s *goquery.Selection) string { return strings.TrimSpace(s.Text()) })
}

func attrs(sel *goquery.Selection, name string) []string {
	return sel.Map(func(_ int, s *goquery.Selection) string { return s.AttrOr(name, "") })
}

func field(doc *goquery.Document, path string) *goquery.Selection {
	return doc.Find(`[data-field="` + path + `"]`)
}

func checkField(t *testing.T, doc *goquery.Document, path, format, want string) {
	t.Helper()
	f := field(doc, path)
	if f.Length() == 0 {
		t.Errorf("no data-field %q", path)
		return
	}
	if got := f.First().AttrOr("data-format", ""); got != format {
		t.Errorf("%s: data-format %q, want %q", path, got, format)
	}
	if got := strings.TrimSpace(f.First().Text()); got != want {
		t.Errorf("%s: %q, want %q", path, got, want)
	}
}

var pagePaths = map[string]string{
	"/": "overview", "/peers": "peers", "/peers/7": "peer", "/chain": "chain", "/sync": "sync",
	"/messages": "messages", "/decoder": "decoder", "/network": "network", "/bans": "bans",
}

func TestPagesLayout(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	wantNav := []string{"/", "/peers", "/sync", "/chain", "/messages", "/decoder", "/network", "/bans"}
	for path, name := range pagePaths {
		w := request(t, s, "GET", path, nil)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", path, w.Code)
		}
		h := w.Header()
		for k, v := range map[string]string{
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
		} {
			if h.Get(k) != v {
				t.Errorf("%s: %s %q", path, k, h.Get(k))
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		doc := parse(t, w)
		if got := doc.Find("body").AttrOr("data-page", ""); got != name {
			t.Errorf("%s: data-page %q, want %q", path, got, name)
		}
		if got := attrs(doc.Find("header nav a"), "href"); !slices.Equal(got, wantNav) {
			t.Errorf("%s: nav %q, want %q", path, got, wantNav)
		}
		if doc.Find(`#conn-state[data-state="offline"]`).Length() != 1 {
			t.Errorf("%s: no #conn-state", path)
		}
		if !strings.Contains(doc.Find("noscript").Text(), "snapshot") {
			t.Errorf("%s: no noscript note", path)
		}
		if doc.Find(`link[rel="stylesheet"][href="/static/style.css"]`).Length() != 1 ||
			doc.Find(`script[src="/static/app.js"][defer]`).Length() != 1 {
			t.Errorf("%s: stylesheet or app.js missing", path)
		}
		if got := doc.Find("title").Text(); !strings.Contains(got, "watchnode") {
			t.Errorf("%s: title %q", path, got)
		}
		uplot := doc.Find(`script[src="/static/vendor/uPlot.iife.min.js"]`).Length() == 1 &&
			doc.Find(`link[href="/static/vendor/uPlot.min.css"]`).Length() == 1
		if uplot != (name == "network") {
			t.Errorf("%s: uPlot loaded: %v", path, uplot)
		}
		// Logged out: a login link, no CSRF token anywhere.
		if doc.Find(`a.login`).Length() != 1 || doc.Find(`meta[name="csrf-token"]`).Length() != 0 {
			t.Errorf("%s: logged out, but no login link or a CSRF token", path)
		}
	}
}

func TestOverviewPage(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	doc := getPage(t, s, "/", 200)
	for _, c := range []struct{ path, format, want string }{
		{"status.network", "text", "regtest"},
		{"status.height", "number", "25"},
		{"status.best_hash", "hash", hashOf(25)},
		{"status.tip_time", "time", "2025-03-04 05:06:07 UTC"},
		{"status.chain_work", "log2_work", "7.994353"}, // log2(255)
		{"status.sync.progress", "percent", "52.3%"},
		{"status.sync.state", "text", "headers"},
		{"status.sync.headers_per_sec", "number", "1,234.5"},
		{"status.sync.eta_s", "duration", "1h 2m"},
		{"status.sync.target_height", "number", "50"},
		{"status.peers_in", "number", "1"},
		{"status.peers_out", "number", "2"},
		{"status.bytes_recv", "bytes", "1.5 KiB"},
		{"status.bytes_sent", "bytes", "2.0 MiB"},
		{"status.uptime_s", "duration", "1d 1h"},
		{"status.discovery", "text", "asking DNS seeds"},
	} {
		checkField(t, doc, c.path, c.format, c.want)
	}
	if got := field(doc, "status.chain_work").AttrOr("title", ""); got != "00000000000000000000000000000000000000000000000000000000000000ff" {
		t.Errorf("chain work title %q, want the hex", got)
	}
	bar := doc.Find("progress#sync-progress")
	if bar.AttrOr("max", "") != "1" || bar.AttrOr("value", "") != "0.5234" {
		t.Errorf("sync bar: max %q value %q", bar.AttrOr("max", ""), bar.AttrOr("value", ""))
	}
	items := doc.Find("ul#events > li")
	if items.Length() != 20 {
		t.Fatalf("%d events, want the last 20", items.Length())
	}
	// Newest first: 25 (hostile text) down to 6.
	if got := items.First().Find("time").AttrOr("datetime", ""); got != testTime.Add(25*time.Second).Format(time.RFC3339Nano) {
		t.Errorf("first event at %q", got)
	}
	if got := strings.TrimSpace(items.Last().Find(".text").Text()); got != "event 6" {
		t.Errorf("last event %q, want event 6", got)
	}
	if got := items.Eq(2).Find(".kind").Text(); got != "connect" {
		t.Errorf("event kind %q", got)
	}
}

// peerCols is the DOM contract's peers table.
var peerCols = []string{"id", "addr", "inbound", "user_agent", "version", "service_names", "ping_ms", "min_ping_ms",
	"bytes_sent", "bytes_recv", "connected_at", "start_height", "synced_height", "transport", "queue_bytes", "inflight", "misbehavior"}

func TestPeersPage(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	doc := getPage(t, s, "/peers", 200)
	if got := attrs(doc.Find("table#peers-table thead tr th"), "data-col"); !slices.Equal(got, peerCols) {
		t.Errorf("peers table columns %q", got)
	}
	rows := doc.Find("table#peers-table tbody tr")
	if got := attrs(rows, "data-peer-id"); !slices.Equal(got, []string{"3", "7", "9"}) {
		t.Fatalf("rows %q, want peers 3, 7, 9 by id", got)
	}
	rows.Each(func(_ int, row *goquery.Selection) {
		if got := attrs(row.Find("td"), "data-col"); !slices.Equal(got, peerCols) {
			t.Errorf("row cells %q", got)
		}
		id := row.AttrOr("data-peer-id", "")
		if href := row.Find("a").First().AttrOr("href", ""); href != "/peers/"+id {
			t.Errorf("row %s links to %q", id, href)
		}
	})
	row := doc.Find(`tr[data-peer-id="7"]`)
	cell := func(col string) string { return strings.TrimSpace(row.Find(`td[data-col="` + col + `"]`).Text()) }
	for col, want := range map[string]string{
		"id": "7", "addr": "127.0.0.1:18444", "inbound": "out", "user_agent": xssScript, "version": "70016",
		"service_names": "NW", "ping_ms": "12.3 ms", "min_ping_ms": "10 ms", "bytes_sent": "2.0 KiB",
		"bytes_recv": "1.0 MiB", "connected_at": "3m 0s", "start_height": "1,234", "queue_bytes": "100 B",
		"inflight": "2", "misbehavior": "5",
	} {
		if got := cell(col); got != want && !(col == "connected_at" && strings.HasPrefix(got, "3m ")) {
			t.Errorf("peer 7 %s: %q, want %q", col, got, want)
		}
	}
	if got := strings.TrimSpace(doc.Find(`tr[data-peer-id="9"] td[data-col="inbound"]`).Text()); got != "in" {
		t.Errorf("peer 9 direction %q", got)
	}
	// The full forms are in the titles: service names, the whole user
	// agent and address (cut with an ellipsis in the cell).
	for col, want := range map[string]string{"service_names": "NETWORK, WITNESS", "user_agent": xssScript, "addr": "127.0.0.1:18444"} {
		if got := row.Find(`td[data-col="`+col+`"]`).AttrOr("title", ""); got != want {
			t.Errorf("peer 7 %s title %q, want %q", col, got, want)
		}
	}
	if got := strings.TrimSpace(row.Find(`td[data-col="user_agent"] span.clip`).Text()); got != xssScript {
		t.Errorf("peer 7 user agent not in a span.clip: %q", got)
	}
	if got := strings.TrimSpace(doc.Find(`tr[data-peer-id="9"] td[data-col="service_names"]`).Text()); got != "—" {
		t.Errorf("peer 9 without services shows %q", got)
	}
	// Transports: v2 in a badge, v1 plain, "" handshaking; each cell's
	// title and the header's say what they mean.
	for id, want := range map[string]struct{ text, class, title string }{
		"7": {"v2", "transport-v2", "v2: BIP324, encrypted"},
		"3": {"v1", "transport-v1", "v1: plaintext P2P"},
		"9": {"handshaking", "transport-handshaking", "a v2 (BIP324) handshake under way; it may still fall back to v1"},
	} {
		td := doc.Find(`tr[data-peer-id="` + id + `"] td[data-col="transport"]`)
		if got := strings.TrimSpace(td.Text()); got != want.text {
			t.Errorf("peer %s transport %q, want %q", id, got, want.text)
		}
		if got := td.AttrOr("class", ""); got != want.class {
			t.Errorf("peer %s transport cell class %q, want %q", id, got, want.class)
		}
		if got := td.AttrOr("title", ""); got != want.title {
			t.Errorf("peer %s transport title %q, want %q", id, got, want.title)
		}
		if badge := td.Find("span.badge"); (badge.Length() == 1) != (id == "7") || (id == "7" && badge.Text() != "v2") {
			t.Errorf("peer %s transport badge: %d of them, %q", id, badge.Length(), badge.Text())
		}
	}
	head := doc.Find(`#peers-table th[data-col="transport"]`).AttrOr("title", "")
	for _, want := range []string{"v1: plaintext", "v2: BIP324", "handshaking"} {
		if !strings.Contains(head, want) {
			t.Errorf("transport header title %q lacks %q", head, want)
		}
	}
	if strings.Contains(head, "not spoken") {
		t.Errorf("transport header title still says v2 is not spoken: %q", head)
	}
	legend := doc.Find("#services-legend").Text()
	for _, want := range []string{"N NETWORK", "W WITNESS", "L NETWORK_LIMITED", "P P2P_V2", "? bits"} {
		if !strings.Contains(legend, want) {
			t.Errorf("services legend %q lacks %q", legend, want)
		}
	}
}

func TestServiceLetters(t *testing.T) {
	for _, c := range []struct {
		names []string
		want  string
	}{
		{nil, "—"},
		{[]string{"NETWORK", "WITNESS", "NETWORK_LIMITED"}, "NWL"},
		{[]string{"NETWORK", "BLOOM", "WITNESS", "COMPACT_FILTERS", "NETWORK_LIMITED", "P2P_V2"}, "NBWCLP"},
		{[]string{"NETWORK", "UNKNOWN[2^1]", "UNKNOWN[2^63]"}, "N?"},
		{[]string{"UNKNOWN[2^24]"}, "?"},
	} {
		if got := views.ServiceLetters(c.names); got != c.want {
			t.Errorf("ServiceLetters(%q) = %q, want %q", c.names, got, c.want)
		}
	}
}

// TestNumericHeaders: every header over a column of numbers is
// right-aligned like its numbers, in every table of every page.
func TestNumericHeaders(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	for path := range pagePaths {
		doc := getPage(t, s, path, 200)
		doc.Find("table").Each(func(_ int, table *goquery.Selection) {
			heads := table.Find("thead th")
			table.Find("tbody tr").Each(func(_ int, tr *goquery.Selection) {
				tr.Find("td").Each(func(i int, td *goquery.Selection) {
					th := heads.Eq(i)
					if td.HasClass("num") != th.HasClass("num") {
						t.Errorf("%s #%s column %q: cell num %v, header num %v", path, table.AttrOr("id", ""), th.Text(), td.HasClass("num"), th.HasClass("num"))
					}
				})
			})
		})
	}
}

func TestPeerPage(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	doc := getPage(t, s, "/peers/7", 200)
	sec := doc.Find(`section#peer[data-peer-id="7"]`)
	if sec.Length() != 1 {
		t.Fatal("no section#peer for peer 7")
	}
	checkField(t, doc, "peer.user_agent", "text", xssScript)
	checkField(t, doc, "peer.ping_ms", "number", "12.3")
	checkField(t, doc, "peer.bytes_recv", "bytes", "1.0 MiB")
	checkField(t, doc, "peer.start_height", "number", "1,234")
	checkField(t, doc, "peer.version", "text", "70016")
	// A v2 peer shows its session id, live, with what it is for.
	checkField(t, doc, "peer.transport", "transport", "v2")
	checkField(t, doc, "peer.session_id", "hash", testSessionID)
	sid := field(doc, "peer.session_id").Parent()
	if !strings.Contains(sid.AttrOr("title", ""), "getpeerinfo") || !strings.Contains(sid.Prev().AttrOr("title", ""), "remote's operator sees the same id") {
		t.Errorf("session id without its tooltip: %q / %q", sid.AttrOr("title", ""), sid.Prev().AttrOr("title", ""))
	}
	if got := strings.TrimSpace(sid.Prev().Text()); got != "Session id" {
		t.Errorf("session id under %q", got)
	}
	cmds := doc.Find("table#peer-commands tbody tr")
	if got := attrs(cmds, "data-command"); !slices.Equal(got, []string{"getheaders", "headers", "ping"}) {
		t.Errorf("commands %q", got)
	}
	if got := texts(doc.Find(`#peer-commands tr[data-command="headers"] td`)); !slices.Equal(got, []string{"headers", "3", "5.0 MiB", "0", "0 B"}) {
		t.Errorf("headers traffic %q", got)
	}
	if got := texts(doc.Find("table#peer-inflight tbody tr td[data-col=command]")); !slices.Equal(got, []string{"getheaders", "ping"}) {
		t.Errorf("in flight %q", got)
	}
	if got := strings.TrimSpace(doc.Find("table#peer-inflight tbody tr td[data-col=age_ms]").First().Text()); got != "1s" {
		t.Errorf("request age %q", got)
	}
	msgs := doc.Find("table#peer-messages tbody tr")
	if msgs.Length() != 50 {
		t.Errorf("%d recent messages, want 50", msgs.Length())
	}
	// Peer 7's messages are every third of 150 from the second: seqs
	// 149, 146, ... newest first.
	if got := msgs.First().AttrOr("data-seq", ""); got != "149" {
		t.Errorf("newest message seq %q, want 149", got)
	}
	if !strings.Contains(doc.Find("#peer-features").Text(), "sendheaders") {
		t.Errorf("no negotiated features")
	}
	// Announcements are told apart from the penalized unsolicited
	// responses, each under a heading that says which it is.
	for id, want := range map[string][]string{"peer-announcements": {"addr", "1,500", "headers", "22"}, "peer-unsolicited": {"pong", "1"}} {
		if got := texts(doc.Find("dl#" + id).Children()); !slices.Equal(got, want) {
			t.Errorf("#%s %q, want %q", id, got, want)
		}
	}
	for id, heading := range map[string]string{"peer-announcements": "Announcements (allowed)", "peer-unsolicited": "Unsolicited responses (penalized)"} {
		if got := strings.TrimSpace(doc.Find("dl#" + id).Prev().Text()); got != heading {
			t.Errorf("#%s under %q, want %q", id, got, heading)
		}
	}
	doc3 := getPage(t, s, "/peers/3", 200)
	// A v1 peer has no session id; one still in its handshake has none yet.
	checkField(t, doc3, "peer.transport", "transport", "v1")
	checkField(t, doc3, "peer.session_id", "hash", "—")
	doc9 := getPage(t, s, "/peers/9", 200)
	checkField(t, doc9, "peer.transport", "transport", "handshaking")
	checkField(t, doc9, "peer.session_id", "hash", "—")
	for _, id := range []string{"peer-announcements", "peer-unsolicited"} {
		if l := doc3.Find("dl#" + id); l.Length() != 1 || l.Children().Length() != 0 || l.AttrOr("data-empty", "") == "" {
			t.Errorf("peer 3 (nothing unasked): #%s is missing, not empty or says nothing", id)
		}
	}
	if f := doc.Find(`form[action="/ui/disconnect"]`); f.Find(`input[name="id"]`).AttrOr("value", "") != "7" ||
		f.Find(`input[name="next"]`).AttrOr("value", "") != "/peers/7" {
		t.Errorf("peer page disconnect form")
	}

	// Unknown peers: 404, with the disconnect record of one that left.
	getPage(t, s, "/peers/8", 404)
	getPage(t, s, "/peers/x", 404)
	doc = getPage(t, s, "/peers/5", 404)
	if got := strings.TrimSpace(doc.Find(".reason").Text()); got != "bad "+xssScript {
		t.Errorf("gone peer's reason %q", got)
	}
	if doc.Find("nav a").Length() != 8 {
		t.Errorf("404 page without the nav bar")
	}
}

func TestChainPage(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	doc := getPage(t, s, "/chain", 200)
	var want []string
	for h := 25; h > 5; h-- {
		want = append(want, strconv.Itoa(h))
	}
	if got := attrs(doc.Find("#headers-table tbody tr"), "data-height"); !slices.Equal(got, want) {
		t.Errorf("headers %q, want %q", got, want)
	}
	if got := strings.TrimSpace(doc.Find(`#headers-table tr[data-height="25"] td[data-col="hash"]`).Text()); got != hashOf(25) {
		t.Errorf("tip hash %q", got)
	}
	if got := attrs(doc.Find("#tips-table tbody tr"), "data-status"); !slices.Equal(got, []string{"active", "valid-fork"}) {
		t.Errorf("tips %q", got)
	}
	// Chain work as Core's log2_work, the hex in the title.
	work := doc.Find(`#headers-table tr[data-height="25"] td[data-col="chain_work"]`)
	if got, title := strings.TrimSpace(work.Text()), work.AttrOr("title", ""); got != "7.994353" || title != "ff" {
		t.Errorf("header chain work %q (title %q), want 7.994353 (ff)", got, title)
	}
	checkField(t, doc, "status.chain_work", "log2_work", "7.994353")
	if got := texts(doc.Find("#reorgs li .text")); !slices.Equal(got, []string{"reorg from 5 to 6"}) {
		t.Errorf("reorgs %q", got)
	}
	// A short chain: as many headers as there are.
	e := newPagesEngine()
	e.snap.Status.Height = 3
	doc = getPage(t, New(e, "secret", nil), "/chain", 200)
	if got := attrs(doc.Find("#headers-table tbody tr"), "data-height"); !slices.Equal(got, []string{"3", "2", "1", "0"}) {
		t.Errorf("short chain headers %q", got)
	}
}

func TestMessagesPage(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	doc := getPage(t, s, "/messages", 200)
	form := doc.Find("form#msg-filter")
	if form.AttrOr("method", "") != "get" || form.AttrOr("action", "") != "/messages" {
		t.Errorf("filter form method %q action %q", form.AttrOr("method", ""), form.AttrOr("action", ""))
	}
	for _, name := range []string{"peer", "command", "dir"} {
		if form.Find(`input[name="`+name+`"]`).Length() == 0 {
			t.Errorf("filter has no %s input", name)
		}
	}
	if form.Find(`input[name="dir"][value="all"][checked]`).Length() != 1 {
		t.Errorf("direction all not checked by default")
	}
	if doc.Find(`button#msg-pause[type="button"]`).Length() != 1 || strings.TrimSpace(doc.Find("span#msg-skipped").Text()) != "0" {
		t.Errorf("pause button or skipped counter missing")
	}
	rows := doc.Find("table#msg-log tbody tr")
	if rows.Length() != 100 {
		t.Errorf("%d rows, want the last 100", rows.Length())
	}
	first := rows.First()
	if got := attrs(first.Find("td"), "data-col"); !slices.Equal(got, []string{"time", "peer", "dir", "command", "size", "summary"}) {
		t.Errorf("log cells %q", got)
	}
	// The newest is message 150 (i = 149): peer 9 (149%3 = 2), out, "headers".
	cell := func(col string) string { return strings.TrimSpace(first.Find(`td[data-col="` + col + `"]`).Text()) }
	if cell("peer") != "9" || cell("dir") != "out" || cell("command") != "headers" || cell("size") != "173" || cell("time") != "05:06:07.149" {
		t.Errorf("newest row: %q", texts(first.Find("td")))
	}
	if href := first.Find(`td[data-col="command"] a`).AttrOr("href", ""); href != "/decoder#seq=150&time=2025-03-04T05%3A06%3A07.149Z&dir=out&peer=9&addr=addr-9" {
		t.Errorf("command link %q", href)
	}

	// Filters, server-side.
	doc = getPage(t, s, "/messages?peer=7&command=pong&dir=in", 200)
	rows = doc.Find("table#msg-log tbody tr")
	if rows.Length() == 0 {
		t.Fatal("filtered log is empty")
	}
	rows.Each(func(_ int, r *goquery.Selection) {
		if got := texts(r.Find(`td[data-col="peer"], td[data-col="dir"], td[data-col="command"]`)); !slices.Equal(got, []string{"7", "in", "pong"}) {
			t.Errorf("filtered row %q", got)
		}
	})
	if doc.Find(`#msg-filter input[name="peer"]`).AttrOr("value", "") != "7" ||
		doc.Find(`#msg-filter input[name="command"]`).AttrOr("value", "") != "pong" ||
		doc.Find(`#msg-filter input[name="dir"][value="in"][checked]`).Length() != 1 {
		t.Errorf("the form does not show the filter")
	}
	doc = getPage(t, s, "/messages?peer=abc", 200)
	if doc.Find(".notice.error").Length() != 1 || doc.Find("table#msg-log tbody tr").Length() != 100 {
		t.Errorf("a bad peer filter: no notice, or not every peer")
	}
}

func TestNetworkPage(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	doc := getPage(t, s, "/network", 200)
	for _, id := range []string{"chart-bytes", "chart-headers", "chart-peers", "chart-msgs"} {
		if doc.Find("div#"+id).Length() != 1 {
			t.Errorf("no div#%s", id)
		}
	}
	if got := attrs(doc.Find("#msg-totals tbody tr"), "data-command"); !slices.Equal(got, []string{"getheaders", "headers", "ping"}) {
		t.Errorf("totals %q", got)
	}
	if got := texts(doc.Find(`#msg-totals tr[data-command="ping"] td`)); !slices.Equal(got, []string{"ping", "10", "320 B", "1", "32 B"}) {
		t.Errorf("ping totals %q", got)
	}
	// v2's share and each transport's peers and bytes, all live fields.
	checkField(t, doc, "status.transports", "transport_share", "v2: 1 of 2 peers (50.0%)")
	for path, want := range map[string][2]string{
		"v1.peers": {"number", "1"}, "v1.bytes_sent": {"bytes", "3.0 MiB"}, "v1.bytes_recv": {"bytes", "512 B"},
		"v2.peers": {"number", "1"}, "v2.bytes_sent": {"bytes", "2.0 KiB"}, "v2.bytes_recv": {"bytes", "1.0 KiB"},
	} {
		checkField(t, doc, "status.transports."+path, want[0], want[1])
	}
	if got := attrs(doc.Find("#transport-traffic tbody tr"), "data-transport"); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("transport rows %q", got)
	}
	if got := texts(doc.Find(`#transport-traffic tr[data-transport="v2"] td`)); !slices.Equal(got, []string{"v2", "1", "2.0 KiB", "1.0 KiB"}) {
		t.Errorf("v2 row %q", got)
	}
}

// TestNetworkPageTransports: v2's share as the page writes it, and an
// engine that does not split by transport yet (a nil map), or reports no
// peer, shown as such rather than as made-up zeros or a division by zero.
func TestNetworkPageTransports(t *testing.T) {
	for _, c := range []struct {
		name  string
		m     map[string]engine.TransportTraffic
		share string
		v2    []string
	}{
		{"not split", nil, "—", []string{"v2", "—", "—", "—"}},
		{"no peers", map[string]engine.TransportTraffic{"v1": {}, "v2": {}}, "v2: 0 of 0 peers", []string{"v2", "0", "0 B", "0 B"}},
		{"three of eight", map[string]engine.TransportTraffic{"v1": {Peers: 5}, "v2": {Peers: 3, BytesSent: 1 << 20}}, "v2: 3 of 8 peers (37.5%)", []string{"v2", "3", "1.0 MiB", "0 B"}},
		{"all v2", map[string]engine.TransportTraffic{"v1": {}, "v2": {Peers: 1200}}, "v2: 1,200 of 1,200 peers (100.0%)", []string{"v2", "1,200", "0 B", "0 B"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPagesEngine()
			e.snap.Status.Transports = c.m
			doc := getPage(t, New(e, "secret", nil), "/network", 200)
			checkField(t, doc, "status.transports", "transport_share", c.share)
			if got := texts(doc.Find(`#transport-traffic tr[data-transport="v2"] td`)); !slices.Equal(got, c.v2) {
				t.Errorf("v2 row %q, want %q", got, c.v2)
			}
		})
	}
}

func csrfFor(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

func TestBansPage(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	doc := getPage(t, s, "/bans", 200)
	if got := texts(doc.Find(`#disconnects-table tbody tr td[data-col="kind"]`)); !slices.Equal(got, []string{"protocol-violation"}) {
		t.Errorf("disconnects %q", got)
	}
	if got := texts(doc.Find(`#bans-table tbody tr td[data-col="addr"]`)); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("bans %q", got)
	}
	for action, fields := range map[string][]string{
		"/ui/connect": {"addr"}, "/ui/disconnect": {"id"}, "/ui/ban": {"addr", "reason"}, "/ui/unban": {"addr"},
	} {
		f := doc.Find(`form[method="post"][action="` + action + `"]`)
		if f.Length() != 1 {
			t.Errorf("%d forms for %s", f.Length(), action)
			continue
		}
		if f.Find(`input[type="hidden"][name="csrf"]`).Length() != 1 {
			t.Errorf("%s: no csrf field", action)
		}
		for _, name := range fields {
			if f.Find(`[name="`+name+`"]`).Length() == 0 {
				t.Errorf("%s: no %s field", action, name)
			}
		}
	}
	// The CSRF token is given only to the logged in.
	if v := doc.Find(`input[name="csrf"]`).First().AttrOr("value", "x"); v != "" {
		t.Errorf("CSRF token %q given without the cookie", v)
	}
	doc = getPage(t, s, "/bans", 200, withCookie("secret"))
	if got := attrs(doc.Find(`input[name="csrf"]`), "value"); len(got) < 4 || slices.ContainsFunc(got, func(v string) bool { return v != csrfFor("secret") }) {
		t.Errorf("CSRF fields %q", got)
	}
	if doc.Find(`meta[name="csrf-token"]`).AttrOr("content", "") != csrfFor("secret") || doc.Find(`form[action="/logout"]`).Length() != 1 {
		t.Errorf("logged in: no csrf meta or logout form")
	}
	doc = getPage(t, s, "/bans?ok=ban", 200)
	if doc.Find(".notice.ok").Length() != 1 {
		t.Errorf("no success notice")
	}
	doc = getPage(t, s, "/bans?ok=<b>hi</b>", 200)
	if doc.Find(".notice").Length() != 0 {
		t.Errorf("the query string put a notice on the page")
	}
}

// TestPeerTextEscaped: whatever a peer controls is shown as text, never
// markup, on every page.
func TestPeerTextEscaped(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	checkNoInjection := func(path string, doc *goquery.Document) {
		t.Helper()
		if n := doc.Find("img").Length(); n != 0 {
			t.Errorf("%s: %d img elements", path, n)
		}
		doc.Find("script").Each(func(_ int, s *goquery.Selection) {
			if src, ok := s.Attr("src"); !ok || !strings.HasPrefix(src, "/static/") && src != "/decoder/wasm_exec.js" || strings.TrimSpace(s.Text()) != "" {
				t.Errorf("%s: a script element that is not ours: %q", path, s.Text())
			}
		})
		doc.Find("*").Each(func(_ int, s *goquery.Selection) {
			if _, ok := s.Attr("onerror"); ok {
				t.Errorf("%s: an onerror attribute on %s", path, goquery.NodeName(s))
			}
		})
	}
	for path := range pagePaths {
		w := request(t, s, "GET", path, nil)
		for _, raw := range []string{xssScript, "<img src=x"} {
			if strings.Contains(w.Body.String(), raw) {
				t.Errorf("%s: raw %q in the HTML", path, raw)
			}
		}
		checkNoInjection(path, parse(t, w))
	}
	doc := getPage(t, s, "/peers", 200)
	if got := texts(doc.Find(`td[data-col="user_agent"]`)); !slices.Equal(got, []string{"/btcd:0.24.2/", xssScript, xssImg}) {
		t.Errorf("peers table user agents %q", got)
	}
	doc = getPage(t, s, "/peers/9", 200)
	if got := field(doc, "peer.user_agent").Text(); got != xssImg {
		t.Errorf("peer page user agent %q", got)
	}
	doc = getPage(t, s, "/", 200)
	if got := texts(doc.Find("#events li .text").Slice(0, 2)); !slices.Equal(got, []string{"connected " + xssImg, "connected " + xssScript}) {
		t.Errorf("event texts %q", got)
	}
	doc = getPage(t, s, "/bans", 200)
	if got := doc.Find(`#disconnects-table td[data-col="user_agent"]`).Text(); got != xssImg {
		t.Errorf("disconnect user agent %q", got)
	}
	if got := doc.Find(`#disconnects-table td[data-col="reason"]`).Text(); got != "bad "+xssScript {
		t.Errorf("disconnect reason %q", got)
	}
	if got := doc.Find(`#bans-table td[data-col="reason"]`).Text(); got != "spam "+xssImg {
		t.Errorf("ban reason %q", got)
	}

	// The message log: addresses and commands through the server, the
	// summary (made inside the engine from the peer's message) through the
	// view the server hands it to.
	e := newPagesEngine()
	e.msgs.Append(engine.MessageRecord{Time: testTime, Peer: 9, Addr: xssImg, Command: xssScript, Size: 1})
	w := request(t, New(e, "secret", nil), "GET", "/messages", nil)
	if strings.Contains(w.Body.String(), xssScript) {
		t.Errorf("raw command in the message log")
	}
	doc = parse(t, w)
	checkNoInjection("/messages", doc)
	if got := doc.Find(`#msg-log td[data-col="command"]`).First().Text(); got != xssScript {
		t.Errorf("command %q", got)
	}
	if got := doc.Find(`#msg-log td[data-col="peer"] a`).First().AttrOr("title", ""); got != xssImg {
		t.Errorf("address %q", got)
	}
	var b strings.Builder
	rows := []views.MsgRow{{Seq: 1, Time: testTime, Peer: 9, Dir: "in", Command: "version", Summary: "ua " + xssScript + " " + xssImg}}
	if err := views.Messages(views.Page{Name: "messages"}, views.MsgFilter{Dir: "all"}, rows, nil, views.Message{}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	doc, _ = goquery.NewDocumentFromReader(strings.NewReader(b.String()))
	checkNoInjection("messages view", doc)
	if got := doc.Find(`#msg-log td[data-col="summary"]`).Text(); got != "ua "+xssScript+" "+xssImg {
		t.Errorf("summary %q", got)
	}
	b.Reset()
	pi := e.snap.Peers[0]
	if err := views.Peer(views.Page{Name: "peer"}, pi, time.Now(), rows, []views.SeqRow{{MsgRow: rows[0]}}, views.Message{}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	doc, _ = goquery.NewDocumentFromReader(strings.NewReader(b.String()))
	checkNoInjection("peer view", doc)
	if got := doc.Find(`#peer-messages td[data-col="summary"]`).Text(); got != "ua "+xssScript+" "+xssImg {
		t.Errorf("peer page summary %q", got)
	}
}

func TestLogin(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	doc := getPage(t, s, "/login?next=/bans", 200)
	form := doc.Find(`form[method="post"][action="/login"]`)
	if form.Find(`input[type="password"][name="token"]`).Length() != 1 || form.Find(`input[name="next"]`).AttrOr("value", "") != "/bans" {
		t.Fatalf("login form: %s", w2s(form))
	}
	if !strings.Contains(doc.Text(), ".cookie") {
		t.Errorf("the login page does not say where the token is")
	}
	// The login page has no script, so no live connection: a badge would
	// say "offline" while the node runs.
	if n := doc.Find("#conn-state").Length(); n != 0 {
		t.Errorf("the login page shows a live badge (%d)", n)
	}

	for _, token := range []string{"", "wrong", "secre", "secrett"} {
		w := request(t, s, "POST", "/login", url.Values{"token": {token}, "next": {"/bans"}})
		if w.Code != 401 || len(w.Result().Cookies()) != 0 {
			t.Errorf("token %q: %d, cookies %v", token, w.Code, w.Result().Cookies())
		}
		if parse(t, w).Find(`input[name="token"]`).Length() != 1 {
			t.Errorf("token %q: the form is not shown again", token)
		}
	}
	w := request(t, s, "POST", "/login", url.Values{"token": {"secret\n"}, "next": {"/bans"}})
	if w.Code != 303 || w.Header().Get("Location") != "/bans" {
		t.Fatalf("right token: %d to %q", w.Code, w.Header().Get("Location"))
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies %v", cs)
	}
	c := cs[0]
	if c.Name != "watchnode_auth" || c.Value != "secret" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie %+v", c)
	}
	// Secure over TLS.
	w = request(t, s, "POST", "/login", url.Values{"token": {"secret"}}, func(r *http.Request) { r.TLS = &tls.ConnectionState{} })
	if cs := w.Result().Cookies(); len(cs) != 1 || !cs[0].Secure || w.Header().Get("Location") != "/" {
		t.Errorf("over TLS: cookies %v, to %q", cs, w.Header().Get("Location"))
	}
	// Only local paths as next.
	for next, want := range map[string]string{
		"/peers/7?x=1": "/peers/7?x=1", "//evil.example/": "/", `/\evil.example`: "/", "https://evil.example/": "/",
		"javascript:alert(1)": "/", "evil": "/", "": "/", "/a\r\nSet-Cookie: x=y": "/",
	} {
		w := request(t, s, "POST", "/login", url.Values{"token": {"secret"}, "next": {next}})
		if got := w.Header().Get("Location"); got != want {
			t.Errorf("next %q: to %q, want %q", next, got, want)
		}
	}
	// Logging out needs the CSRF token and clears the cookie.
	if w := request(t, s, "POST", "/logout", url.Values{}, withCookie("secret")); w.Code != 403 {
		t.Errorf("logout without CSRF: %d", w.Code)
	}
	w = request(t, s, "POST", "/logout", url.Values{"csrf": {csrfFor("secret")}}, withCookie("secret"))
	if cs := w.Result().Cookies(); w.Code != 303 || len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("logout: %d, cookies %v", w.Code, cs)
	}
}

func w2s(s *goquery.Selection) string { h, _ := goquery.OuterHtml(s); return h }

func TestControls(t *testing.T) {
	e := newPagesEngine()
	s := New(e, "secret", nil)
	good := csrfFor("secret")
	controls := []struct {
		path string
		form url.Values
		call string
	}{
		{"/ui/connect", url.Values{"addr": {"1.2.3.4:8333"}}, "connect 1.2.3.4:8333"},
		{"/ui/disconnect", url.Values{"id": {"7"}}, "disconnect 7"},
		{"/ui/ban", url.Values{"addr": {"10.0.0.2"}, "reason": {"spam"}, "duration_s": {"3600"}}, `ban 10.0.0.2 "spam" 1h0m0s`},
		{"/ui/unban", url.Values{"addr": {"10.0.0.1"}}, "unban 10.0.0.1"},
	}
	with := func(v url.Values, csrf string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		if csrf != "" {
			out.Set("csrf", csrf)
		}
		return out
	}
	for _, c := range controls {
		refused := []struct {
			what string
			form url.Values
			mods []func(*http.Request)
		}{
			{"no cookie", with(c.form, good), nil},
			{"a wrong cookie", with(c.form, good), []func(*http.Request){withCookie("wrong")}},
			{"the Bearer token only", with(c.form, good), []func(*http.Request){withBearer("secret")}},
			{"no CSRF token", with(c.form, ""), []func(*http.Request){withCookie("secret")}},
			{"a wrong CSRF token", with(c.form, csrfFor("other")), []func(*http.Request){withCookie("secret")}},
			{"the token as CSRF token", with(c.form, "secret"), []func(*http.Request){withCookie("secret")}},
		}
		for _, r := range refused {
			w := request(t, s, "POST", c.path, r.form, r.mods...)
			if w.Code != 403 {
				t.Errorf("%s with %s: %d, want 403", c.path, r.what, w.Code)
			}
		}
		// The CSRF token in the query string does not count.
		w := request(t, s, "POST", c.path+"?csrf="+good, c.form, withCookie("secret"))
		if w.Code != 403 {
			t.Errorf("%s with the CSRF token in the URL: %d", c.path, w.Code)
		}
	}
	if len(e.calls) != 0 {
		t.Fatalf("refused controls reached the engine: %v", e.calls)
	}
	if w := request(t, s, "POST", "/ui/connect", url.Values{"addr": {"x"}}); !strings.Contains(parse(t, w).Find("main a").AttrOr("href", ""), "/login?next=%2Fbans") {
		t.Errorf("the refusal does not link to the login page")
	}
	for _, c := range controls {
		w := request(t, s, "POST", c.path, with(c.form, good), withCookie("secret"))
		if w.Code != 303 || w.Header().Get("Location") != "/bans?ok="+strings.TrimPrefix(c.path, "/ui/") {
			t.Errorf("%s: %d to %q", c.path, w.Code, w.Header().Get("Location"))
		}
	}
	var want []string
	for _, c := range controls {
		want = append(want, c.call)
	}
	if !slices.Equal(e.calls, want) {
		t.Errorf("engine calls %q, want %q", e.calls, want)
	}

	// From the peer page, back to it.
	w := request(t, s, "POST", "/ui/disconnect", url.Values{"id": {"7"}, "next": {"/peers/7"}, "csrf": {good}}, withCookie("secret"))
	if w.Code != 303 || w.Header().Get("Location") != "/peers/7?ok=disconnect" {
		t.Errorf("disconnect from the peer page: %d to %q", w.Code, w.Header().Get("Location"))
	}
	w = request(t, s, "POST", "/ui/disconnect", url.Values{"id": {"7"}, "next": {"//evil.example"}, "csrf": {good}}, withCookie("secret"))
	if w.Header().Get("Location") != "/?ok=disconnect" {
		t.Errorf("a foreign next: to %q", w.Header().Get("Location"))
	}

	// Failures show the bans page with the error.
	for _, c := range []struct {
		path string
		form url.Values
		want int
	}{
		{"/ui/disconnect", url.Values{"id": {"8"}}, 404},
		{"/ui/disconnect", url.Values{"id": {"x"}}, 400},
		{"/ui/ban", url.Values{"addr": {"not-an-ip"}}, 400},
		{"/ui/ban", url.Values{"addr": {"10.0.0.2"}, "duration_s": {"-5"}}, 400},
		{"/ui/unban", url.Values{"addr": {"10.9.9.9"}}, 404},
		{"/ui/connect", url.Values{"addr": {" "}}, 400},
	} {
		w := request(t, s, "POST", c.path, with(c.form, good), withCookie("secret"))
		if w.Code != c.want {
			t.Errorf("%s %v: %d, want %d", c.path, c.form, w.Code, c.want)
			continue
		}
		doc := parse(t, w)
		if doc.Find("body").AttrOr("data-page", "") != "bans" || doc.Find(".notice.error").Length() != 1 {
			t.Errorf("%s %v: no error on the bans page", c.path, c.form)
		}
	}
	if w := request(t, s, "GET", "/ui/connect", nil, withCookie("secret")); w.Code != 405 {
		t.Errorf("GET /ui/connect: %d", w.Code)
	}
}

// TestAPICookieAndCSRF: the JSON API's mutating calls take the login cookie
// with the CSRF header as well as the Bearer token.
func TestAPICookieAndCSRF(t *testing.T) {
	e := newPagesEngine()
	s := New(e, "secret", nil)
	post := func(mods ...func(*http.Request)) int {
		req := httptest.NewRequest("POST", "/api/peers", strings.NewReader(`{"addr":"1.2.3.4:8333"}`))
		for _, m := range mods {
			m(req)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w.Code
	}
	csrf := func(v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("X-CSRF-Token", v) } }
	for what, mods := range map[string][]func(*http.Request){
		"cookie only":           {withCookie("secret")},
		"cookie, wrong CSRF":    {withCookie("secret"), csrf(csrfFor("x"))},
		"CSRF only":             {csrf(csrfFor("secret"))},
		"wrong cookie, CSRF":    {withCookie("secre"), csrf(csrfFor("secret"))},
		"cookie, token as CSRF": {withCookie("secret"), csrf("secret")},
	} {
		if code := post(mods...); code != 401 {
			t.Errorf("%s: %d, want 401", what, code)
		}
	}
	if len(e.calls) != 0 {
		t.Fatalf("calls %v", e.calls)
	}
	if code := post(withCookie("secret"), csrf(csrfFor("secret"))); code != 202 {
		t.Errorf("cookie and CSRF: %d", code)
	}
	if code := post(withBearer("secret")); code != 202 {
		t.Errorf("Bearer: %d", code)
	}
}

func TestRequireAuth(t *testing.T) {
	e := newPagesEngine()
	s := New(e, "secret", nil, WithRequireAuth(true))
	guarded := []string{"/", "/peers", "/peers/7", "/chain", "/sync", "/messages", "/decoder", "/network", "/bans",
		"/static/app.js", "/static/vendor/uPlot.min.css", "/api/status", "/api/peers", "/api/captures", "/api/messages/1/raw", "/decoder/decoder.wasm", "/metrics", "/ws"}
	for _, path := range guarded {
		for _, mods := range [][]func(*http.Request){nil, {withCookie("wrong")}, {withBearer("wrong")}} {
			w := request(t, s, "GET", path, nil, mods...)
			page := pagePaths[path] != ""
			switch {
			case page && (w.Code != 303 || w.Header().Get("Location") != "/login?next="+url.QueryEscape(path)):
				t.Errorf("GET %s without credentials: %d to %q, want the login page", path, w.Code, w.Header().Get("Location"))
			case !page && w.Code != 401:
				t.Errorf("GET %s without credentials: %d, want 401", path, w.Code)
			}
			if strings.Contains(w.Body.String(), "regtest") {
				t.Errorf("GET %s without credentials shows the node's state", path)
			}
		}
		for _, mod := range []func(*http.Request){withCookie("secret"), withBearer("secret")} {
			w := request(t, s, "GET", path, nil, mod)
			if w.Code == 401 || w.Code == 303 || w.Code == 403 {
				t.Errorf("GET %s with credentials: %d", path, w.Code)
			}
		}
	}
	if w := request(t, s, "POST", "/api/peers", nil); w.Code != 401 {
		t.Errorf("POST /api/peers: %d", w.Code)
	}
	for _, path := range []string{"/login", "/static/style.css"} {
		if w := request(t, s, "GET", path, nil); w.Code != 200 {
			t.Errorf("GET %s: %d, want 200 without credentials", path, w.Code)
		}
	}
	if w := request(t, s, "POST", "/login", url.Values{"token": {"secret"}, "next": {"/peers"}}); w.Code != 303 || w.Header().Get("Location") != "/peers" {
		t.Errorf("login: %d to %q", w.Code, w.Header().Get("Location"))
	}
	// Other paths are not public by resemblance.
	for _, path := range []string{"/login/", "/static/style.css/", "/static//style.css", "/loginx"} {
		if w := request(t, s, "GET", path, nil); w.Code == 200 {
			t.Errorf("GET %s without credentials: 200", path)
		}
	}

	// A WebSocket opens with the cookie or the token, not without.
	srv := httptest.NewServer(s)
	defer srv.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, resp, err := websocket.Dial(ctx, wsURL, nil); err == nil || resp == nil || resp.StatusCode != 401 {
		if c != nil {
			c.CloseNow()
		}
		t.Errorf("WebSocket without credentials: %v %v", resp, err)
	}
	for what, h := range map[string]http.Header{
		"cookie": {"Cookie": {authCookie + "=secret"}},
		"bearer": {"Authorization": {"Bearer secret"}},
	} {
		c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			t.Errorf("WebSocket with the %s: %v", what, err)
			continue
		}
		if _, data, err := c.Read(ctx); err != nil || !strings.Contains(string(data), `"snapshot"`) {
			t.Errorf("WebSocket with the %s: %v %.80s", what, err, data)
		}
		c.CloseNow()
	}

	// Without RequireAuth, reading is open.
	open := New(e, "secret", nil)
	for path := range pagePaths {
		if w := request(t, open, "GET", path, nil); w.Code != 200 {
			t.Errorf("GET %s on loopback: %d", path, w.Code)
		}
	}
}

func TestStaticFiles(t *testing.T) {
	s := New(newPagesEngine(), "secret", nil)
	w := request(t, s, "GET", "/static/style.css", nil)
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") || !strings.Contains(w.Body.String(), "#conn-state") {
		t.Errorf("style.css: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("style.css without nosniff")
	}
	for _, path := range []string{"/static/static.go", "/static/", "/static/vendor/", "/static/nope.js", "/static/../api.go"} {
		if w := request(t, s, "GET", path, nil); w.Code == 200 {
			t.Errorf("GET %s: 200", path)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{views.Number(0), "0"}, {views.Number(999), "999"}, {views.Number(1000), "1,000"}, {views.Number(1234567), "1,234,567"},
		{views.Number(-1234), "-1,234"}, {views.Number(12.34), "12.3"}, {views.Number(0.96), "1"}, {views.Number(1999.96), "2,000"},
		{views.Bytes(0), "0 B"}, {views.Bytes(1023), "1023 B"}, {views.Bytes(1024), "1.0 KiB"}, {views.Bytes(1536), "1.5 KiB"},
		{views.Bytes(uint64(3) << 30), "3.0 GiB"},
		{views.Duration(0), "—"}, {views.Duration(-1), "—"}, {views.Duration(45.9), "45s"}, {views.Duration(192), "3m 12s"},
		{views.Duration(7500), "2h 5m"}, {views.Duration(273600), "3d 4h"},
		{views.Percent(0), "0.0%"}, {views.Percent(0.5234), "52.3%"}, {views.Percent(0.9999), "99.9%"}, {views.Percent(1), "100.0%"},
		{views.Percent(0.995), "99.5%"},
		// Bitcoin Core logs mainnet's genesis as log2_work=32.000022.
		{views.Log2Work("0000000000000000000000000000000000000000000000000000000100010001"), "32.000022"},
		{views.Log2Work("02"), "1.000000"}, {views.Log2Work("0x100010001"), "32.000022"},
		{views.Log2Work(""), "—"}, {views.Log2Work("00"), "—"}, {views.Log2Work("not hex"), "—"}, {views.Log2Work("-1"), "—"},
		{views.Time(time.Time{}), "—"}, {views.Time(testTime.In(time.FixedZone("x", 3600))), "2025-03-04 05:06:07 UTC"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "127.1.2.3:80": true,
		"0.0.0.0:8080": false, "[::]:8080": false, "192.168.1.2:8080": false, "[2001:db8::1]:80": false,
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := IsLoopback(a); got != want {
			t.Errorf("IsLoopback(%s) = %v", addr, got)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !IsLoopback(ln.Addr()) {
		t.Errorf("a loopback listener is not loopback")
	}
}
