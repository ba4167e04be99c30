package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/watchnode/watchnode/internal/browsertest"
	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
)

// browser starts headless Chromium driving one tab (see browsertest.Start).
func browser(t *testing.T) (ctx context.Context, dialogs *atomic.Int32) {
	t.Helper()
	return browsertest.Start(t)
}

type runtimeEvaluateParams = runtime.EvaluateParams

// screenshot saves the current page under testout/screenshots.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	dir := filepath.Join("..", "..", "testout", "screenshots")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Errorf("saving screenshot: %v", err)
	}
}

func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(tctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// navigateBy runs action, which makes the page navigate (a form submitted
// to the server, a followed link), and waits until the new page has
// loaded. Actions run straight after a navigating one would otherwise race
// with it and fail with chromedp's "Inspected target navigated or closed"
// or "Cannot find context with specified id" on a loaded machine.
func navigateBy(t *testing.T, ctx context.Context, what string, action chromedp.Action) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(tctx, action); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// hostilePeer connects to the node as a peer whose user agent is ua and
// completes the handshake; it keeps the connection until the test ends.
func hostilePeer(t *testing.T, addr, ua string) {
	t.Helper()
	handshakePeer(t, addr, ua, 0, 0)
}

// TestDashboardInBrowser drives the dashboard in headless Chromium against
// a node connected to a real btcd: live height, peers table, peer page,
// message log filter, operator controls with and without the token, a
// refused cross-origin WebSocket, and hostile user agents shown as text.
func TestDashboardInBrowser(t *testing.T) {
	ctx, dialogs := browser(t)
	btcd := btcdtest.Start(t, btcdtest.Options{})
	btcd.Generate(t, 20)
	n := startNode(t, "-connect="+btcd.P2PAddr())
	n.waitFor(10*time.Second, "btcd connected and synced", func() bool {
		var st engine.Status
		n.get("/api/status", &st)
		return st.Height == 20
	})
	base := "http://" + n.http

	// Overview: the height goes up live as btcd mines.
	var height string
	browse(t, ctx, "overview", chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`#conn-state[data-state="live"]`),
		chromedp.Text(`[data-field="status.height"]`, &height, chromedp.NodeVisible))
	if strings.TrimSpace(height) != "20" {
		t.Errorf("overview height %q, want 20", height)
	}
	screenshot(t, ctx, "overview")
	btcd.Generate(t, 2)
	browse(t, ctx, "height updates live", chromedp.Poll(`document.querySelector('[data-field="status.height"]').textContent.trim() === "22"`, nil, chromedp.WithPollingTimeout(15*time.Second)))

	// Peers: btcd is listed; hostile user agents are plain text.
	hostilePeer(t, n.p2p, `<script>alert(1)</script>`)
	hostilePeer(t, n.p2p, `"><img src=x onerror=alert(1)>`)
	n.waitFor(10*time.Second, "the hostile peers to connect", func() bool { return len(n.peers()) == 3 })
	var cells []string
	browse(t, ctx, "peers page", chromedp.Navigate(base+"/peers"),
		chromedp.WaitVisible(`#peers-table tbody tr`),
		chromedp.Poll(`document.querySelectorAll('#peers-table tbody tr').length === 3`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`[...document.querySelectorAll('#peers-table tbody td[data-col="user_agent"]')].map(td => td.textContent)`, &cells))
	joined := strings.Join(cells, "\n")
	for _, want := range []string{"btcd", `<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`} {
		if !strings.Contains(joined, want) {
			t.Errorf("peers table user agents %q lack %q", cells, want)
		}
	}
	var injected int
	browse(t, ctx, "no injected elements", chromedp.Evaluate(`document.querySelectorAll('img[src="x"], #peers-table script').length`, &injected))
	if injected != 0 {
		t.Errorf("%d elements injected by peer text", injected)
	}
	screenshot(t, ctx, "peers")

	// The hostile peer's own page shows its user agent as text too.
	for _, p := range n.peers() {
		if strings.HasPrefix(p.UserAgent, "<script>") {
			var shown string
			browse(t, ctx, "hostile peer page", chromedp.Navigate(base+"/peers/"+strconv.FormatUint(uint64(p.ID), 10)),
				chromedp.WaitVisible(`#conn-state[data-state="live"]`),
				chromedp.Text(`[data-field="peer.user_agent"]`, &shown))
			if shown != p.UserAgent {
				t.Errorf("hostile peer page shows %q, want the literal %q", shown, p.UserAgent)
			}
		}
	}

	// A peer page opens from its row.
	var btcdID string
	for _, p := range n.peers() {
		if strings.Contains(p.UserAgent, "btcd") {
			btcdID = strconv.FormatUint(uint64(p.ID), 10)
		}
	}
	var ua string
	browse(t, ctx, "peers page", chromedp.Navigate(base+"/peers"), chromedp.WaitVisible(`#peers-table tbody tr`))
	navigateBy(t, ctx, "follow the peer link", chromedp.Click(`#peers-table tr[data-peer-id="`+btcdID+`"] a`))
	browse(t, ctx, "peer page", chromedp.WaitVisible(`#peer[data-peer-id="`+btcdID+`"]`),
		chromedp.Text(`[data-field="peer.user_agent"]`, &ua))
	if !strings.Contains(ua, "btcd") {
		t.Errorf("peer page user agent %q", ua)
	}
	screenshot(t, ctx, "peer")

	// The message log filters by command.
	var cmds []string
	browse(t, ctx, "message log", chromedp.Navigate(base+"/messages"),
		chromedp.WaitVisible(`#conn-state[data-state="live"]`),
		chromedp.SetValue(`#msg-filter input[name="command"]`, "ping"),
		chromedp.Submit(`#msg-filter`),
		chromedp.Sleep(300*time.Millisecond))
	btcd.Generate(t, 1) // traffic
	browse(t, ctx, "filtered rows", chromedp.Poll(`document.querySelectorAll('#msg-log tbody tr').length > 0`, nil, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.Evaluate(`[...document.querySelectorAll('#msg-log tbody td[data-col="command"]')].map(td => td.textContent.trim())`, &cmds))
	for _, c := range cmds {
		if c != "ping" {
			t.Errorf("filtered log shows %q", c)
		}
	}
	screenshot(t, ctx, "messages")

	// The chain and network pages render (the charts need a few samples).
	browse(t, ctx, "chain page", chromedp.Navigate(base+"/chain"), chromedp.WaitVisible(`body[data-page="chain"]`))
	screenshot(t, ctx, "chain")
	browse(t, ctx, "network page", chromedp.Navigate(base+"/network"), chromedp.WaitVisible(`#chart-bytes`),
		chromedp.WaitVisible(`#conn-state[data-state="live"]`), chromedp.Sleep(2500*time.Millisecond))
	screenshot(t, ctx, "network")

	// Controls: refused without the token, done with it.
	browse(t, ctx, "disconnect without login", chromedp.Navigate(base+"/bans"),
		chromedp.WaitVisible(`#disconnects-table`))
	screenshot(t, ctx, "bans")
	var status int
	browse(t, ctx, "a control without the cookie", chromedp.Evaluate(`fetch("/ui/disconnect", {method: "POST", body: new URLSearchParams({id: "`+btcdID+`", csrf: "x"})}).then(r => r.status)`, &status, func(p *runtimeEvaluateParams) *runtimeEvaluateParams { return p.WithAwaitPromise(true) }))
	if status < 400 {
		t.Errorf("disconnect without login answered %d", status)
	}
	if len(n.peers()) != 3 {
		t.Fatalf("a peer was disconnected without the token")
	}
	browse(t, ctx, "login", chromedp.Navigate(base+"/login?next=/bans"),
		chromedp.WaitVisible(`input[name="token"]`),
		chromedp.SetValue(`input[name="token"]`, n.token()))
	navigateBy(t, ctx, "log in", chromedp.Submit(`input[name="token"]`))
	browse(t, ctx, "bans page after login", chromedp.WaitVisible(`#disconnects-table`),
		chromedp.SetValue(`form[action="/ui/disconnect"] input[name="id"]`, btcdID))
	navigateBy(t, ctx, "disconnect btcd", chromedp.Submit(`form[action="/ui/disconnect"] input[name="id"]`))
	browse(t, ctx, "bans page after the disconnect", chromedp.WaitVisible(`#disconnects-table`))
	n.waitFor(10*time.Second, "btcd to be disconnected by the control", func() bool {
		for _, d := range n.disconnects() {
			if d.Kind == engine.DropOperator {
				return true
			}
		}
		return false
	})

	// A WebSocket from another origin is refused.
	var opened bool
	browse(t, ctx, "cross-origin websocket", chromedp.Navigate("data:text/html,<p>elsewhere</p>"),
		chromedp.Evaluate(`new Promise(res => { const ws = new WebSocket("ws://`+n.http+`/ws"); ws.onopen = () => res(true); ws.onerror = () => res(false); })`, &opened, func(p *runtimeEvaluateParams) *runtimeEvaluateParams { return p.WithAwaitPromise(true) }))
	if opened {
		t.Errorf("a cross-origin WebSocket was accepted")
	}
	if d := dialogs.Load(); d != 0 {
		t.Errorf("%d JavaScript dialogs opened: injected script ran", d)
	}

	// The page shows it is disconnected while the node is down and
	// reconnects by itself when the node is back on the same address.
	browse(t, ctx, "overview again", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#conn-state[data-state="live"]`))
	n.stop()
	browse(t, ctx, "disconnected state", chromedp.Poll(`document.querySelector("#conn-state").dataset.state !== "live"`, nil, chromedp.WithPollingTimeout(10*time.Second)))
	startNodeIn(t, filepath.Dir(n.dataDir), "-http="+n.http, "-listen="+n.p2p)
	browse(t, ctx, "reconnected", chromedp.WaitVisible(`#conn-state[data-state="live"]`))
}
