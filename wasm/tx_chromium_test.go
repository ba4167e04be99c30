//go:build !(js && wasm)

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/inspect"
)

// block170Payment is the first transaction that is not a coinbase
// (mainnet block 170), serialized.
func block170Payment(t *testing.T) []byte {
	t.Helper()
	b, err := consensus.DecodeBlock(mainnetdata.BtcdBlocks(t)[170])
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := b.Msg.Transactions[1].Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBareTxInChromium decodes a transaction's bytes as the decoder page
// does for a block page's link (#block=...&tx=...): a tx message's payload,
// in Chromium. It is one tx message without a problem, its tree computes
// the txid, and list and tree are the native decoder's.
func TestBareTxInChromium(t *testing.T) {
	const txid = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
	tx := block170Payment(t)
	ctx := openModule(t, serveModule(t, map[string][]byte{"/tx.bin": tx}))
	var got struct{ List, Message string }
	err := chromedp.Run(ctx, chromedp.Evaluate(`(async () => {
		const data = new Uint8Array(await (await fetch("/tx.bin")).arrayBuffer());
		return {list: watchnodeOpen([{name: "tx", data}], {format: "payload", command: "tx"}), message: watchnodeMessage(0)};
	})()`, &got, awaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	native := &session{}
	in := inspect.Input{Name: "tx", Data: tx}
	opt := inspect.Options{Format: inspect.FormatPayload, Command: "tx"}
	if want := native.open([]inspect.Input{in}, opt); got.List != want {
		t.Errorf("list in Chromium:\n got %s\nwant %s", got.List, want)
	}
	if want := native.message(0); got.Message != want {
		t.Errorf("message 0 in Chromium:\n got %.300s\nwant %.300s", got.Message, want)
	}
	var list struct {
		Messages, Errors int
		Entries          []struct{ Command, Kind string }
	}
	if err := json.Unmarshal([]byte(got.List), &list); err != nil {
		t.Fatal(err)
	}
	if list.Messages != 1 || list.Errors != 0 || len(list.Entries) != 1 || list.Entries[0].Command != "tx" || list.Entries[0].Kind != inspect.KindMessage {
		t.Errorf("the transaction decoded as %s", got.List)
	}
	if !strings.Contains(got.Message, txid) {
		t.Errorf("the tree does not show the txid %s: %.500s", txid, got.Message)
	}
}
