package blockgen

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

var fixedNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// mixed is a chain with every output type made and spent: 130 blocks, so
// 30 past coinbase maturity, of up to 12 spends each.
var mixed = Options{Seed: 7, Blocks: 130, TxPerBlock: 12, Now: fixedNow}

// TestStructure checks merkle roots, BIP34 heights and determinism.
func TestStructure(t *testing.T) {
	a, err := Generate(Options{Seed: 1, Blocks: 20, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(Options{Seed: 1, Blocks: 20, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	for i, blk := range a.Blocks {
		if got := merkleRoot(blk.Transactions); got != blk.Header.MerkleRoot {
			t.Errorf("block %d: merkle root mismatch", i+1)
		}
		if !bytes.Equal(a.Raw(i), b.Raw(i)) {
			t.Errorf("block %d differs for the same seed", i+1)
		}
		if !blk.Header.Timestamp.Before(fixedNow) {
			t.Errorf("block %d in the future", i+1)
		}
		if len(blk.Transactions) != 1 {
			t.Errorf("block %d has %d transactions without a transaction mix", i+1, len(blk.Transactions))
		}
	}
}

// TestSameSeedSameBytes generates the mixed chain twice (signing runs on
// several goroutines, so this also checks the scheduling leaves no mark)
// and once with another seed, which must differ from the first block.
func TestSameSeedSameBytes(t *testing.T) {
	a, err := Generate(mixed)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(mixed)
	if err != nil {
		t.Fatal(err)
	}
	other := mixed
	other.Seed++
	c, err := Generate(other)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Blocks {
		if !bytes.Equal(a.Raw(i), b.Raw(i)) {
			t.Fatalf("block %d differs for the same seed", i+1)
		}
		if bytes.Equal(a.Raw(i), c.Raw(i)) {
			t.Fatalf("block %d is the same for seeds %d and %d", i+1, mixed.Seed, other.Seed)
		}
	}
}

// TestSpends checks the mixed chain's transactions with btcd's script
// engine under the standard flags, output by output: every input spends an
// output of an earlier block that exists and is unspent, pays FeePerTx,
// and passes its script; every output type is made and spent; every
// coinbase claims exactly the subsidy and fees; and spends begin at
// coinbase maturity.
func TestSpends(t *testing.T) {
	c, err := Generate(mixed)
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	spends := 0
	for i, b := range c.Blocks {
		h := i + 1
		fees := l.add(t, h, b)
		var claimed int64
		for _, o := range b.Transactions[0].TxOut {
			claimed += o.Value
		}
		if want := subsidy(h, chaincfgRegtest) + fees; claimed != want {
			t.Errorf("block %d coinbase claims %d, want subsidy and fees %d", h, claimed, want)
		}
		n := len(b.Transactions) - 1
		switch {
		case h <= 100 && n > 0:
			t.Errorf("block %d has %d spends before coinbase maturity", h, n)
		case h > 102 && n != mixed.TxPerBlock:
			t.Errorf("block %d has %d spends, want %d once the wallet has fanned out", h, n, mixed.TxPerBlock)
		}
		spends += n
	}
	l.checkCoverage(t)
	t.Logf("%d spends; outputs created %v; spent %v", spends, l.created, l.spent)
}

// TestConsensusCheckBlock runs node/consensus's block rules, mutation
// checks included, on every block of a coinbase-only chain and of the
// mixed chain.
func TestConsensusCheckBlock(t *testing.T) {
	for _, opts := range []Options{{Seed: 1, Blocks: 20, Now: fixedNow}, mixed} {
		c, err := Generate(opts)
		if err != nil {
			t.Fatal(err)
		}
		checkBlocks(t, c)
	}
}

// checkBlocks runs CheckBlockMutation and CheckBlock on every block of c
// with its height and median time past.
func checkBlocks(t *testing.T, c *Chain) {
	t.Helper()
	params := consensus.ParamsFor(protocol.Regtest)
	headers := headerChain{consensus.FromWire(&chaincfgRegtest.GenesisBlock.Header)}
	for i, msg := range c.Blocks {
		h := int32(i + 1)
		b, err := consensus.NewBlock(msg, c.Raw(i))
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		ctx := &consensus.BlockContext{Params: params, Height: h, MedianTimePast: consensus.MedianTimePast(headers, h-1)}
		if err := consensus.CheckBlockMutation(ctx, b); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		if err := consensus.CheckBlock(ctx, b); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		if len(msg.Transactions) > 1 && consensus.WitnessCommitment(msg.Transactions[0]) < 0 {
			t.Errorf("block %d has spends but no witness commitment", h)
		}
		if b.Header.Timestamp <= ctx.MedianTimePast {
			t.Errorf("block %d timestamp %d not after median time past %d", h, b.Header.Timestamp, ctx.MedianTimePast)
		}
		headers = append(headers, b.Header)
	}
}

// headerChain is consensus.Ancestors over headers from genesis.
type headerChain []consensus.Header

func (c headerChain) HeaderAt(h int32) *consensus.Header { return &c[h] }

// TestTargetBytes checks that a size target runs the chain on past Blocks
// to the first block at which the target is reached, that Stream hands
// over each block's serialization, that Generate makes the same chain, and
// that its second-apart blocks pass the block rules.
func TestTargetBytes(t *testing.T) {
	opts := Options{Seed: 3, Blocks: 5, TxPerBlock: 50, TargetBytes: 200_000, Now: fixedNow}
	var total, before int64
	var raws [][]byte
	err := Stream(opts, func(h int, b *wire.MsgBlock, raw []byte) error {
		if h != len(raws)+1 {
			t.Fatalf("height %d after %d blocks", h, len(raws))
		}
		var buf bytes.Buffer
		if err := b.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), raw) {
			t.Fatalf("block %d: raw is not the block's serialization", h)
		}
		before = total
		total += int64(len(raw))
		raws = append(raws, raw)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total < opts.TargetBytes || before >= opts.TargetBytes {
		t.Errorf("chain of %d bytes (%d before its last block) for a target of %d", total, before, opts.TargetBytes)
	}
	if len(raws) <= 101 {
		t.Errorf("%d blocks: the target should need spends past maturity", len(raws))
	}
	c, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Blocks) != len(raws) {
		t.Fatalf("Generate made %d blocks, Stream %d", len(c.Blocks), len(raws))
	}
	for i := range raws {
		if !bytes.Equal(c.Raw(i), raws[i]) {
			t.Fatalf("block %d differs between Generate and Stream", i+1)
		}
	}
	if last := c.Blocks[len(c.Blocks)-1].Header.Timestamp; !last.Before(fixedNow.Add(-endMargin + time.Second)) {
		t.Errorf("tip at %v, want before %v", last, fixedNow.Add(-endMargin))
	}
	checkBlocks(t, c)
}

// TestTailBlocks checks that TailBlocks coinbase-only blocks follow the
// rest, after a fixed count and after a size target, that the blocks
// before the tail carry the spends of the chain made without one, and that
// the whole chain passes the block rules.
func TestTailBlocks(t *testing.T) {
	for _, opts := range []Options{
		{Seed: 2, Blocks: 104, TxPerBlock: 6, Now: fixedNow},
		{Seed: 3, Blocks: 5, TxPerBlock: 50, TargetBytes: 200_000, Now: fixedNow},
	} {
		plain, err := Generate(opts)
		if err != nil {
			t.Fatal(err)
		}
		tailed := opts
		tailed.TailBlocks = 7
		c, err := Generate(tailed)
		if err != nil {
			t.Fatal(err)
		}
		n := len(plain.Blocks)
		if len(c.Blocks) != n+7 {
			t.Fatalf("%+v: %d blocks, want %d and a tail of 7", tailed, len(c.Blocks), n)
		}
		if len(plain.Blocks[n-1].Transactions) < 2 {
			t.Fatalf("%+v: the last block before the tail spends nothing; the test needs spends", opts)
		}
		for i, b := range c.Blocks[:n] {
			if len(b.Transactions) != len(plain.Blocks[i].Transactions) {
				t.Errorf("block %d: %d transactions with a tail, %d without", i+1, len(b.Transactions), len(plain.Blocks[i].Transactions))
			}
		}
		for i, b := range c.Blocks[n:] {
			if len(b.Transactions) != 1 {
				t.Errorf("tail block %d has %d transactions, want the coinbase only", n+i+1, len(b.Transactions))
			}
		}
		checkBlocks(t, c)
	}
}

// TestStreamStopsOnError checks that fn's error ends the stream unchanged.
func TestStreamStopsOnError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := Stream(Options{Blocks: 10, Now: fixedNow}, func(int, *wire.MsgBlock, []byte) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err %v after %d calls, want stop after 1", err, calls)
	}
}

// TestBadOptions checks the option errors.
func TestBadOptions(t *testing.T) {
	for _, opts := range []Options{
		{Blocks: -1},
		{Blocks: 1, TxPerBlock: -1},
		{Blocks: 1, TargetBytes: -1},
		{Blocks: 1, TailBlocks: -1},
		{Blocks: 10, Start: fixedNow.Add(-5 * time.Second), Now: fixedNow},
	} {
		if _, err := Generate(opts); err == nil {
			t.Errorf("%+v: no error", opts)
		}
	}
}

// TestBtcdAccepts submits a coinbase-only chain to a real btcd, which
// validates fully.
func TestBtcdAccepts(t *testing.T) {
	c, err := Generate(Options{Seed: 7, Blocks: 30})
	if err != nil {
		t.Fatal(err)
	}
	submit(t, c)
}

// TestBtcdAcceptsSpends submits the mixed chain, every output type made
// and spent, to a real btcd: it must accept every block, so its script,
// amount, maturity, witness commitment, weight and sigop checks all pass.
// The chain ends before the clock, as btcd requires.
func TestBtcdAcceptsSpends(t *testing.T) {
	opts := mixed
	opts.Now = time.Time{}
	c, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	for i, b := range c.Blocks {
		l.add(t, i+1, b)
	}
	l.checkCoverage(t)
	submit(t, c)
}

// TestBtcdAcceptsSizedChain submits a chain made to a size target, whose
// blocks are a second apart (see Options.Start), to a real btcd.
func TestBtcdAcceptsSizedChain(t *testing.T) {
	c, err := Generate(Options{Seed: 5, TxPerBlock: 50, TargetBytes: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	submit(t, c)
}

// submit sends c to a fresh btcd and checks btcd's tip is c's.
func submit(t *testing.T, c *Chain) {
	t.Helper()
	n := btcdtest.Start(t, btcdtest.Options{})
	raw := make([]string, len(c.Blocks))
	for i := range c.Blocks {
		raw[i] = hex.EncodeToString(c.Raw(i))
	}
	n.SubmitBlocks(t, raw)
	if got := n.BlockCount(t); got != len(c.Blocks) {
		t.Fatalf("block count %d, want %d", got, len(c.Blocks))
	}
	if got, want := n.BestBlockHash(t), c.Blocks[len(c.Blocks)-1].BlockHash().String(); got != want {
		t.Fatalf("best block %s, want %s", got, want)
	}
}

// BenchmarkGenerate streams an 8 MB chain of full-ish blocks (2,000 spends
// each) per iteration and reports the generation rate in MB/s.
func BenchmarkGenerate(b *testing.B) {
	opts := Options{Seed: 1, TxPerBlock: 2000, TargetBytes: 8 << 20, Now: fixedNow}
	var total int64
	for b.Loop() {
		total = 0
		err := Stream(opts, func(_ int, _ *wire.MsgBlock, raw []byte) error {
			total += int64(len(raw))
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(total)
}
