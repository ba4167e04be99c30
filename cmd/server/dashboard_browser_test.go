package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/chromedp/chromedp"
	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/protocol"
	"github.com/watchnode/watchnode/web/views"
)

// handshakePeer connects to the node over loopback as a peer with user
// agent ua and services, completes the handshake, and then behaves: it
// answers pings (after pongDelay, as a slow peer would), answers
// getheaders with no headers (it has nothing new) and reads everything
// else. It keeps the connection until the test ends or the caller closes
// it.
func handshakePeer(t *testing.T, addr, ua string, services wire.ServiceFlag, pongDelay time.Duration) *rawPeer {
	t.Helper()
	r := dialRaw(t, addr)
	v := versionMsg(ua, uint64(time.Now().UnixNano()))
	v.Services = services
	r.send(v)
	r.send(wire.NewMsgVerAck())
	magic := protocol.Regtest.Magic()
	go func() {
		for {
			fr, err := protocol.ReadFrame(r.nc, magic)
			if err != nil {
				return
			}
			var reply wire.Message
			switch fr.Command {
			case wire.CmdPing:
				m, err := protocol.Decode(fr.Command, fr.Payload)
				if err != nil {
					return
				}
				time.Sleep(pongDelay)
				reply = wire.NewMsgPong(m.(*wire.MsgPing).Nonce)
			case wire.CmdGetHeaders:
				reply = wire.NewMsgHeaders()
			default:
				continue
			}
			b, _ := protocol.EncodeFrame(magic, reply)
			if _, err := r.nc.Write(b); err != nil {
				return
			}
		}
	}()
	return r
}

// longUserAgent is test peer i's user agent: 200-odd characters without a
// space, as long as a user agent gets (256 bytes at most).
func longUserAgent(i int) string {
	return fmt.Sprintf("/dashboard-test-peer-%02d:0.1.0(%s)/", i, strings.Repeat("averyveryverylongcomment", 9))
}

// allServices is every service bit, known and unknown.
const allServices = ^wire.ServiceFlag(0)

// TestDashboardPagesInBrowser drives the pages a new user meets first in
// headless Chromium, against a node synced to a real btcd with ten test
// peers handshaken over loopback (long user agents, every service bit): the
// peers table fits a 1280x800 window; numbers and their headers align; chain
// work reads as Core's log2_work, rendered and live alike; announcements
// are told apart from penalized unsolicited responses; the charts' axes; the
// login page's badge.
func TestDashboardPagesInBrowser(t *testing.T) {
	ctx, dialogs := browser(t)
	btcd := btcdtest.Start(t, btcdtest.Options{})
	btcd.Generate(t, 20)
	n := startNode(t, "-connect="+btcd.P2PAddr())
	n.waitFor(10*time.Second, "btcd connected and synced", func() bool {
		var st engine.Status
		n.get("/api/status", &st)
		return st.Height == 20
	})
	// Ten peers with the widest figures a peers table meets: long user
	// agents, every service bit, pings of up to seconds (as over Tor) and
	// close to a MiB received.
	const testPeers = 10
	peers := make([]*rawPeer, testPeers)
	for i := range peers {
		peers[i] = handshakePeer(t, n.p2p, longUserAgent(i), allServices, time.Duration(i)*250*time.Millisecond)
	}
	// One more that leaves, for a row in the disconnects table.
	leaver := handshakePeer(t, n.p2p, "/leaver:0.1/", wire.SFNodeNetwork, 0)
	filler := regtestFrame(t, "wnfiller", make([]byte, 40_000))
	for range 25 {
		peers[testPeers-1].write(filler) // 25 x 40,024 bytes: "977.3 KiB"
	}
	n.waitFor(20*time.Second, "the test peers' handshakes, pings and traffic", func() bool {
		count := 0
		for _, p := range n.peers() {
			if p.Established && p.PingMs > 0 && strings.HasPrefix(p.UserAgent, "/dashboard-test-peer-") {
				count++
			}
		}
		last, ok := n.established(longUserAgent(testPeers - 1))
		_, left := n.established("/leaver:")
		return count == testPeers && left && ok && last.BytesRecv > 1_000_000
	})
	leaver.nc.Close()
	n.waitFor(10*time.Second, "the leaver's disconnect", func() bool { return len(n.disconnects()) > 0 })
	base := "http://" + n.http
	peerID := func(ua string) string {
		p, ok := n.established(ua)
		if !ok {
			t.Fatalf("no established peer with user agent %q", ua)
		}
		return strconv.FormatUint(uint64(p.ID), 10)
	}

	t.Run("PeersTableFits1280", func(t *testing.T) { testPeersTableFits(t, ctx, base, testPeers+1) })
	t.Run("NumbersAlignWithHeaders", func(t *testing.T) {
		for _, path := range []string{"/peers", "/peers/" + peerID(longUserAgent(0)), "/chain", "/messages", "/network", "/bans"} {
			testNumbersAlign(t, ctx, base+path)
		}
	})
	t.Run("ChainWorkLog2", func(t *testing.T) { testChainWork(t, ctx, n, btcd, base) })
	t.Run("AnnouncementsApartFromUnsolicited", func(t *testing.T) {
		testAnnouncements(t, ctx, n, base, peers[0], peerID(longUserAgent(0)))
	})
	t.Run("ChartAxes", func(t *testing.T) { testChartAxes(t, ctx, n, base, peers[1]) })
	t.Run("LoginPageHasNoLiveBadge", func(t *testing.T) {
		var badge struct {
			Exists  bool
			Offline bool
		}
		browse(t, ctx, "login page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(`input[name="token"]`),
			chromedp.Evaluate(`({exists: document.querySelector("#conn-state") !== null, offline: /offline/i.test(document.querySelector("header").textContent)})`, &badge))
		if badge.Exists || badge.Offline {
			t.Errorf("the login page, which has no live connection, shows a live badge (%+v) while the node runs", badge)
		}
	})
	if d := dialogs.Load(); d != 0 {
		t.Errorf("%d JavaScript dialogs opened", d)
	}
}

