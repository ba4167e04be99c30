package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/internal/pcaptest"
	"github.com/watchnode/watchnode/node/engine"
)

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// waitDecoded waits for the decoder page's open number `opens` to finish,
// and fails if it ended in an error.
func waitDecoded(t *testing.T, ctx context.Context, what string, opens int) {
	t.Helper()
	browse(t, ctx, what, chromedp.WaitVisible(`body[data-page="decoder"] #dec-status`), chromedp.Poll(`(() => {
		const s = document.querySelector("#dec-status");
		if (s.dataset.state === "error") throw new Error("decoder: " + s.textContent);
		return s.dataset.state === "done" && s.dataset.opens === "`+strconv.Itoa(opens)+`";
	})()`, nil, chromedp.WithPollingTimeout(20*time.Second)))
}

// decodedState reads the status line's figures.
func decodedState(t *testing.T, ctx context.Context) (format string, messages, errs int) {
	t.Helper()
	var st map[string]string
	browse(t, ctx, "status", chromedp.Evaluate(`({...document.querySelector("#dec-status").dataset})`, &st))
	messages, _ = strconv.Atoi(st["messages"])
	errs, _ = strconv.Atoi(st["errors"])
	return st["format"], messages, errs
}

// selectRowAndField selects the first row of command, opens its field
// tree, clicks the field at path and checks its bytes light up in the hex
// view; then clicks a byte and checks the field holding it is selected.
func selectRowAndField(t *testing.T, ctx context.Context, command, path string) {
	t.Helper()
	var index int
	browse(t, ctx, "find a "+command+" row", chromedp.Evaluate(`(() => {
		const row = [...document.querySelectorAll("#dec-list .dec-row:not([hidden])")].find(r => r.querySelector(".c-cmd").textContent === "`+command+`");
		if (!row) throw new Error("no `+command+` row in view");
		row.click();
		return Number(row.dataset.index);
	})()`, &index))
	browse(t, ctx, "field tree of "+command,
		chromedp.WaitVisible(`#dec-list .dec-row[data-index="`+strconv.Itoa(index)+`"][aria-selected="true"]`),
		chromedp.WaitVisible(`#dec-tree li.field[data-path="`+path+`"] > .frow`),
		chromedp.Click(`#dec-tree li.field[data-path="`+path+`"] > .frow`))
	var hl struct {
		Offset, Length, Lit int
	}
	browse(t, ctx, "hex highlight of "+command, chromedp.Poll(`(() => {
		const f = document.querySelector('#dec-tree li.field[data-path="`+path+`"]');
		if (!f.classList.contains("selected")) return false;
		const lit = document.querySelectorAll("#dec-hexview span.byte.hl").length;
		return lit > 0 && {offset: Number(f.dataset.offset), length: Number(f.dataset.length), lit};
	})()`, &hl, chromedp.WithPollingTimeout(5*time.Second)))
	if hl.Lit != min(hl.Length, hl.Lit) || hl.Lit == 0 {
		t.Errorf("%s field %s: %d bytes lit for a %d-byte field", command, path, hl.Lit, hl.Length)
	}
	var first int
	browse(t, ctx, "first lit byte", chromedp.Evaluate(`Number(document.querySelector("#dec-hexview span.byte.hl").dataset.offset)`, &first))
	if first != hl.Offset {
		t.Errorf("%s field %s at offset %d, but the first lit byte is %d", command, path, hl.Offset, first)
	}
	// And back: a byte of the payload's first field selects that field.
	var selected string
	browse(t, ctx, "click a byte",
		chromedp.Click(`#dec-hexview span.byte[data-offset="0"]`),
		chromedp.Poll(`(() => { const s = document.querySelector("#dec-tree li.field.selected"); return s && s.dataset.offset === "0" && s.dataset.path; })()`,
			&selected, chromedp.WithPollingTimeout(5*time.Second)))
	if selected == "" {
		t.Errorf("%s: clicking byte 0 selected no field", command)
	}
}

