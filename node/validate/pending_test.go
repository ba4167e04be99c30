package validate

import (
	"bytes"
	"errors"
	"testing"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
	"github.com/watchnode/watchnode/node/utxo"
)

// chainBlocks decodes chain and gives each block its height and branch.
func chainBlocks(t *testing.T, chain *blockgen.Chain, p *consensus.Params) []*Block {
	t.Helper()
	headers := headerBranch{p.Genesis}
	var blocks []*Block
	for i, msg := range chain.Blocks {
		b := encode(t, msg)
		blocks = append(blocks, &Block{Block: b, Height: int32(i + 1), Branch: headers})
		headers = append(headers, b.Header)
	}
	return blocks
}

// TestPipelinedEqualsSequential connects the generated chain twice, once
// block after block with Connect and once pipelined as the engine's
// connector does (block i+1 begun on block i's View before block i is
// finished, so its inputs are fetched while block i's scripts run): both
// sets and every block's undo data and fees must be the same.
func TestPipelinedEqualsSequential(t *testing.T) {
	p := consensus.ParamsFor(protocol.Regtest)
	chain := generated(t)
	v := newValidator(t, p)

	seq := MemoryView{}
	var seqUndo [][]byte
	var seqFees []int64
	for _, b := range chainBlocks(t, chain, p) {
		res, err := v.Connect(seq, b)
		if err != nil {
			t.Fatalf("block %d: %v", b.Height, err)
		}
		seqUndo = append(seqUndo, utxo.AppendBlockUndo(nil, res.Undo))
		seqFees = append(seqFees, res.Fees)
	}

	piped := MemoryView{}
	var pend *Pending
	var got []*Result
	scripts := 0
	for _, b := range chainBlocks(t, chain, p) {
		base := View(piped)
		if pend != nil {
			base = pend.View()
		}
		next, err := v.Begin(base, b)
		if err != nil {
			t.Fatalf("beginning block %d: %v", b.Height, err)
		}
		if pend != nil {
			res, err := pend.Finish()
			if err != nil {
				t.Fatalf("finishing block %d: %v", b.Height-1, err)
			}
			got = append(got, res)
		}
		pend = next
		// The overlays committed before drop out of the stack: only
		// this block's and the one it was begun on are left.
		if d := overlayDepth(pend.View()); d > 2 {
			t.Fatalf("block %d: %d overlays below the pending block's view; committed ones are kept", b.Height, d)
		}
	}
	res, err := pend.Finish()
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, res)

	for i, res := range got {
		scripts += res.ScriptsChecked
		if !bytes.Equal(utxo.AppendBlockUndo(nil, res.Undo), seqUndo[i]) || res.Fees != seqFees[i] {
			t.Errorf("block %d: undo or fees differ from the sequential connection", i+1)
		}
	}
	if scripts == 0 {
		t.Fatal("no script verified: the pipeline was not exercised")
	}
	if len(piped) != len(seq) || setHash(piped) != setHash(seq) {
		t.Errorf("pipelined set: %d coins, hash %s; sequential: %d coins, hash %s", len(piped), setHash(piped), len(seq), setHash(seq))
	}
}

// overlayDepth counts the overlays from v down to the first other view.
func overlayDepth(v View) int {
	n := 0
	for {
		o, ok := v.(*overlay)
		if !ok {
			return n
		}
		n++
		v = o.base
	}
}

// TestPipelinedScriptFailure: a block whose signature is bad is begun, and
// a block on its View after it. Finishing the bad block names the input,
// leaves the set as it was, and the block after it can only be abandoned.
func TestPipelinedScriptFailure(t *testing.T) {
	c, chain, cases := brokenLastBlocks(t)
	var bad *brokenCase
	for i := range cases {
		if errors.Is(cases[i].sentinel, ErrScript) {
			bad = &cases[i]
			break
		}
	}
	if bad == nil {
		t.Fatal("no bad-signature case")
	}
	view := c.view.(MemoryView)
	before, coins := setHash(view), len(view)

	badBlock := encode(t, bad.block)
	first, err := c.v.Begin(view, c.block(badBlock, false))
	if err != nil {
		t.Fatalf("beginning the bad block: %v (its scripts should fail only when finished)", err)
	}
	// A coinbase-only block on top: no input, so it begins whatever the
	// bad block's fate (its coinbase made unique, so BIP30 finds nothing).
	m := copyBlock(t, chain.Blocks[0])
	m.Transactions = m.Transactions[:1]
	m.Transactions[0].TxIn[0].SignatureScript = append(m.Transactions[0].TxIn[0].SignatureScript, 0x51)
	onTop := encode(t, m)
	branch := append(append(headerBranch{}, c.headers...), badBlock.Header)
	second, err := c.v.Begin(first.View(), &Block{Block: onTop, Height: int32(len(c.headers)) + 1, Branch: branch})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Finish(); err == nil {
		t.Fatal("the second block finished before the first")
	}
	_, err = first.Finish()
	var rerr *RuleError
	if !errors.As(err, &rerr) || rerr.Rule != bad.rule {
		t.Fatalf("finishing the bad block: %v, want rule %s", err, bad.rule)
	}
	wantTx := bad.tx
	if wantTx == -2 {
		wantTx = len(bad.block.Transactions) - 1
	}
	if rerr.TxIndex != wantTx || rerr.Input != bad.input {
		t.Errorf("blamed tx %d input %d, want tx %d input %d", rerr.TxIndex, rerr.Input, wantTx, bad.input)
	}
	if _, err := second.Finish(); err == nil {
		t.Error("the block begun on a failed block finished")
	}
	second.Abandon()
	if setHash(view) != before || len(view) != coins {
		t.Errorf("the set changed: %d coins before, %d after", coins, len(view))
	}
}

// TestAbandon: abandoning a pending block (the connector shutting down, or
// a newer target) leaves the set as it was and stops its scripts.
func TestAbandon(t *testing.T) {
	c, chain, _ := brokenLastBlocks(t)
	view := c.view.(MemoryView)
	before, coins := setHash(view), len(view)
	last := encode(t, chain.Blocks[len(chain.Blocks)-1])
	p, err := c.v.Begin(view, c.block(last, false))
	if err != nil {
		t.Fatal(err)
	}
	p.Abandon()
	if setHash(view) != before || len(view) != coins {
		t.Errorf("the set changed: %d coins before, %d after", coins, len(view))
	}
	var rerr *RuleError
	if _, err := p.Finish(); err == nil || errors.As(err, &rerr) {
		t.Errorf("finishing an abandoned block: %v, want an error that is no rule's verdict", err)
	}
	// The same block connects normally afterwards.
	c.mustConnect(last, false)
}
