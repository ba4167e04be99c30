package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/watchnode/watchnode/node/engine"
)

// addedNodes reads GET /api/addednodes.
func (n *nodeProc) addedNodes() []engine.AddedNode {
	var l []engine.AddedNode
	n.get("/api/addednodes", &l)
	return l
}

func findAdded(l []engine.AddedNode, addr string) (engine.AddedNode, bool) {
	for _, a := range l {
		if a.Addr == addr {
			return a, true
		}
	}
	return engine.AddedNode{}, false
}

// A peer that cannot be reached (-connect to a port nobody listens on, or
// the Connect control) is shown with its state, last error and next
// attempt, in the API and on the overview; each failed attempt is logged
// at WARN; the operator can remove it and it is not dialled again.
func TestUnreachableAddedNodes(t *testing.T) {
	dead := freePort(t) // closed again: nothing listens there
	n := startNode(t, "-connect="+dead)
	n.waitFor(15*time.Second, "the unreachable -connect peer to be shown with its error", func() bool {
		a, ok := findAdded(n.addedNodes(), dead)
		return ok && a.Source == "connect" && a.State == "waiting" && a.Attempts >= 1 && strings.Contains(a.LastError, "refused")
	})
	n.waitFor(10*time.Second, "a WARN log line for the failed dial", func() bool {
		for _, line := range strings.Split(n.log.String(), "\n") {
			if strings.Contains(line, `level=WARN msg="added node unreachable"`) && strings.Contains(line, "addr="+dead) {
				return true
			}
		}
		return false
	})

	// The Connect control's target joins the list; the API removes it.
	other := freePort(t)
	if code, body := n.call("POST", "/api/peers", n.token(), map[string]string{"addr": other}); code != http.StatusAccepted {
		t.Fatalf("POST /api/peers: %d %s", code, body)
	}
	n.waitFor(15*time.Second, "the Connect control's unreachable peer to be shown", func() bool {
		a, ok := findAdded(n.addedNodes(), other)
		return ok && a.Source == "operator" && a.LastError != ""
	})
	if code, body := n.call("DELETE", "/api/addednodes/"+url.PathEscape(other), "", nil); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("DELETE without the token: %d %s", code, body)
	}
	if code, body := n.call("DELETE", "/api/addednodes/"+url.PathEscape(other), n.token(), nil); code != http.StatusOK {
		t.Fatalf("DELETE /api/addednodes: %d %s", code, body)
	}
	if _, ok := findAdded(n.addedNodes(), other); ok {
		t.Fatal("removed node still listed")
	}
	if code, _ := n.call("DELETE", "/api/addednodes/"+url.PathEscape(other), n.token(), nil); code != http.StatusNotFound {
		t.Errorf("removing it twice: %d, want 404", code)
	}
	// Not dialled again: the log has no new attempt at it.
	before := strings.Count(n.log.String(), "addr="+other)
	time.Sleep(3 * time.Second) // longer than the first backoff steps
	if after := strings.Count(n.log.String(), "addr="+other); after != before {
		t.Errorf("a removed added node was dialled again (%d log lines about it, then %d)", before, after)
	}

	// The overview shows the list and what to do without peers; a
	// logged-in operator removes the -connect peer with its button.
	ctx, _ := browser(t)
	base := n.url("")
	var hint, row string
	browse(t, ctx, "overview", chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`#conn-state[data-state="live"]`),
		chromedp.WaitVisible(`#added-nodes tr[data-addr="`+dead+`"]`),
		chromedp.Text(`#no-peers-hint`, &hint),
		chromedp.Text(`#added-nodes tr[data-addr="`+dead+`"]`, &row))
	for _, want := range []string{"-connect", "-addnode", "Connect control", "DNS"} {
		if !strings.Contains(hint, want) {
			t.Errorf("no-peers hint %q does not mention %s", hint, want)
		}
	}
	for _, want := range []string{"-connect", "unreachable", "refused"} {
		if !strings.Contains(row, want) {
			t.Errorf("added node row %q lacks %q", row, want)
		}
	}
	// The next attempt is "in 2s (time)", or "now" at the moment it is due.
	var next string
	browse(t, ctx, "next attempt", chromedp.Text(`#added-nodes tr[data-addr="`+dead+`"] td[data-col="next_attempt"]`, &next))
	if next != "now" && !(strings.HasPrefix(next, "in ") && strings.HasSuffix(next, "UTC)")) {
		t.Errorf("next attempt = %q", next)
	}
	var target string
	browse(t, ctx, "target height note", chromedp.Text(`[data-field="status.sync.target_source"]`, &target))
	// On regtest nothing estimates a target: it is our tip, and the page
	// says so (netsync's tests cover the clock's estimate on mainnet).
	if target != "(our tip)" {
		t.Errorf("target height note = %q, want (our tip)", target)
	}
	screenshot(t, ctx, "overview-added-nodes")

	browse(t, ctx, "login", chromedp.Navigate(base+"/login?next=/"),
		chromedp.WaitVisible(`input[name="token"]`),
		chromedp.SetValue(`input[name="token"]`, n.token()))
	navigateBy(t, ctx, "log in", chromedp.Submit(`input[name="token"]`))
	browse(t, ctx, "overview after login", chromedp.WaitVisible(`#added-nodes tr[data-addr="`+dead+`"] button`))
	navigateBy(t, ctx, "remove", chromedp.Click(`#added-nodes tr[data-addr="`+dead+`"] button`))
	browse(t, ctx, "overview after the removal", chromedp.WaitVisible(`#added-nodes`),
		chromedp.Poll(`!document.querySelector('#added-nodes tr[data-addr="`+dead+`"]')`, nil, chromedp.WithPollingTimeout(10*time.Second)))
	if _, ok := findAdded(n.addedNodes(), dead); ok {
		t.Error("the Remove button left the node in the list")
	}
}