// TestDecoderPageInBrowser drives the decoder page in headless Chromium on
// real traffic between the node and btcd: capture switched on from the
// dashboard, the node's own capture opened from the dashboard's list, a
// pcap taken by a proxy between them and the Core capture files picked as
// files, and a message of the log opened from the messages page. Each time
// the list appears, a field lights up its bytes and a byte selects its field.
func TestDecoderPageInBrowser(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{})
	btcd.Generate(t, 3)
	proxy := startRecordingProxy(t, btcd.P2PAddr(), pcaptest.PCAP)
	// v1 only: the plaintext decoder is what this test reads (the first
	// v2 attempt at v1-only btcd would add an encrypted connection).
	n := startNode(t, "-v2transport=0")
	ctx, dialogs := browser(t)
	base := "http://" + n.http

	browse(t, ctx, "login", chromedp.Navigate(base+"/login?next=/bans"),
		chromedp.WaitVisible(`input[name="token"]`),
		chromedp.SetValue(`input[name="token"]`, n.token()))
	navigateBy(t, ctx, "log in", chromedp.Submit(`input[name="token"]`))
	browse(t, ctx, "bans page after login", chromedp.WaitVisible(`#captures`))
	navigateBy(t, ctx, "switch capture on", chromedp.Click(`#capture-toggle`))
	browse(t, ctx, "capture switched on", chromedp.WaitVisible(`#capture-state[data-enabled="true"]`))
	if status, body := n.call("POST", "/api/peers", n.token(), map[string]string{"addr": proxy.addr()}); status != 200 && status != 202 {
		t.Fatalf("connecting to the proxy: %d %s", status, body)
	}
	n.waitFor(15*time.Second, "sync through the proxy and a measured ping", func() bool {
		p, ok := n.established("btcd")
		var st engine.Status
		n.get("/api/status", &st)
		return ok && p.PingMs > 0 && st.Height == 3
	})

	// The node's own capture, from the dashboard's list.
	conn := engine.CaptureFolderName(proxy.addr())
	browse(t, ctx, "open the capture from the list", chromedp.Navigate(base+"/bans"),
		chromedp.WaitVisible(`#captures-table tr[data-connection="`+conn+`"] a`),
		chromedp.Click(`#captures-table tr[data-connection="`+conn+`"] a`))
	waitDecoded(t, ctx, "the node's capture", 1)
	if format, msgs, errs := decodedState(t, ctx); format != "core" || msgs < 8 || errs != 0 {
		t.Errorf("node capture: format %q, %d messages, %d errors", format, msgs, errs)
	}
	selectRowAndField(t, ctx, "version", "0")
	screenshot(t, ctx, "decoder")

	// A pcap of the same traffic, picked as a file.
	dir := t.TempDir()
	pcapFile := filepath.Join(dir, "traffic.pcap")
	if err := os.WriteFile(pcapFile, proxy.pcap.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	browse(t, ctx, "pick the pcap", chromedp.SetUploadFiles(`#dec-file`, []string{pcapFile}))
	waitDecoded(t, ctx, "the pcap", 2)
	if format, msgs, errs := decodedState(t, ctx); format != "pcap" || msgs < 8 || errs != 0 {
		t.Errorf("pcap: format %q, %d messages, %d errors", format, msgs, errs)
	}
	selectRowAndField(t, ctx, "headers", "0")

	// Core's two capture files, picked together: merged in time order.
	capDir := filepath.Join(n.dataDir, "message_capture", conn)
	browse(t, ctx, "pick the Core capture files", chromedp.SetUploadFiles(`#dec-file`,
		[]string{filepath.Join(capDir, "msgs_recv.dat"), filepath.Join(capDir, "msgs_sent.dat")}))
	waitDecoded(t, ctx, "the Core capture files", 3)
	if format, msgs, errs := decodedState(t, ctx); format != "core" || msgs < 8 || errs != 0 {
		t.Errorf("Core capture files: format %q, %d messages, %d errors", format, msgs, errs)
	}

	// A file dropped on the page, as a person drags one in.
	browse(t, ctx, "drop a capture file", chromedp.Evaluate(`(async () => {
		const bytes = await (await fetch("/api/captures/`+conn+`/msgs_recv.dat")).arrayBuffer();
		const dt = new DataTransfer();
		dt.items.add(new File([bytes], "msgs_recv.dat"));
		document.querySelector("#dec-drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
	})()`, nil, awaitPromise))
	waitDecoded(t, ctx, "the dropped file", 4)
	if format, msgs, errs := decodedState(t, ctx); format != "core" || msgs < 4 || errs != 0 {
		t.Errorf("dropped file: format %q, %d messages, %d errors", format, msgs, errs)
	}
	selectRowAndField(t, ctx, "version", "0")

	// A logged message, from the messages page.
	browse(t, ctx, "open a logged message", chromedp.Navigate(base+"/messages"),
		chromedp.WaitVisible(`#msg-log tbody tr a[href^="/decoder#seq="]`),
		chromedp.Click(`#msg-log tbody tr a[href^="/decoder#seq="]`))
	waitDecoded(t, ctx, "a logged message", 1)
	if format, msgs, errs := decodedState(t, ctx); format != "frames" || msgs != 1 || errs != 0 {
		t.Errorf("logged message: format %q, %d messages, %d errors", format, msgs, errs)
	}
	// A message whose bytes the node no longer keeps: the page says so.
	browse(t, ctx, "open a forgotten message", chromedp.Navigate(base+"/decoder#seq=99999999"),
		chromedp.Poll(`(() => {
			const s = document.querySelector("#dec-status");
			return s.dataset.state === "error" && s.textContent.includes("no longer kept");
		})()`, nil, chromedp.WithPollingTimeout(10*time.Second)))
	if d := dialogs.Load(); d != 0 {
		t.Errorf("%d dialogs opened", d)
	}
}
