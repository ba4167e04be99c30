//go:build !(js && wasm)

package main

import (
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/watchnode/watchnode/node/inspect"
)

// TestModuleDecryptsBIP324InChromium hands the module, in Chromium, a
// synthetic BIP324 capture and its key log as two inputs, the way the page
// passes two dropped files, and checks the list (the decrypted messages,
// in order) and a message's packet tree are the native decoder's.
func TestModuleDecryptsBIP324InChromium(t *testing.T) {
	capture, keyLog := v2Inputs(t)
	ctx := openModule(t, serveModule(t, map[string][]byte{"/v2.pcapng": capture.Data, "/keys.log": keyLog.Data}))
	var got struct{ List, Plain, Message string }
	err := chromedp.Run(ctx, chromedp.Evaluate(`(async () => {
		const get = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
		const pcap = await get("/v2.pcapng"), keys = await get("/keys.log");
		const plain = watchnodeOpen([{name: "v2.pcapng", data: pcap}], {format: "auto"});
		const list = watchnodeOpen([{name: "v2.pcapng", data: pcap}, {name: "keys.log", data: keys}], {format: "auto"});
		const ping = JSON.parse(list).entries.findIndex(e => e.command === "ping");
		return {list, plain, message: watchnodeMessage(ping)};
	})()`, &got, awaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	native := &session{}
	if want := native.open([]inspect.Input{capture}, inspect.Options{}); got.Plain != want {
		t.Errorf("list without the key log in Chromium:\n got %.400s\nwant %.400s", got.Plain, want)
	}
	want := native.open([]inspect.Input{capture, keyLog}, inspect.Options{})
	if got.List != want {
		t.Errorf("list in Chromium:\n got %.400s\nwant %.400s", got.List, want)
	}
	l := parseList(t, got.List)
	if !slices.Equal(messageCommands(l), v2WantMessages) || l.Errors != 0 {
		t.Errorf("Chromium decrypted %v (%d errors), want %v", messageCommands(l), l.Errors, v2WantMessages)
	}
	ping := -1
	for i, e := range l.Entries {
		if e.Command == "ping" {
			ping = i
			break
		}
	}
	if wantMsg := native.message(ping); got.Message != wantMsg {
		t.Errorf("the ping in Chromium:\n got %.300s\nwant %.300s", got.Message, wantMsg)
	}
}
