package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/watchnode/watchnode/node/engine"
)

// logRow is a row of the messages page as shown.
type logRow struct {
	Seq                                    string
	Time, Peer, Addr, Dir, Size, SizeTitle string
	Href                                   string
	Command                                string
}

// findLogRow returns the first row of the messages page whose command is
// command and whose direction is dir, of peer (any if 0), waiting for one.
func findLogRow(t *testing.T, ctx context.Context, command, dir string, peer engine.PeerID) logRow {
	t.Helper()
	var r logRow
	browse(t, ctx, "a "+dir+" "+command+" row", chromedp.Poll(`(() => {
		const tr = [...document.querySelectorAll("#msg-log tbody tr[data-seq]")].find(tr =>
			tr.querySelector('td[data-col="command"]').textContent.trim() === "`+command+`" &&
			tr.querySelector('td[data-col="dir"]').textContent.trim() === "`+dir+`" &&
			(`+strconv.FormatUint(uint64(peer), 10)+` === 0 || tr.querySelector('td[data-col="peer"]').textContent.trim() === "`+strconv.FormatUint(uint64(peer), 10)+`"));
		if (!tr) return false;
		const td = (c) => tr.querySelector('td[data-col="' + c + '"]');
		return {Seq: tr.dataset.seq, Time: td("time").textContent.trim(), Peer: td("peer").textContent.trim(),
			Addr: td("peer").querySelector("a").title, Dir: td("dir").textContent.trim(), Size: td("size").textContent.trim(),
			SizeTitle: td("size").title, Href: td("command").querySelector("a").getAttribute("href"), Command: td("command").textContent.trim()};
	})()`, &r, chromedp.WithPollingTimeout(15*time.Second)))
	return r
}

// openedWithContext clicks row's command on the messages page and checks
// the decoder shows the message with the time, direction, peer and address
// the row had, and its payload and frame sizes.
func openedWithContext(t *testing.T, ctx context.Context, row logRow, wantDir string) {
	t.Helper()
	browse(t, ctx, "open "+row.Command+" "+row.Seq+" in the decoder",
		chromedp.Click(`#msg-log tbody tr[data-seq="`+row.Seq+`"] td[data-col="command"] a`))
	waitDecoded(t, ctx, "message "+row.Seq, 1)
	browse(t, ctx, "its detail", chromedp.WaitVisible(`#dec-header dd[data-key="peer"]`))
	checkContext(t, ctx, row, wantDir)
}

func checkContext(t *testing.T, ctx context.Context, row logRow, wantDir string) {
	t.Helper()
	box := headerBox(t, ctx)
	if !strings.Contains(box["time"], row.Time) || !strings.HasSuffix(box["time"], "UTC") {
		t.Errorf("%s %s: time %q, the log said %s UTC", row.Command, row.Seq, box["time"], row.Time)
	}
	if box["dir"] != wantDir {
		t.Errorf("%s %s: direction %q, want %q", row.Command, row.Seq, box["dir"], wantDir)
	}
	if box["peer"] != "peer "+row.Peer+" · "+row.Addr {
		t.Errorf("%s %s: peer %q, the log said %s at %s", row.Command, row.Seq, box["peer"], row.Peer, row.Addr)
	}
	size, _ := strconv.Atoi(strings.ReplaceAll(row.Size, ",", ""))
	if want := fmt.Sprintf("payload %d B · frame %s B", size-24, row.Size); !strings.HasPrefix(box["size"], want) {
		t.Errorf("%s %s: size %q, want %q...", row.Command, row.Seq, box["size"], want)
	}
	if strings.Contains(box["source"], "Entry #0") || strings.Contains(box["source"], "at byte 0") {
		t.Errorf("%s %s: source %q", row.Command, row.Seq, box["source"])
	}
	var peerHref string
	browse(t, ctx, "peer link", chromedp.Evaluate(`document.querySelector('#dec-header dd[data-key="peer"] a').getAttribute("href")`, &peerHref))
	if peerHref != "/peers/"+row.Peer {
		t.Errorf("peer link %q", peerHref)
	}
}