// peersLayout is what the browser measures of the peers table.
type peersLayout struct {
	Viewport, PageWidth   int
	WrapClient, WrapWidth int
	Hidden                []string // columns whose header ends past the table's box
	Rows                  int
	TallRows              []string // rows taller than one line of text
	UserAgents            []struct {
		Title, Text, Overflow string
		Cut                   bool
	}
	Services []struct{ Text, Title string }
	Legend   string
}

const measurePeers = `(() => {
	const table = document.querySelector("#peers-table"), wrap = table.closest(".table-wrap"), doc = document.documentElement;
	const right = wrap.getBoundingClientRect().right;
	const line = parseFloat(getComputedStyle(table.querySelector("tbody td")).lineHeight);
	const rows = [...table.tBodies[0].rows];
	return {
		viewport: doc.clientWidth, pageWidth: doc.scrollWidth,
		wrapClient: wrap.clientWidth, wrapWidth: wrap.scrollWidth,
		hidden: [...table.querySelectorAll("thead th")].filter((th) => th.getBoundingClientRect().right > right + 0.5).map((th) => th.dataset.col),
		rows: rows.length,
		tallRows: rows.filter((tr) => tr.getBoundingClientRect().height > 1.9 * line).map((tr) => tr.dataset.peerId),
		userAgents: [...table.querySelectorAll('tbody td[data-col="user_agent"]')].map((td) => {
			const s = td.querySelector(".clip") || td;
			return {title: td.title, text: s.textContent, overflow: getComputedStyle(s).textOverflow, cut: s.scrollWidth > s.clientWidth};
		}),
		services: [...table.querySelectorAll('tbody td[data-col="service_names"]')].map((td) => ({text: td.textContent.trim(), title: td.title})),
		legend: (document.querySelector("#services-legend") || {}).textContent || "",
	};
})()`

