package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/chromedp/chromedp"

	"github.com/watchnode/watchnode/node/protocol"
)

// pasteHex pastes text into the decoder page and waits for decode number
// opens to finish.
func pasteHex(t *testing.T, ctx context.Context, text string, opens int) {
	t.Helper()
	browse(t, ctx, "paste hex", chromedp.SetValue(`#dec-hex`, text), chromedp.Click(`#dec-decode`))
	waitDecoded(t, ctx, "the pasted hex", opens)
}

// statusBar is what the decoder's status bar shows after a decode.
type statusBar struct {
	Result, Text, Background         string
	Bytes, Messages, Errors, BadSums int
}

func readStatus(t *testing.T, ctx context.Context) statusBar {
	t.Helper()
	var raw struct {
		Result, Text, Background, Bytes, Messages, Errors, BadSums string
	}
	browse(t, ctx, "status bar", chromedp.Evaluate(`(() => {
		const s = document.querySelector("#dec-status");
		return {Result: s.dataset.result || "", Text: s.textContent, Background: getComputedStyle(s).backgroundColor,
			Bytes: s.dataset.bytes, Messages: s.dataset.messages, Errors: s.dataset.errors, BadSums: s.dataset.badChecksums};
	})()`, &raw))
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return statusBar{raw.Result, raw.Text, raw.Background, n(raw.Bytes), n(raw.Messages), n(raw.Errors), n(raw.BadSums)}
}

// headerBox reads the selected message's header box: data-key to text.
func headerBox(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	var box map[string]string
	browse(t, ctx, "header box", chromedp.Evaluate(`Object.fromEntries([...document.querySelectorAll("#dec-header dd[data-key]")].map(d => [d.dataset.key, d.textContent]))`, &box))
	return box
}

// treeField is one node of the decoder page's field tree as shown.
type treeField struct {
	Name, Value    string
	Offset, Length int
}

// openTreeField opens the tree down to path (clicking each closed parent's
// twist) and returns what its row shows.
func openTreeField(t *testing.T, ctx context.Context, path string) treeField {
	t.Helper()
	parts := strings.Split(path, ".")
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], ".")
		sel := `#dec-tree li.field[data-path="` + parent + `"]`
		var open bool
		browse(t, ctx, "is "+parent+" open", chromedp.WaitVisible(sel+` > .frow`),
			chromedp.Evaluate(`document.querySelector('`+sel+`').getAttribute("aria-expanded") === "true"`, &open))
		if !open {
			browse(t, ctx, "open "+parent, chromedp.Click(sel+` > .frow .twist`))
		}
	}
	var f treeField
	sel := `#dec-tree li.field[data-path="` + path + `"]`
	browse(t, ctx, "field "+path, chromedp.WaitVisible(sel+` > .frow`), chromedp.Evaluate(`(() => {
		const li = document.querySelector('`+sel+`');
		return {Name: li.querySelector(".fname").textContent, Value: li.querySelector(".fvalue").textContent,
			Offset: Number(li.dataset.offset), Length: Number(li.dataset.length)};
	})()`, &f))
	return f
}

// litBytes clicks the field at path and returns the hex view's lit offsets.
func litBytes(t *testing.T, ctx context.Context, path string) []int {
	t.Helper()
	var lit []int
	sel := `#dec-tree li.field[data-path="` + path + `"]`
	browse(t, ctx, "select field "+path, chromedp.Click(sel+` > .frow .fname`),
		chromedp.Poll(`document.querySelector('`+sel+`').classList.contains("selected") &&
			[...document.querySelectorAll("#dec-hexview span.byte.hl")].map(b => Number(b.dataset.offset))`, &lit, chromedp.WithPollingTimeout(5*time.Second)))
	return lit
}

// selectRow selects the list row of entry index and waits for its detail.
func selectRow(t *testing.T, ctx context.Context, index int) {
	t.Helper()
	sel := `#dec-list .dec-row[data-index="` + strconv.Itoa(index) + `"]`
	browse(t, ctx, "select row "+strconv.Itoa(index), chromedp.Click(sel), chromedp.WaitVisible(sel+`[aria-selected="true"]`),
		chromedp.WaitVisible(`#dec-tree li.field[data-path="0"]`))
}

