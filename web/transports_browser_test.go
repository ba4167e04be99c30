package web

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/watchnode/watchnode/internal/browsertest"
	"github.com/watchnode/watchnode/node/engine"
)

// TestTransportsLiveInBrowser follows the transports live in Chromium,
// against the fake engine (the real one does not split by transport yet):
// the network page's v2 share and bytes by transport appear once the
// engine reports them and change with it; a peer whose v2 handshake ends
// gets its session id on its page and a v2 badge in the peers table,
// without a reload. The goquery tests check the pages as served; this
// checks app.js's live path, which only a browser runs.
func TestTransportsLiveInBrowser(t *testing.T) {
	ctx, dialogs := browsertest.Start(t)
	e := newPagesEngine()
	e.snap.Status.Transports = nil // not split yet: the pages show "—"
	s := New(e, "secret", nil)
	srv := httptest.NewServer(s)
	defer srv.Close()
	startHub(t, s)

	// text waits for sel's text to become want, failing after a while.
	text := func(what, sel, want string) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var got string
		js := `(() => { const e = document.querySelector(` + jsString(sel) + `); return e ? e.textContent.trim() : "(missing)"; })()`
		for {
			if err := chromedp.Run(tctx, chromedp.Evaluate(js, &got)); err != nil {
				t.Fatalf("%s: %s is %q, want %q (%v)", what, sel, got, want, err)
			}
			if got == want {
				return
			}
			select {
			case <-tctx.Done():
				t.Fatalf("%s: %s is %q, want %q", what, sel, got, want)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	live := func(path string) {
		t.Helper()
		if err := chromedp.Run(ctx, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(`#conn-state[data-state="live"]`)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}

	live("/network")
	share := `[data-field="status.transports"]`
	text("not split", share, "—")
	text("not split", `[data-field="status.transports.v2.bytes_recv"]`, "—")
	snap := *e.Snapshot()
	snap.Status.Transports = map[string]engine.TransportTraffic{"v1": {Peers: 5, BytesSent: 1 << 20}, "v2": {Peers: 3, BytesRecv: 1536}}
	e.setSnapshot(snap)
	text("split", share, "v2: 3 of 8 peers (37.5%)")
	text("split", `[data-field="status.transports.v2.bytes_recv"]`, "1.5 KiB")
	text("split", `[data-field="status.transports.v1.bytes_sent"]`, "1.0 MiB")
	snap.Status.Transports = map[string]engine.TransportTraffic{"v1": {Peers: 5, BytesSent: 1 << 20}, "v2": {Peers: 5, BytesRecv: 1536}}
	e.setSnapshot(snap)
	text("a v2 peer more", share, "v2: 5 of 10 peers (50.0%)")
	text("a v2 peer more", `[data-field="status.transports.v2.peers"]`, "5")

	// Peer 9 is still in its v2 handshake, then settles on v2.
	live("/peers/9")
	text("handshaking", `[data-field="peer.transport"]`, "handshaking")
	text("handshaking", `[data-field="peer.session_id"]`, "—")
	// A new snapshot shares nothing with the one published (snapshots are
	// immutable once the hub may read them).
	snap.Peers = slices.Clone(snap.Peers)
	snap.Peers[2].Transport, snap.Peers[2].SessionID = "v2", testSessionID
	e.setSnapshot(snap)
	text("v2", `[data-field="peer.transport"]`, "v2")
	text("v2", `[data-field="peer.session_id"]`, testSessionID)

	live("/peers")
	cell := `#peers-table tr[data-peer-id="9"] td[data-col="transport"]`
	text("peers table", cell+" span.badge", "v2")
	var class, title string
	if err := chromedp.Run(ctx, chromedp.AttributeValue(cell, "class", &class, nil), chromedp.AttributeValue(cell, "title", &title, nil)); err != nil {
		t.Fatal(err)
	}
	if class != "transport-v2" || title != "v2: BIP324, encrypted" {
		t.Errorf("peer 9's live transport cell: class %q, title %q", class, title)
	}
	snap.Peers = slices.Clone(snap.Peers)
	snap.Peers[2].Transport, snap.Peers[2].SessionID = "", ""
	e.setSnapshot(snap)
	text("peers table", cell, "handshaking")
	text("peers table", `#peers-table tr[data-peer-id="3"] td[data-col="transport"]`, "v1")
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d dialogs opened", n)
	}
}

// jsString quotes s as a JavaScript string literal (s is the test's own
// selector, never feed text).
func jsString(s string) string {
	b := []byte{'"'}
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}
