package validate

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/script"
	"github.com/watchnode/watchnode/node/utxo"
)

// headerBranch is a chain of headers by height: the Branch of a block on
// top of its last entry.
type headerBranch []consensus.Header

func (hb headerBranch) HeaderAt(h int32) *consensus.Header { return &hb[h] }
func (hb headerBranch) HashAt(h int32) chainhash.Hash      { return hb[h].Hash() }
func (hb headerBranch) MedianTimePastAt(h int32) uint32 {
	return consensus.MedianTimePast(hb, h)
}

// testChain is a chain being connected in a test: its headers from the
// genesis, and the undo data of every connected block.
type testChain struct {
	t       testing.TB
	v       *Validator
	view    View
	headers headerBranch
	blocks  []*consensus.Block // by height; [0] is the genesis
	undo    map[int32][]byte   // encoded, as the block store keeps it
}

func newValidator(tb testing.TB, p *consensus.Params) *Validator {
	tb.Helper()
	ver := script.NewVerifier(0, 10_000)
	tb.Cleanup(ver.Close)
	return &Validator{Params: p, Scripts: ver}
}

func newTestChain(tb testing.TB, p *consensus.Params, view View) *testChain {
	tb.Helper()
	return &testChain{t: tb, v: newValidator(tb, p), view: view, headers: headerBranch{p.Genesis},
		blocks: []*consensus.Block{nil}, undo: map[int32][]byte{}}
}

func decode(tb testing.TB, raw []byte) *consensus.Block {
	tb.Helper()
	b, err := consensus.DecodeBlock(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func encode(tb testing.TB, msg *wire.MsgBlock) *consensus.Block {
	tb.Helper()
	raw := make([]byte, 0, msg.SerializeSize())
	w := &sliceWriter{raw}
	if err := msg.Serialize(w); err != nil {
		tb.Fatal(err)
	}
	return decode(tb, w.b)
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// block returns b as the next block to connect.
func (c *testChain) block(b *consensus.Block, skipScripts bool) *Block {
	return &Block{Block: b, Height: int32(len(c.headers)), Branch: c.headers, SkipScripts: skipScripts}
}

// try connects b on top of the chain without keeping it on success
// bookkeeping-wise only if keep is set.
func (c *testChain) connect(b *consensus.Block, skipScripts bool) (*Result, error) {
	res, err := c.v.Connect(c.view, c.block(b, skipScripts))
	if err != nil {
		return nil, err
	}
	h := int32(len(c.headers))
	c.headers = append(c.headers, b.Header)
	c.blocks = append(c.blocks, b)
	c.undo[h] = utxo.AppendBlockUndo(nil, res.Undo)
	if s, ok := c.view.(*utxo.Store); ok {
		s.SetBest(utxo.Best{Hash: b.Hash, Height: h})
	}
	return res, nil
}

func (c *testChain) mustConnect(b *consensus.Block, skipScripts bool) *Result {
	c.t.Helper()
	res, err := c.connect(b, skipScripts)
	if err != nil {
		c.t.Fatalf("connecting block %d: %v", len(c.headers), err)
	}
	return res
}

// disconnectTip takes the last block off, with its undo data decoded from
// the bytes the block store would hold.
func (c *testChain) disconnectTip() {
	c.t.Helper()
	h := int32(len(c.headers) - 1)
	undo, err := utxo.DecodeBlockUndo(c.undo[h])
	if err != nil {
		c.t.Fatalf("undo of block %d: %v", h, err)
	}
	b := &Block{Block: c.blocks[h], Height: h, Branch: c.headers[:h]}
	clean, err := c.v.Disconnect(c.view, b, undo)
	if err != nil || !clean {
		c.t.Fatalf("disconnecting block %d: clean %v, %v", h, clean, err)
	}
	c.headers, c.blocks = c.headers[:h], c.blocks[:h]
	delete(c.undo, h)
	if s, ok := c.view.(*utxo.Store); ok {
		s.SetBest(utxo.Best{Hash: c.headers[h-1].Hash(), Height: h - 1})
	}
}

// setHash computes the MuHash of every coin in m from scratch.
func setHash(m MemoryView) chainhash.Hash {
	mh := utxo.NewMuHash()
	var buf []byte
	for op, c := range m {
		buf = utxo.AppendMuHashCoin(buf[:0], op, c.Height, c.Coinbase, &c.Out)
		mh.Insert(buf)
	}
	return mh.Finalize()
}
