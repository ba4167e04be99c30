package main

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
)

// TestBlockPageInBrowser: btcd (regtest) is given a generated chain whose
// blocks from 101 on hold signed spends paying blockgen.FeePerTx each; our
// node syncs it from btcd, validating every block. The block page of a
// block with spends lists its transactions with their fees (from the undo
// data) and the coinbase's claim, and a transaction's decode link opens the
// decoder, which shows it decoded as a tx message with its txid.
func TestBlockPageInBrowser(t *testing.T) {
	const blocks = 103
	gen, err := blockgen.Generate(blockgen.Options{Seed: 44, Blocks: blocks, TxPerBlock: 2, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	btcd := btcdtest.Start(t, btcdtest.Options{})
	raw := make([]string, len(gen.Blocks))
	for i := range gen.Blocks {
		raw[i] = hex.EncodeToString(gen.Raw(i))
	}
	btcd.SubmitBlocks(t, raw)
	if got := btcd.BlockCount(t); got != blocks {
		t.Fatalf("btcd took %d of the %d blocks", got, blocks)
	}
	n := startNode(t, "-connect="+btcd.P2PAddr())
	n.waitFor(60*time.Second, "the node to sync and connect btcd's blocks", func() bool {
		var st engine.Status
		return n.tryGet("/api/status", &st) == nil && st.Blocks == blocks && st.UTXO != nil && st.UTXO.Height == blocks
	})

	// The last block: the one with the most spends in it.
	const height = blocks
	b := gen.Blocks[height-1]
	if len(b.Transactions) < 2 {
		t.Fatalf("block %d holds no spend", height)
	}
	hash := b.BlockHash().String()
	spend := b.Transactions[1].TxHash().String()
	var bv engine.BlockView
	n.get("/api/blocks/"+hash, &bv)
	wantFees := int64(len(b.Transactions)-1) * blockgen.FeePerTx
	if bv.Status != engine.BlockConnected || bv.Fees == nil || *bv.Fees != wantFees || len(bv.Txs) != len(b.Transactions) || bv.Txs[1].TxID != spend {
		t.Fatalf("GET /api/blocks/%s: status %q fees %v, %d transactions", hash, bv.Status, bv.Fees, len(bv.Txs))
	}

	ctx, _ := browser(t)
	base := "http://" + n.http
	browse(t, ctx, "the block page", chromedp.Navigate(base+"/blocks/"+strconv.Itoa(height)),
		chromedp.WaitVisible(`#block-txs tbody tr[data-txid="`+spend+`"]`))
	screenshot(t, ctx, "block-page")
	var page struct {
		Hash, Status, Fees, Count string
		Rows                      [][]string
	}
	browse(t, ctx, "read the block page", chromedp.Evaluate(`(() => {
		const dd = (k) => document.querySelector('dd[data-key="' + k + '"]').textContent.trim();
		return {Hash: dd("hash"), Status: document.querySelector("#block-status").textContent.trim(), Fees: dd("fees"), Count: dd("tx_count"),
			Rows: [...document.querySelectorAll("#block-txs tbody tr")].map(r => [r.dataset.txid, r.querySelector('[data-col="fee"]').textContent.trim()])};
	})()`, &page))
	if page.Hash != hash || page.Status != "connected on the main chain" || page.Count != strconv.Itoa(len(b.Transactions)) {
		t.Errorf("block page: hash %s, status %q, %s transactions", page.Hash, page.Status, page.Count)
	}
	if want := strconv.FormatInt(wantFees, 10); !strings.Contains(strings.ReplaceAll(page.Fees, ",", ""), "("+want+" sat)") {
		t.Errorf("total fees %q, want %s sat", page.Fees, want)
	}
	if len(page.Rows) != len(b.Transactions) {
		t.Fatalf("%d rows, want %d", len(page.Rows), len(b.Transactions))
	}
	for i, r := range page.Rows {
		want := strconv.FormatInt(blockgen.FeePerTx, 10) + " sat"
		if i == 0 {
			want = "claims "
		}
		if r[0] != b.Transactions[i].TxHash().String() || !strings.HasPrefix(strings.ReplaceAll(r[1], ",", ""), want) {
			t.Errorf("row %d: %q, want txid %s and fee %q", i, r, b.Transactions[i].TxHash(), want)
		}
	}

	// The spend's decode link opens it in the decoder.
	navigateBy(t, ctx, "follow the decode link", chromedp.Click(`#block-txs tr[data-txid="`+spend+`"] a.decode-tx`))
	waitDecoded(t, ctx, "the transaction", 1)
	format, messages, errs := decodedState(t, ctx)
	if format != "payload" || messages != 1 || errs != 0 {
		t.Errorf("decoded as %q: %d messages, %d errors; want one tx payload", format, messages, errs)
	}
	var shown struct{ Command, Tree string }
	browse(t, ctx, "the transaction's detail", chromedp.WaitVisible(`#dec-tree li.field`), chromedp.Evaluate(`({
		Command: document.querySelector('#dec-header dd[data-key="command"]').textContent,
		Tree: document.querySelector("#dec-tree").textContent})`, &shown))
	if shown.Command != "tx" || !strings.Contains(shown.Tree, spend) {
		t.Errorf("the decoder shows command %q, tree %.300q; want tx with txid %s", shown.Command, shown.Tree, spend)
	}
	screenshot(t, ctx, "block-page-tx-decoded")
}
