package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
)

// seqPair is a request's row of the peer page's sequence diagram and the
// row of its (last) answer, as shown.
type seqPair struct {
	Seq, State, Responses, Note, Href, Time string
	Answer                                  struct{ Seq, Command, Dir, Answers, Note, LinkHref string }
}

// findSeqPair polls the diagram for a request row of command we sent that
// is answered, by a row newer than after, and returns it with its answer.
func findSeqPair(t *testing.T, ctx context.Context, command string, after int) seqPair {
	t.Helper()
	var p seqPair
	browse(t, ctx, "an answered "+command+" in the diagram", chromedp.Poll(`(() => {
		const req = [...document.querySelectorAll('#peer-seq li.seq-row.dir-out[data-command="`+command+`"][data-state="answered"]')]
			.find((li) => Number(li.dataset.seq) > `+strconv.Itoa(after)+`);
		if (!req) return false;
		const last = req.dataset.responses.split(" ").pop();
		const ans = document.getElementById("seq-" + last);
		if (!ans) return false;
		const text = (li) => li.querySelector(".seq-note").textContent.trim();
		const link = ans.querySelector(".seq-link");
		return {seq: req.dataset.seq, state: req.dataset.state, responses: req.dataset.responses, note: text(req),
			href: req.querySelector("a.seq-msg").getAttribute("href"), time: req.querySelector(".seq-time").textContent.trim(),
			answer: {seq: ans.dataset.seq, command: ans.dataset.command, dir: ans.dataset.dir, answers: ans.dataset.answers || "",
				note: text(ans), linkHref: link ? link.getAttribute("href") : ""}};
	})()`, &p, chromedp.WithPollingTimeout(30*time.Second)))
	return p
}

// roundTripText is a round trip as the diagram writes it on a link.
var roundTripText = regexp.MustCompile(` · \d+\.\d ms$`)

// checkSeqPair checks that the request and its answer point at each other,
// with the round trip written on both links.
func checkSeqPair(t *testing.T, p seqPair, request, answer string) {
	t.Helper()
	if p.Answer.Command != answer || p.Answer.Dir != "in" || p.Answer.Answers != p.Seq || p.Answer.LinkHref != "#seq-"+p.Seq {
		t.Errorf("%s %s: its answer's row %+v, want a received %s pointing back to it", request, p.Seq, p.Answer, answer)
	}
	if !strings.HasPrefix(p.Answer.Note, "↩ "+request+" #"+p.Seq+" · ") || !roundTripText.MatchString(p.Answer.Note) {
		t.Errorf("%s's link %q, want ↩ %s #%s with the round trip", answer, p.Answer.Note, request, p.Seq)
	}
	if !strings.Contains(p.Note, "#"+p.Answer.Seq) || !roundTripText.MatchString(p.Note) {
		t.Errorf("%s %s's link %q, want → #%s with the round trip", request, p.Seq, p.Note, p.Answer.Seq)
	}
}

// TestPeerSequenceDiagramInBrowser: against a real btcd, the peer page's
// sequence diagram ties our ping to btcd's pong with the round trip (rows
// the server rendered), then, live, a getdata to the block btcd answers
// it with; a click on the ping opens it in the decoder.
func TestPeerSequenceDiagramInBrowser(t *testing.T) {
	ctx, dialogs := browser(t)
	btcd := btcdtest.Start(t, btcdtest.Options{})
	btcd.Generate(t, 3)
	n := startNode(t, "-connect="+btcd.P2PAddr())
	var pi engine.PeerInfo
	n.waitFor(20*time.Second, "btcd connected, synced, and our first ping answered", func() bool {
		var st engine.Status
		n.get("/api/status", &st)
		for _, p := range n.peers() {
			if p.Established && p.PingMs > 0 && st.Height == 3 {
				pi = p
				return true
			}
		}
		return false
	})
	id := strconv.FormatUint(uint64(pi.ID), 10)
	base := "http://" + n.http

	browse(t, ctx, "the peer page", chromedp.Navigate(base+"/peers/"+id),
		chromedp.WaitVisible(`#peer-seq li.seq-row`), chromedp.WaitVisible(`#conn-state[data-state="live"]`))
	var lanes string
	browse(t, ctx, "the lanes", chromedp.Evaluate(`document.querySelector("#peer-seq .seq-lanes").textContent.replace(/\s+/g, " ").trim()`, &lanes))
	if !strings.HasPrefix(lanes, "our node") || !strings.Contains(lanes, "peer "+id) {
		t.Errorf("lanes %q, want our node and peer %s", lanes, id)
	}

	ping := findSeqPair(t, ctx, "ping", 0)
	checkSeqPair(t, ping, "ping", "pong")

	// Live: a new block at btcd, which our node asks for and btcd sends.
	var newest int
	browse(t, ctx, "the newest row", chromedp.Evaluate(`Number(document.querySelector("#peer-seq li.seq-row:last-child").dataset.seq)`, &newest))
	btcd.Generate(t, 1)
	block := findSeqPair(t, ctx, "getdata", newest)
	checkSeqPair(t, block, "getdata", "block")
	var rows int
	browse(t, ctx, "rows after the block", chromedp.Evaluate(`document.querySelectorAll("#peer-seq li.seq-row").length`, &rows))
	if rows > 500 {
		t.Errorf("%d rows, over the diagram's bound of 500", rows)
	}
	screenshot(t, ctx, "peer-sequence")

	// A click on the ping opens it in the decoder, as the log's links do.
	if !strings.HasPrefix(ping.Href, "/decoder#seq="+ping.Seq+"&") || !strings.Contains(ping.Href, "&peer="+id) {
		t.Errorf("the ping's decoder link %q", ping.Href)
	}
	navigateBy(t, ctx, "click the ping", chromedp.Click(`#peer-seq li#seq-`+ping.Seq+` a.seq-msg`))
	waitDecoded(t, ctx, "the ping "+ping.Seq, 1)
	browse(t, ctx, "its detail", chromedp.WaitVisible(`#dec-header dd[data-key="peer"]`))
	var hash string
	browse(t, ctx, "the decoder's address", chromedp.Evaluate(`location.hash`, &hash))
	if !strings.HasPrefix(hash, "#seq="+ping.Seq+"&") {
		t.Errorf("the decoder opened %q, want the ping's #seq=%s", hash, ping.Seq)
	}
	box := headerBox(t, ctx)
	if box["dir"] != "→ sent" || box["peer"] != "peer "+id+" · "+pi.Addr || !strings.Contains(box["time"], ping.Time) ||
		!strings.HasPrefix(box["size"], "payload 8 B · frame 32 B") {
		t.Errorf("the decoder shows %v, want our ping %s to peer %s at %s (%s)", box, ping.Seq, id, pi.Addr, ping.Time)
	}
	if d := dialogs.Load(); d != 0 {
		t.Errorf("%d JavaScript dialogs opened", d)
	}
}