// testPeersTableFits: at 1280x800 every column of the peers table is in
// view without a horizontal scrollbar; user agents are cut with an
// ellipsis, whole in their title; services are letters, named in the
// title and the legend.
func testPeersTableFits(t *testing.T, ctx context.Context, base string, wantRows int) {
	var m peersLayout
	browse(t, ctx, "peers page at 1280x800", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/peers"),
		chromedp.WaitVisible(`#conn-state[data-state="live"]`),
		chromedp.Poll(`document.querySelectorAll('#peers-table tbody tr').length === `+strconv.Itoa(wantRows), nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(measurePeers, &m))
	screenshot(t, ctx, "peers-1280")
	if m.Viewport != 1280 {
		t.Fatalf("viewport %d px wide, want 1280", m.Viewport)
	}
	if m.PageWidth > m.Viewport || m.WrapWidth > m.WrapClient || len(m.Hidden) > 0 {
		t.Errorf("the peers table overflows at 1280 px: page %d px in a %d px window, table %d px in a %d px box, columns out of view %q",
			m.PageWidth, m.Viewport, m.WrapWidth, m.WrapClient, m.Hidden)
	}
	if len(m.TallRows) > 0 {
		t.Errorf("rows of peers %q wrap onto more than one line", m.TallRows)
	}
	cut := 0
	for _, ua := range m.UserAgents {
		if ua.Title != ua.Text {
			t.Errorf("user agent cell shows %q with the title %q, want the whole text in both", ua.Text, ua.Title)
		}
		if strings.HasPrefix(ua.Text, "/dashboard-test-peer-") {
			if !ua.Cut || ua.Overflow != "ellipsis" {
				t.Errorf("a %d-character user agent is not cut with an ellipsis (cut %v, text-overflow %q)", len(ua.Text), ua.Cut, ua.Overflow)
			}
			cut++
		}
	}
	if cut != wantRows-1 {
		t.Errorf("%d long user agents in the table, want %d", cut, wantRows-1)
	}
	allNames := strings.Join(protocol.ServiceNames(allServices), ", ")
	every := 0
	for _, s := range m.Services {
		if s.Text == "NBWCLP?" {
			every++
			if s.Title != allNames {
				t.Errorf("services %q titled %q, want every name: %q", s.Text, s.Title, allNames)
			}
		}
	}
	if every != wantRows-1 {
		t.Errorf("services cells %+v: want %d peers with every bit shown as NBWCLP?", m.Services, wantRows-1)
	}
	for _, f := range views.ServiceFlags {
		if !strings.Contains(m.Legend, f.Letter+" "+f.Name) {
			t.Errorf("the services legend %q does not say %s is %s", m.Legend, f.Letter, f.Name)
		}
	}
}

// testNumbersAlign: in every table of the page, a right-aligned column of
// numbers has a right-aligned header, and no other column has one.
func testNumbersAlign(t *testing.T, ctx context.Context, url string) {
	var res struct {
		Numeric int
		Bad     []string
	}
	browse(t, ctx, url, chromedp.Navigate(url), chromedp.WaitVisible(`#conn-state[data-state="live"]`),
		chromedp.Sleep(300*time.Millisecond), // the first update re-renders the live tables
		chromedp.Evaluate(`(() => {
			const bad = new Set();
			let numeric = 0;
			for (const table of document.querySelectorAll("main table")) {
				const ths = [...table.querySelectorAll("thead th")];
				for (const tr of table.querySelectorAll("tbody tr")) {
					[...tr.cells].forEach((td, i) => {
						if (!ths[i] || td.colSpan > 1) return;
						const cell = getComputedStyle(td).textAlign === "right", head = getComputedStyle(ths[i]).textAlign === "right";
						if (cell) numeric++;
						if (cell !== head) bad.add("#" + table.id + " " + ths[i].textContent.trim() + ": cells " + (cell ? "right" : "left") + ", header " + (head ? "right" : "left"));
					});
				}
			}
			return {numeric, bad: [...bad]};
		})()`, &res))
	if res.Numeric == 0 {
		t.Errorf("%s: no right-aligned numbers in any table (nothing checked)", url)
	}
	for _, b := range res.Bad {
		t.Errorf("%s: %s", url, b)
	}
}

// workShown is a chain work element as the page shows it, and as the server
// rendered it (the page fetched again and parsed, without running it).
type workShown struct {
	Text, Title             string
	ServerText, ServerTitle string
}

func readWork(t *testing.T, ctx context.Context, path string) workShown {
	t.Helper()
	var w workShown
	browse(t, ctx, "chain work on "+path, chromedp.Evaluate(`(async () => {
		const sel = '[data-field="status.chain_work"]', live = document.querySelector(sel);
		const html = await (await fetch(`+strconv.Quote(path)+`)).text();
		const served = new DOMParser().parseFromString(html, "text/html").querySelector(sel);
		return {text: live.textContent, title: live.title, serverText: served.textContent, serverTitle: served.title};
	})()`, &w, awaitPromise))
	return w
}

// testChainWork: chain work reads as Bitcoin Core's log2_work, the hex in
// its title, the same whether the server rendered it or the page script
// updated it, on the overview and the chain page; the chain page's tables
// agree.
func testChainWork(t *testing.T, ctx context.Context, n *nodeProc, btcd *btcdtest.Node, base string) {
	log2 := regexp.MustCompile(`^\d+\.\d{6}$`)
	check := func(path string, height int) workShown {
		t.Helper()
		browse(t, ctx, path, chromedp.Navigate(base+path), chromedp.WaitVisible(`#conn-state[data-state="live"]`),
			chromedp.Poll(`document.querySelector('[data-field="status.height"]').textContent.trim() === "`+strconv.Itoa(height)+`"`, nil, chromedp.WithPollingTimeout(15*time.Second)))
		var st engine.Status
		n.get("/api/status", &st)
		w := readWork(t, ctx, path)
		want := views.Log2Work(st.ChainWork)
		if !log2.MatchString(w.Text) || w.Text != want || w.Title != st.ChainWork {
			t.Errorf("%s: chain work %q (title %q), want log2_work %q (title %q)", path, w.Text, w.Title, want, st.ChainWork)
		}
		if w.ServerText != w.Text || w.ServerTitle != w.Title {
			t.Errorf("%s: the server renders chain work %q (title %q), the live page %q (title %q)", path, w.ServerText, w.ServerTitle, w.Text, w.Title)
		}
		return w
	}
	before := check("/", 20)
	// The page open, the chain grows: the live update reformats it.
	btcd.Generate(t, 2)
	browse(t, ctx, "height 22 live", chromedp.Poll(`document.querySelector('[data-field="status.height"]').textContent.trim() === "22"`, nil, chromedp.WithPollingTimeout(15*time.Second)))
	var live workShown
	browse(t, ctx, "live chain work", chromedp.Evaluate(`(() => { const e = document.querySelector('[data-field="status.chain_work"]'); return {text: e.textContent, title: e.title}; })()`, &live))
	var st engine.Status
	n.get("/api/status", &st)
	if live.Text == before.Text || live.Text != views.Log2Work(st.ChainWork) || live.Title != st.ChainWork {
		t.Errorf("after two blocks the live chain work is %q (title %q), was %q: want %q (title %q)", live.Text, live.Title, before.Text, views.Log2Work(st.ChainWork), st.ChainWork)
	}
	after := check("/", 22)
	chain := check("/chain", 22)
	screenshot(t, ctx, "chain-work")
	if chain.Text != after.Text {
		t.Errorf("/chain shows chain work %q, the overview %q", chain.Text, after.Text)
	}
	var cells []struct{ Text, Title string }
	browse(t, ctx, "chain tables", chromedp.Evaluate(`[...document.querySelectorAll('#headers-table tbody tr:first-child td[data-col="chain_work"], #tips-table tr[data-status="active"] td[data-col="chain_work"]')].map((td) => ({text: td.textContent.trim(), title: td.title}))`, &cells))
	if len(cells) != 2 {
		t.Fatalf("chain work cells of the tip header and the active tip: %+v", cells)
	}
	for _, c := range cells {
		if c.Text != after.Text || c.Title != st.ChainWork {
			t.Errorf("/chain tables show the tip's work as %q (title %q), want %q (title %q)", c.Text, c.Title, after.Text, st.ChainWork)
		}
	}
}

// testAnnouncements: the peer page lists what a peer sent unasked in two
// lists that say which is which: announcements (allowed: addr gossip) and
// unsolicited responses (penalized: a pong for no ping), live.
func testAnnouncements(t *testing.T, ctx context.Context, n *nodeProc, base string, p *rawPeer, id string) {
	addr := wire.NewMsgAddr()
	addr.AddAddress(wire.NewNetAddressIPPort(net.IPv4(203, 0, 113, 7), 18444, wire.SFNodeNetwork))
	p.send(addr)
	p.send(wire.NewMsgPong(0x5eed))
	counts := func() (ann, unsol map[string]uint64) {
		for _, pi := range n.peers() {
			if strconv.FormatUint(uint64(pi.ID), 10) == id {
				return pi.Announcements, pi.Unsolicited
			}
		}
		t.Fatalf("peer %s is gone", id)
		return nil, nil
	}
	n.waitFor(10*time.Second, "the addr and the pong to be counted", func() bool {
		ann, unsol := counts()
		return ann["addr"] == 1 && unsol["pong"] == 1
	})
	type list struct {
		Heading string
		Items   []string
	}
	read := func() (ann, unsol list) {
		var l []list
		browse(t, ctx, "peer page lists", chromedp.Evaluate(`["#peer-announcements", "#peer-unsolicited"].map((id) => {
			const dl = document.querySelector(id);
			return {heading: dl ? dl.previousElementSibling.textContent.trim() : "", items: dl ? [...dl.children].map((e) => e.textContent.trim()) : []};
		})`, &l))
		return l[0], l[1]
	}
	browse(t, ctx, "peer page", chromedp.Navigate(base+"/peers/"+id), chromedp.WaitVisible(`#conn-state[data-state="live"]`))
	ann, unsol := read()
	screenshot(t, ctx, "peer-unasked")
	if ann.Heading != "Announcements (allowed)" || unsol.Heading != "Unsolicited responses (penalized)" {
		t.Errorf("headings %q and %q, want them to say which is allowed and which penalized", ann.Heading, unsol.Heading)
	}
	if !slices.Contains(ann.Items, "addr") || slices.Contains(ann.Items, "pong") {
		t.Errorf("announcements %q, want addr and not pong", ann.Items)
	}
	if !slices.Equal(unsol.Items, []string{"pong", "1"}) {
		t.Errorf("unsolicited responses %q, want [pong 1]", unsol.Items)
	}
	// A second unasked pong shows up live.
	p.send(wire.NewMsgPong(0x5eee))
	browse(t, ctx, "second pong live", chromedp.Poll(`(() => { const dl = document.querySelector("#peer-unsolicited"); return dl.textContent === "pong2"; })()`, nil, chromedp.WithPollingTimeout(10*time.Second)))
	if _, unsol := read(); !slices.Equal(unsol.Items, []string{"pong", "2"}) {
		t.Errorf("unsolicited responses after a second pong %q", unsol.Items)
	}
}

// chartAxes is what the browser reads of one chart through its uPlot
// instance: the x axis's ticks, each y axis's scale, data and ticks, the
// series' line styles, the legend's time.
type chartAxes struct {
	XSplits []float64
	XValues []string
	Legend  string
	Y       []struct {
		Scale    string
		Min, Max float64
		DataMax  *float64 // nil: no data
		Splits   []float64
		Values   []string
	}
	Series []struct {
		Label string
		Width float64
		Dash  []float64
	}
}

const readChart = `((id) => {
	const u = window.watchnode.chart(id);
	if (!u) throw new Error("no chart " + id);
	const y = u.axes.slice(1).map((a) => {
		const vals = u.series.flatMap((s, i) => (i > 0 && s.scale === a.scale && s.show ? u.data[i].filter((v) => v !== null && v !== undefined) : []));
		return {scale: a.scale, min: u.scales[a.scale].min, max: u.scales[a.scale].max, dataMax: vals.length ? Math.max(...vals) : null, splits: a._splits, values: a._values};
	});
	return {
		xSplits: u.axes[0]._splits, xValues: u.axes[0]._values,
		legend: u.root.querySelector(".u-legend .u-series:first-child .u-value").textContent,
		y, series: u.series.slice(1).map((s) => ({label: s.label, width: s.width, dash: s.dash || []})),
	};
})`

var byteTick = regexp.MustCompile(`^(\d+) (B|KiB|MiB|GiB)/s$`)

// testChartAxes: the network page's charts label time on the 24-hour UTC
// clock, one line per tick; y axes run from zero to a nice value above the
// data (bytes in steps of 1, 2, 5... times powers of 1024, in whole units);
// a series drawn over another lets it show.
func testChartAxes(t *testing.T, ctx context.Context, n *nodeProc, base string, p *rawPeer) {
	// Traffic to chart: commands the node does not know are read and
	// counted, never a reason to drop a peer.
	filler := regtestFrame(t, "wnfiller", make([]byte, 40_000))
	for range 3 {
		p.write(filler)
	}
	browse(t, ctx, "network page", chromedp.Navigate(base+"/network"), chromedp.WaitVisible(`#conn-state[data-state="live"]`),
		chromedp.Poll(`(() => { const u = window.watchnode.chart("chart-bytes"); return !!u && Math.max(...u.data[1]) > 100000 && u.data[0].length >= 3; })()`, nil, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.Sleep(1200*time.Millisecond)) // another sample, another draw
	screenshot(t, ctx, "network-axes")
	clock := regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$`)
	for _, id := range []string{"chart-bytes", "chart-headers", "chart-peers", "chart-msgs"} {
		var c chartAxes
		browse(t, ctx, id, chromedp.Evaluate(readChart+`("`+id+`")`, &c))
		if len(c.XValues) == 0 || len(c.XValues) != len(c.XSplits) {
			t.Errorf("%s: x ticks %q at %v", id, c.XValues, c.XSplits)
		}
		for i, v := range c.XValues {
			at := time.Unix(int64(c.XSplits[i]), 0).UTC().Format("15:04:05")
			if !clock.MatchString(v) || !strings.HasPrefix(at, v) {
				t.Errorf("%s: x tick %q at %s UTC, want the 24-hour UTC time on one line", id, v, at)
			}
		}
		if !regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$`).MatchString(c.Legend) {
			t.Errorf("%s: the legend's time %q is not 24-hour HH:MM:SS", id, c.Legend)
		}
		for _, y := range c.Y {
			checkYAxis(t, id, y.Scale, y.Min, y.Max, y.DataMax, y.Splits, y.Values, id == "chart-bytes")
		}
		for i := 1; i < len(c.Series); i++ {
			under, over := c.Series[i-1], c.Series[i]
			if !(over.Width < under.Width) || len(over.Dash) == 0 {
				t.Errorf("%s: %q (width %v, dash %v) is drawn over %q (width %v, dash %v): an equal series would hide the one under it",
					id, over.Label, over.Width, over.Dash, under.Label, under.Width, under.Dash)
			}
		}
	}
}

