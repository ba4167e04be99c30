package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// seedStore writes headers into dir's header store and the blocks stored
// (height to serialization) into its block store, for an engine to start
// from; a header whose block is not in stored is known as a header only.
func seedStore(t *testing.T, dir string, network protocol.Network, headers []*wire.BlockHeader, stored map[int32][]byte) {
	t.Helper()
	c, hs, err := chain.Open(dir, consensus.ParamsFor(network), nil)
	if err != nil {
		t.Fatal(err)
	}
	// One at a time: a side branch's headers may follow the main chain's.
	for _, h := range headers {
		res, err := c.Accept([]consensus.Header{consensus.FromWire(h)}, nil, time.Now().Unix())
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range res.Writes {
			hs.Write(w)
		}
	}
	if err := hs.Close(); err != nil {
		t.Fatal(err)
	}
	bs, err := blockstore.Open(blockstore.Options{Dir: dir, Magic: network.Magic()})
	if err != nil {
		t.Fatal(err)
	}
	for height, raw := range stored {
		b, err := consensus.DecodeBlock(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bs.WriteBlock(b.Hash, height, raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}
}

// offline is a configuration that reaches no network: one unreachable
// -connect target (discovery off) that every dial refuses.
func offline(network protocol.Network, dir string) Config {
	refuse := func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("offline test") }
	return Config{Network: network, DataDir: dir, Connect: []string{"127.0.0.1:1"}, Dial: refuse,
		LookupHost: func(context.Context, string) ([]string, error) { return nil, errors.New("offline test") }}
}

func block(t *testing.T, e *Engine, key string) BlockView {
	t.Helper()
	v, err := e.Block(t.Context(), key)
	if err != nil {
		t.Fatalf("Block(%s): %v", key, err)
	}
	return v
}

// TestBlockViewMainnet connects mainnet's first 201 blocks (btcd's copy)
// and reads them back as the block page does: block 170 holds the first
// transaction that is not a coinbase (Satoshi paying Hal Finney 10 BTC of
// block 9's coinbase, fee 0), the genesis coinbase's text is The Times'
// headline, and the per-transaction sizes add up to the block's.
func TestBlockViewMainnet(t *testing.T) {
	const top = 200
	raws := mainnetdata.BtcdBlocks(t)[:top+1]
	var headers []*wire.BlockHeader
	stored := map[int32][]byte{}
	for h := 1; h <= top; h++ {
		b, err := consensus.DecodeBlock(raws[h])
		if err != nil {
			t.Fatal(err)
		}
		headers = append(headers, &b.Msg.Header)
		stored[int32(h)] = raws[h]
	}
	dir := t.TempDir()
	seedStore(t, dir, protocol.Mainnet, headers, stored)
	r := startEngine(t, offline(protocol.Mainnet, dir))
	waitForWithin(t, 60*time.Second, "the stored blocks connected", func() bool { return r.e.Snapshot().Status.Blocks == top })

	v := block(t, r.e, "170")
	if v.Hash != "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee" || v.Status != BlockConnected || !v.HaveUndo {
		t.Fatalf("block 170: hash %s, status %q, undo %v", v.Hash, v.Status, v.HaveUndo)
	}
	if len(v.Txs) != 2 || v.TxCount != 2 {
		t.Fatalf("block 170 has %d transactions listed, %d counted; want 2", len(v.Txs), v.TxCount)
	}
	pay := v.Txs[1]
	want := BlockTxView{TxID: "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16", Size: 275, VSize: 275, Weight: 1100,
		Inputs: 1, Outputs: 2, OutputValue: 50 * 1e8}
	if pay.Fee == nil || *pay.Fee != 0 {
		t.Errorf("the first payment's fee: %v, want 0", pay.Fee)
	}
	pay.Fee = nil
	if pay != want {
		t.Errorf("the first payment: %+v, want %+v", pay, want)
	}
	if cb := v.Txs[0]; !cb.Coinbase || cb.Fee != nil || cb.OutputValue != 50*1e8 {
		t.Errorf("block 170's coinbase: %+v", cb)
	}
	if v.Fees == nil || *v.Fees != 0 || v.Subsidy != 50*1e8 || v.Claimed != 50*1e8 {
		t.Errorf("block 170: fees %v, subsidy %d, claimed %d; want 0, 50 BTC, 50 BTC", v.Fees, v.Subsidy, v.Claimed)
	}
	// The engine's transaction lookup agrees on the fee.
	tx, err := r.e.Tx(t.Context(), want.TxID, v.Hash)
	if err != nil || tx.Fee == nil || *tx.Fee != 0 || tx.Size != want.Size {
		t.Errorf("Tx of block 170: %+v %v", tx, err)
	}

	// Sizes: the transactions plus the header and the count are the block.
	for _, key := range []string{"0", "9", "170", strconv.Itoa(top)} {
		v := block(t, r.e, key)
		head := 80 + wire.VarIntSerializeSize(uint64(len(v.Txs)))
		size, weight := head, head*consensus.WitnessScaleFactor
		for _, tx := range v.Txs {
			size += tx.Size
			weight += tx.Weight
		}
		if size != v.Size || weight != v.Weight {
			t.Errorf("block %s: transactions add up to %d bytes, weight %d; the block is %d bytes, weight %d", key, size, weight, v.Size, v.Weight)
		}
	}

	genesis := block(t, r.e, "0")
	if want := "The Times 03/Jan/2009 Chancellor on brink of second bailout for banks"; genesis.CoinbaseText != want {
		t.Errorf("the genesis coinbase's text %q, want %q", genesis.CoinbaseText, want)
	}
	if genesis.Status != BlockConnected || genesis.HaveUndo || genesis.Fees != nil {
		t.Errorf("genesis: status %q, undo %v, fees %v (it has no undo data)", genesis.Status, genesis.HaveUndo, genesis.Fees)
	}
	// Block 9's coinbase is "04ffff001d0134": nothing printable to show.
	if b9 := block(t, r.e, "9"); b9.CoinbaseText != "" || b9.Fees == nil || *b9.Fees != 0 {
		t.Errorf("block 9: text %q, fees %v", b9.CoinbaseText, b9.Fees)
	}

	// The API's JSON names.
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	txs, _ := m["txs"].([]any)
	if m["status"] != "connected" || m["fees"] != float64(0) || m["subsidy"] != float64(50e8) || len(txs) != 2 {
		t.Errorf("block 170's JSON: %s", js)
	} else if second, _ := txs[1].(map[string]any); second["fee"] != float64(0) || second["txid"] != want.TxID || second["vsize"] != float64(275) {
		t.Errorf("block 170's second transaction's JSON: %v", second)
	}
}

// TestBlockViewGeneratedChain reads a generated regtest chain whose spends
// each pay blockgen.FeePerTx: a connected block's fees, each transaction's
// and the coinbase's claim of subsidy plus fees; a block known by its
// header only; a malformed and an unknown key.
func TestBlockViewGeneratedChain(t *testing.T) {
	const stored = 104 // blocks 1..104 are stored, 105 is a header only
	gen, err := blockgen.Generate(blockgen.Options{Seed: 31, Blocks: stored + 1, TxPerBlock: 3, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var headers []*wire.BlockHeader
	blocks := map[int32][]byte{}
	for i, b := range gen.Blocks {
		headers = append(headers, &b.Header)
		if i+1 <= stored {
			blocks[int32(i+1)] = gen.Raw(i)
		}
	}
	dir := t.TempDir()
	seedStore(t, dir, protocol.Regtest, headers, blocks)
	cfg := offline(protocol.Regtest, dir)
	cfg.skipScripts = true // the fees do not depend on them, and -race makes them slow
	r := startEngine(t, cfg)
	waitForWithin(t, 60*time.Second, "the stored blocks connected", func() bool { return r.e.Snapshot().Status.Blocks == stored })

	checked := 0
	for h := 101; h <= stored; h++ {
		v := block(t, r.e, strconv.Itoa(h))
		spends := int64(len(v.Txs) - 1)
		if v.Status != BlockConnected || !v.HaveUndo || v.Fees == nil {
			t.Fatalf("block %d: status %q, undo %v, fees %v", h, v.Status, v.HaveUndo, v.Fees)
		}
		if *v.Fees != spends*blockgen.FeePerTx || v.Claimed != v.Subsidy+*v.Fees || v.Subsidy != 50*1e8 {
			t.Errorf("block %d: %d spends, fees %d, subsidy %d, claimed %d; want fees %d and claimed = subsidy + fees",
				h, spends, *v.Fees, v.Subsidy, v.Claimed, spends*blockgen.FeePerTx)
		}
		for i, tx := range v.Txs[1:] {
			if tx.Fee == nil || *tx.Fee != blockgen.FeePerTx || tx.Inputs == 0 || tx.Outputs == 0 || tx.VSize > tx.Size || tx.Weight < 4*tx.VSize-3 {
				t.Errorf("block %d transaction %d: %+v", h, i+1, tx)
			}
			checked++
		}
		if want := gen.Blocks[h-1].Transactions[len(v.Txs)-1].TxHash().String(); v.Txs[len(v.Txs)-1].TxID != want {
			t.Errorf("block %d's last transaction %s, want %s", h, v.Txs[len(v.Txs)-1].TxID, want)
		}
	}
	if checked == 0 {
		t.Fatal("the generated blocks hold no spends")
	}

	if v := block(t, r.e, strconv.Itoa(stored+1)); v.Status != BlockHeaderOnly || v.HaveData || v.Txs != nil || v.Fees != nil {
		t.Errorf("block %d, a header only: %+v", stored+1, v)
	}
	if _, err := r.e.Block(t.Context(), "nothex"); !errors.Is(err, ErrBadKey) {
		t.Errorf("a malformed key: %v, want ErrBadKey", err)
	}
	var unknown chainhash.Hash
	unknown[3] = 1
	if _, err := r.e.Block(t.Context(), unknown.String()); !errors.Is(err, ErrUnknownHeader) {
		t.Errorf("an unknown hash: %v, want ErrUnknownHeader", err)
	}
}

// TestCoinbaseText: the miner's tag is the printable runs of four or more
// characters, the BIP34 height push left out, each push searched on its
// own; a scriptSig that is not pushes alone is searched as bytes.
func TestCoinbaseText(t *testing.T) {
	push := func(parts ...[]byte) []byte {
		b := txscript.NewScriptBuilder()
		for _, p := range parts {
			b.AddData(p)
		}
		s, err := b.Script()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Height 4,276,545 is pushed as "AAAA"'s first three bytes, printable.
	const tagHeight = 0x414141
	withHeight := append(consensus.CoinbaseHeightPrefix(tagHeight), push([]byte("/ViaBTC/Mined by x/"), []byte{0xfa, 0xbe, 0x6d, 0x6d}, []byte("abc"))...)
	for _, c := range []struct {
		name   string
		script []byte
		height int32
		want   string
	}{
		{"genesis", protocol.Mainnet.Params().GenesisBlock.Transactions[0].TxIn[0].SignatureScript, 0,
			"The Times 03/Jan/2009 Chancellor on brink of second bailout for banks"},
		{"BIP34 height then pushes", withHeight, tagHeight, "/ViaBTC/Mined by x/"},
		{"the height push of another height is data", withHeight, 5, "/ViaBTC/Mined by x/"},
		{"bare text", append([]byte{0x03, 0x01, 0x02, 0x03}, "hello miner\x00\x01ok\xffgood"...), 0, "hello miner good"},
		{"two pushes stay apart", push([]byte("abcd"), []byte("efgh")), 0, "abcd efgh"},
		{"short runs dropped, spaces trimmed", push([]byte("  ab  \x00xyz"), []byte(" spaced words ")), 0, "spaced words"},
		{"empty", nil, 0, ""},
	} {
		if got := CoinbaseText(c.script, c.height); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestBlockTxsOfBlock830000: a recent mainnet block's transactions (segwit
// and taproot) add up to the block's size and weight, and each vsize is
// its weight over four, rounded up.
func TestBlockTxsOfBlock830000(t *testing.T) {
	raw := mainnetdata.Read(t, "blocks/830000.bin")
	b, err := consensus.DecodeBlock(raw)
	if err != nil {
		t.Fatal(err)
	}
	txs := blockTxs(b)
	head := 80 + wire.VarIntSerializeSize(uint64(len(txs)))
	size, weight, witness := head, head*consensus.WitnessScaleFactor, 0
	for _, tx := range txs {
		size += tx.Size
		weight += tx.Weight
		if tx.VSize != (tx.Weight+3)/4 {
			t.Fatalf("%s: vsize %d, weight %d", tx.TxID, tx.VSize, tx.Weight)
		}
		if tx.Weight < 4*tx.Size {
			witness++
		}
	}
	if size != b.Size || weight != b.Weight() || len(txs) != len(b.TxIDs) || witness == 0 {
		t.Errorf("830,000: %d transactions (%d with witness data) add up to %d bytes, weight %d; the block is %d bytes, weight %d",
			len(txs), witness, size, weight, b.Size, b.Weight())
	}
	if !txs[0].Coinbase || txs[1].Coinbase || txs[0].TxID != b.TxIDs[0].String() {
		t.Errorf("830,000's first transactions: %+v %+v", txs[0], txs[1])
	}
	text := CoinbaseText(b.Msg.Transactions[0].TxIn[0].SignatureScript, 830000)
	t.Logf("830,000: %d transactions, coinbase text %q", len(txs), text)
	if !strings.Contains(text, "Mined by AntPool") {
		t.Errorf("830,000's coinbase text %q lacks the miner's tag, Mined by AntPool", text)
	}
}
