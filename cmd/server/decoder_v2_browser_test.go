package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/watchnode/watchnode/internal/pcaptest"
)

// TestDecoderPageDecryptsBIP324InBrowser picks a synthetic BIP324 capture
// on the decoder page, alone and then with its key log: alone, the page
// says the streams are encrypted and what decrypts them; with the key log
// it lists the decrypted messages in order, and a message's tree opens
// with its packet's fields.
func TestDecoderPageDecryptsBIP324InBrowser(t *testing.T) {
	conn, capture, err := pcaptest.V2SampleCapture(pcaptest.PCAPNG)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pcapFile, keyFile := filepath.Join(dir, "v2.pcapng"), filepath.Join(dir, "v2keys.log")
	if err := os.WriteFile(pcapFile, capture, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte("# -v2keylog\n"+conn.KeyLog.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t)
	ctx, dialogs := browser(t)
	browse(t, ctx, "decoder page", chromedp.Navigate("http://"+n.http+"/decoder"),
		chromedp.WaitVisible(`#dec-status[data-state="ready"]`))
	var help string
	browse(t, ctx, "help text", chromedp.Text(`#dec-v2-help`, &help))
	if !strings.Contains(help, "-v2keylog") || !strings.Contains(help, "keep it private") {
		t.Errorf("the page's help says %q", help)
	}

	browse(t, ctx, "pick the capture alone", chromedp.SetUploadFiles(`#dec-file`, []string{pcapFile}))
	waitDecoded(t, ctx, "the capture without keys", 1)
	st := readStatus(t, ctx)
	if st.Result != "nothing" || st.Messages != 0 || st.Errors != 0 || !strings.Contains(st.Text, "BIP324 encrypted stream") || !strings.Contains(st.Text, "-v2keylog") {
		t.Errorf("without the key log: %+v", st)
	}

	browse(t, ctx, "pick the capture and its key log", chromedp.SetUploadFiles(`#dec-file`, []string{pcapFile, keyFile}))
	waitDecoded(t, ctx, "the capture with its key log", 2)
	st = readStatus(t, ctx)
	if st.Result != "ok" || st.Messages != 8 || st.Errors != 0 {
		t.Errorf("with the key log: %+v", st)
	}
	var rows []string
	browse(t, ctx, "the list", chromedp.Evaluate(`[...document.querySelectorAll("#dec-list .dec-row:not([hidden])")]
		.sort((a, b) => a.dataset.index - b.dataset.index)
		.filter(r => r.dataset.kind === "message")
		.map(r => r.dataset.dir + " " + r.querySelector(".c-cmd").textContent + " " + r.querySelector(".c-sum").textContent)`, &rows))
	want := []string{"to-server version tag ✓", "to-client version tag ✓", "to-server verack tag ✓", "to-client verack tag ✓",
		"to-server ping tag ✓", "to-client pong tag ✓", "to-server headers tag ✓", "to-client headers tag ✓"}
	if !slices.Equal(rows, want) {
		t.Errorf("rows %q\nwant %q", rows, want)
	}

	// The ping: its packet's fields first, then the payload's nonce.
	var ping int
	browse(t, ctx, "find the ping", chromedp.Evaluate(`Number([...document.querySelectorAll("#dec-list .dec-row")].find(r => r.querySelector(".c-cmd").textContent === "ping").dataset.index)`, &ping))
	selectRow(t, ctx, ping)
	packet := openTreeField(t, ctx, "0")
	if packet.Name != "packet" || packet.Offset != 0 || packet.Length != 5 || packet.Value != "ping, an 8-byte payload" {
		t.Errorf("the tree's first node %+v, want the ping's packet", packet)
	}
	for i, w := range []treeField{
		{"length", "", 0, 3},
		{"header", "0x00 (ignore bit clear: not a decoy)", 3, 1},
		{"message_type", "short id 18 (ping)", 4, 1},
		{"tag", "", 13, 16},
	} {
		got := openTreeField(t, ctx, "0."+string(rune('0'+i)))
		if w.Value == "" {
			got.Value = ""
		}
		if got != w {
			t.Errorf("packet field %d: %+v, want %+v", i, got, w)
		}
	}
	screenshot(t, ctx, "decoder-bip324")
	box := headerBox(t, ctx)
	if !strings.Contains(box["transport"], "BIP324") || !strings.Contains(box["size"], "packet 29 B on the wire") {
		t.Errorf("header box %v", box)
	}
	if d := dialogs.Load(); d != 0 {
		t.Errorf("%d dialogs opened", d)
	}
}