// checkYAxis checks one y axis: from 0 to the first multiple of its tick
// step above the data (1 with nothing above zero), the step 1, 2 or 5
// times a power of ten (of 1024 times 1 to 500 for bytes, the ticks then in
// whole units).
func checkYAxis(t *testing.T, chart, scale string, lo, hi float64, dataMax *float64, splits []float64, values []string, bytes bool) {
	t.Helper()
	what := chart + " scale " + scale
	if lo != 0 {
		t.Errorf("%s starts at %v, want 0", what, lo)
	}
	if len(splits) < 2 || splits[0] != 0 || splits[len(splits)-1] != hi || len(values) != len(splits) {
		t.Fatalf("%s: ticks %v (%q) on a scale to %v: want 0 to the top", what, splits, values, hi)
	}
	step := splits[1]
	for i, s := range splits {
		if math.Abs(s-float64(i)*step) > 1e-9*hi {
			t.Errorf("%s: ticks %v are not evenly spaced", what, splits)
			break
		}
	}
	if dataMax == nil || *dataMax <= 0 {
		if hi != 1 {
			t.Errorf("%s: nothing above zero, the scale runs to %v, want 1", what, hi)
		}
	} else {
		// The top: the first multiple of a nice step above the data.
		top, d := hi, *dataMax
		if !(top > d) || top-nice(top, bytes) > d+1e-9 {
			t.Errorf("%s: data up to %v on a scale to %v: want the first nice value above it", what, d, top)
		}
	}
	if bytes {
		unit := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
		if !niceBytes(step) {
			t.Errorf("%s: byte ticks every %v B, want 1, 2, 5, 10... 500 times a power of 1024", what, step)
		}
		for i, v := range values {
			m := byteTick.FindStringSubmatch(v)
			if m == nil {
				t.Errorf("%s: byte tick %q is not a whole number of B, KiB, MiB or GiB per second", what, v)
				continue
			}
			k, _ := strconv.ParseFloat(m[1], 64)
			if k*unit[m[2]] != splits[i] {
				t.Errorf("%s: tick at %v B shown as %q", what, splits[i], v)
			}
		}
	} else if !niceDecimal(step) {
		t.Errorf("%s: ticks every %v, want 1, 2 or 5 times a power of ten", what, step)
	}
}

// nice is the scale step a top implies: the largest nice step it is at
// most 5 of (Y_STEPS+1 in app.js).
func nice(top float64, bytes bool) float64 {
	best := 0.0
	for _, s := range niceSteps(bytes) {
		if r := top / s; r >= 1-1e-9 && r <= 5+1e-9 && math.Abs(r-math.Round(r)) < 1e-9 {
			best = s // ascending: the last that fits is the largest
		}
	}
	return best
}

func niceSteps(bytes bool) []float64 {
	var out []float64
	if bytes {
		for k := range 6 {
			for _, m := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500} {
				out = append(out, m*math.Pow(1024, float64(k)))
			}
		}
		return out
	}
	for e := -2; e <= 15; e++ {
		for _, m := range []float64{1, 2, 5} {
			out = append(out, m*math.Pow(10, float64(e)))
		}
	}
	return out
}

func niceBytes(step float64) bool {
	return slices.ContainsFunc(niceSteps(true), func(s float64) bool { return s == step })
}

func niceDecimal(step float64) bool {
	return slices.ContainsFunc(niceSteps(false), func(s float64) bool { return math.Abs(s-step) <= 1e-9*s })
}
