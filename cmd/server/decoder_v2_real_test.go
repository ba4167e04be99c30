package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/internal/pcaptest"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/inspect"
)

// TestV2CaptureOfRealTrafficDecryptsToTheLog: the node syncs from a btcd
// speaking BIP324 through a recording TCP proxy, with -v2keylog. The
// proxy's pcapng and the key log decode, in Go, on the command line and
// on the decoder page in Chromium, to the messages the node logged, in
// order, with no error; without the key log the connection is labelled
// encrypted.
func TestV2CaptureOfRealTrafficDecryptsToTheLog(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{Args: []string{"--v2transport"}})
	btcd.Generate(t, 5)
	proxy := startRecordingProxy(t, btcd.P2PAddr(), pcaptest.PCAPNG)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys.log")
	n := startNode(t, "-connect="+proxy.addr(), "-v2keylog="+keyFile)
	n.waitFor(30*time.Second, "sync over v2 and a measured ping", func() bool {
		p, ok := n.established("btcd")
		var st engine.Status
		n.get("/api/status", &st)
		return ok && p.PingMs > 0 && st.Height == 5 && p.Transport == "v2"
	})
	logSent, logRecv := logCommands(t, n, proxy.addr())
	n.stop()
	proxy.close()
	keys, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pcapFile := filepath.Join(dir, "traffic.pcapng")
	if err := os.WriteFile(pcapFile, proxy.pcap.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	// Without keys: encrypted, and said so, not a wall of errors.
	plain, err := inspect.Open([]inspect.Input{{Name: pcapFile, Data: proxy.pcap.Bytes()}}, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Messages != 0 || plain.Errors != 0 || plain.Notes != 2 {
		t.Errorf("without the key log: %d messages, %d errors, %d notes; want 0, 0 and one note per direction", plain.Messages, plain.Errors, plain.Notes)
	}

	res, err := inspect.Open([]inspect.Input{{Name: pcapFile, Data: proxy.pcap.Bytes()}, {Name: keyFile, Data: keys}}, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Errorf("%d errors decrypting the capture", res.Errors)
	}
	sent, recv := entryCommands(t, "pcapng over v2", messagesOnly(res.Entries), inspect.DirectionToServer, inspect.DirectionToClient)
	checkPrefix(t, "pcapng over v2, node to btcd", logSent, sent)
	checkPrefix(t, "pcapng over v2, btcd to node", logRecv, recv)
	t.Logf("logged %d sent, %d received; the capture decrypts to %d messages (%d notes)", len(logSent), len(logRecv), res.Messages, res.Notes)

	out, err := exec.Command(serverBin, "decode", "-keylog", keyFile, pcapFile).Output()
	if err != nil {
		t.Fatalf("server decode -keylog: %v", err)
	}
	var printed inspect.Result
	if err := json.Unmarshal(out, &printed); err != nil {
		t.Fatal(err)
	}
	if printed.Messages != res.Messages || printed.Errors != 0 {
		t.Errorf("server decode -keylog: %d messages, %d errors; want %d and 0", printed.Messages, printed.Errors, res.Messages)
	}

	// The page, in Chromium: the same messages in the same order.
	page := startNode(t)
	ctx, dialogs := browser(t)
	browse(t, ctx, "decoder page", chromedp.Navigate("http://"+page.http+"/decoder"),
		chromedp.WaitVisible(`#dec-status[data-state="ready"]`))
	browse(t, ctx, "pick the capture and its key log", chromedp.SetUploadFiles(`#dec-file`, []string{pcapFile, keyFile}))
	waitDecoded(t, ctx, "the real capture with its key log", 1)
	if st := readStatus(t, ctx); st.Messages != res.Messages || st.Errors != 0 {
		t.Errorf("page status %+v, want %d messages and no error", st, res.Messages)
	}
	var rows []string
	browse(t, ctx, "the list", chromedp.Evaluate(`[...document.querySelectorAll("#dec-list .dec-row")]
		.sort((a, b) => a.dataset.index - b.dataset.index)
		.filter(r => r.dataset.kind === "message")
		.map(r => r.dataset.dir + " " + r.querySelector(".c-cmd").textContent)`, &rows))
	var want []string
	for _, e := range messagesOnly(res.Entries) {
		want = append(want, e.Direction+" "+e.Command)
	}
	if !slices.Equal(rows, want) {
		t.Errorf("the page lists %q\nGo decodes %q", rows, want)
	}
	if d := dialogs.Load(); d != 0 {
		t.Errorf("%d dialogs opened", d)
	}
}

// messagesOnly drops the notes (BIP324's handshake, decoys, version
// packet) from a decoder's entries.
func messagesOnly(entries []inspect.Entry) []inspect.Entry {
	var out []inspect.Entry
	for _, e := range entries {
		if e.Kind == inspect.KindMessage || e.Kind == inspect.KindError {
			out = append(out, e)
		}
	}
	return out
}