// TestMessagesOpenInTheDecoderWithTheirContext opens messages of the
// node's log from the messages page, as rendered by the server and as
// added live, and by a bare #seq link: the decoder shows each with the
// time, direction, peer and address the log had; the log's sizes are
// labelled as frames, the decoder's as payload and frame.
func TestMessagesOpenInTheDecoderWithTheirContext(t *testing.T) {
	n := startNode(t)
	hostilePeer(t, n.p2p, "/context-test:1.0/")
	n.waitFor(10*time.Second, "the peer's handshake", func() bool { _, ok := n.established("context-test"); return ok })
	ctx, dialogs := browser(t)
	base := "http://" + n.http

	browse(t, ctx, "messages page", chromedp.Navigate(base+"/messages"), chromedp.WaitVisible(`#msg-log tbody tr[data-seq]`))
	var th struct{ Text, Title string }
	browse(t, ctx, "size column", chromedp.Evaluate(`(() => { const h = document.querySelector('#msg-log th[data-col="size"]'); return {Text: h.textContent.trim(), Title: h.title}; })()`, &th))
	if th.Text != "Frame (B)" || !strings.Contains(th.Title, "24-byte header + payload") {
		t.Errorf("size column %+v", th)
	}

	// A row the server rendered: the version the peer sent.
	rendered := findLogRow(t, ctx, "version", "in", 0)
	if !strings.Contains(rendered.SizeTitle, "24-byte header + payload") {
		t.Errorf("server-rendered size cell title %q", rendered.SizeTitle)
	}
	openedWithContext(t, ctx, rendered, "← recv")
	screenshot(t, ctx, "decoder-logged-message")

	// A row added live: the version of a peer that connects once the page
	// is open.
	browse(t, ctx, "messages page again", chromedp.Navigate(base+"/messages"),
		chromedp.WaitVisible(`#conn-state[data-state="live"]`), chromedp.WaitVisible(`#msg-log tbody tr[data-seq]`))
	var newest int
	browse(t, ctx, "newest row", chromedp.Evaluate(`Number(document.querySelector("#msg-log tbody tr[data-seq]").dataset.seq)`, &newest))
	hostilePeer(t, n.p2p, "/context-live:1.0/")
	var second engine.PeerInfo
	n.waitFor(10*time.Second, "the second peer's handshake", func() bool { var ok bool; second, ok = n.established("context-live"); return ok })
	live := findLogRow(t, ctx, "version", "in", second.ID)
	if seq, err := strconv.Atoi(live.Seq); err != nil || seq <= newest {
		t.Fatalf("the second peer's version is row %s, not newer than the page's newest %d", live.Seq, newest)
	}
	if !strings.Contains(live.SizeTitle, "24-byte header + payload") || !strings.Contains(live.Href, "&peer="+live.Peer) {
		t.Errorf("live row %+v", live)
	}
	openedWithContext(t, ctx, live, "← recv")

	// A bare #seq link (the peer page's): the decoder asks the log.
	browse(t, ctx, "messages page", chromedp.Navigate(base+"/messages"), chromedp.WaitVisible(`#msg-log tbody tr[data-seq]`))
	sent := findLogRow(t, ctx, "verack", "out", 0)
	browse(t, ctx, "a bare #seq link", chromedp.Navigate(base+"/decoder#seq="+sent.Seq))
	waitDecoded(t, ctx, "message "+sent.Seq, 1)
	browse(t, ctx, "its detail", chromedp.WaitVisible(`#dec-header dd[data-key="peer"]`))
	checkContext(t, ctx, sent, "→ sent")

	if d := dialogs.Load(); d != 0 {
		t.Errorf("%d dialogs opened", d)
	}
}