// TestDecoderShowsFramesAndProblemsInBrowser pastes hex into the decoder
// page: the status bar is green only for a clean decode, counts a bad
// checksum as an error and the decoded bytes rather than hex characters,
// and says what went wrong when nothing decoded; a message's tree and hex
// view cover its frame header (magic with its network, command, length,
// checksum with its verdict), its nonce reads as in its summary, and its
// sizes say payload and frame.
func TestDecoderShowsFramesAndProblemsInBrowser(t *testing.T) {
	n := startNode(t)
	ctx, dialogs := browser(t)
	browse(t, ctx, "decoder page", chromedp.Navigate("http://"+n.http+"/decoder"),
		chromedp.WaitVisible(`#dec-status[data-state="ready"]`))

	var nonce [8]byte
	binary.LittleEndian.PutUint64(nonce[:], 0x0123456789abcdef)
	ping := regtestFrame(t, wire.CmdPing, nonce[:])
	badPong := regtestFrame(t, wire.CmdPong, nonce[:])
	copy(badPong[20:24], []byte{0xde, 0xad, 0xbe, 0xef})
	goodSum, pongSum := hex.EncodeToString(ping[20:24]), protocol.Checksum(badPong[24:])

	// A clean frame: green, its 32 bytes counted, not its 64 hex digits.
	pasteHex(t, ctx, hex.EncodeToString(ping), 1)
	clean := readStatus(t, ctx)
	if clean.Result != "ok" || clean.Bytes != len(ping) || !strings.Contains(clean.Text, "32 B") || clean.Errors != 0 {
		t.Errorf("clean frame: %+v", clean)
	}

	selectRow(t, ctx, 0)
	header := openTreeField(t, ctx, "0")
	if header.Name != "header" || header.Offset != 0 || header.Length != 24 || header.Value != "regtest ping, an 8-byte payload" {
		t.Errorf("the tree's first node %+v, want the 24-byte header of an 8-byte payload", header)
	}
	want := []treeField{
		{"magic", "fabfb5da (regtest)", 0, 4},
		{"command", `"ping"`, 4, 12},
		{"length", "8 bytes", 16, 4},
		{"checksum", goodSum + " (matches)", 20, 4},
	}
	for i, w := range want {
		if got := openTreeField(t, ctx, "0."+strconv.Itoa(i)); got != w {
			t.Errorf("header field %d: %+v, want %+v", i, got, w)
		}
	}
	if lit := litBytes(t, ctx, "0.3"); fmt.Sprint(lit) != "[20 21 22 23]" {
		t.Errorf("the checksum lights bytes %v, want 20..23", lit)
	}
	// The payload after it: the nonce at frame byte 24, in hex as in the
	// summary.
	nonceField := openTreeField(t, ctx, "1")
	box := headerBox(t, ctx)
	if nonceField.Name != "nonce" || nonceField.Offset != 24 || nonceField.Value != "0x0123456789abcdef" || !strings.Contains(box["summary"], nonceField.Value) {
		t.Errorf("nonce field %+v; summary %q", nonceField, box["summary"])
	}
	if lit := litBytes(t, ctx, "1"); fmt.Sprint(lit) != "[24 25 26 27 28 29 30 31]" {
		t.Errorf("the nonce lights bytes %v, want 24..31", lit)
	}
	var byteZero string
	browse(t, ctx, "click byte 0", chromedp.Click(`#dec-hexview span.byte[data-offset="0"]`),
		chromedp.Poll(`(() => { const s = document.querySelector("#dec-tree li.field.selected"); return s && s.dataset.path; })()`, &byteZero, chromedp.WithPollingTimeout(5*time.Second)))
	if byteZero != "0.0" {
		t.Errorf("byte 0 selected field %q, want the magic (0.0)", byteZero)
	}
	if got, want := box["size"], "payload 8 B · frame 32 B (24-byte header + payload)"; got != want {
		t.Errorf("size %q, want %q", got, want)
	}
	if !strings.Contains(box["checksum"], "matches") {
		t.Errorf("checksum %q", box["checksum"])
	}

	// A bad checksum is an error: not green, counted, flagged with what it
	// should be; the payload is still decoded.
	pasteHex(t, ctx, hex.EncodeToString(ping)+"\n"+hex.EncodeToString(badPong), 2)
	bad := readStatus(t, ctx)
	if bad.Result != "problems" || bad.Errors != 1 || bad.BadSums != 1 || bad.Messages != 2 || bad.Background == clean.Background ||
		!strings.Contains(bad.Text, "1 error (1 bad checksum)") {
		t.Errorf("a bad checksum: %+v (clean background %s)", bad, clean.Background)
	}
	selectRow(t, ctx, 1)
	expected := "expected " + hex.EncodeToString(pongSum[:])
	if sum := openTreeField(t, ctx, "0.3"); sum.Value != "deadbeef (does not match: "+expected+")" {
		t.Errorf("bad checksum field %+v", sum)
	}
	browse(t, ctx, "open the header", chromedp.Click(`#dec-tree li.field[data-path="0.3"] > .frow .fname`))
	screenshot(t, ctx, "decoder-bad-checksum")
	if box := headerBox(t, ctx); !strings.Contains(box["checksum"], expected) || !strings.Contains(box["summary"], "0x0123456789abcdef") {
		t.Errorf("header box of the bad pong: %q", box)
	}

	// Input that is not recognized, and a frame cut short: nothing decoded,
	// shown as a failure with the reason, its article right.
	for i, c := range []struct{ text, says string }{
		{"hello, decoder", "not recognized"},
		{hex.EncodeToString(ping[:30]), `"ping" declares an 8-byte payload but only 6 bytes follow`},
	} {
		pasteHex(t, ctx, c.text, 3+i)
		st := readStatus(t, ctx)
		if st.Result != "nothing" || st.Background == clean.Background || st.Background == bad.Background ||
			!strings.Contains(st.Text, "nothing decoded") || !strings.Contains(st.Text, c.says) {
			t.Errorf("%q: %+v", c.text, st)
		}
	}
	if d := dialogs.Load(); d != 0 {
		t.Errorf("%d dialogs opened", d)
	}
}
