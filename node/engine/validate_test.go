package engine

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// mineCoinbaseBlock makes a regtest block on prev at height holding only a
// coinbase that pays value to OP_TRUE (tag makes branches differ), with a
// valid proof of work.
func mineCoinbaseBlock(t *testing.T, prev *wire.BlockHeader, height int32, value int64, tag byte) *wire.MsgBlock {
	t.Helper()
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: math.MaxUint32},
		SignatureScript: append(consensus.CoinbaseHeightPrefix(height), tag), Sequence: math.MaxUint32})
	cb.AddTxOut(wire.NewTxOut(value, []byte{txscript.OP_TRUE}))
	b := &wire.MsgBlock{Header: wire.BlockHeader{Version: 0x20000000, PrevBlock: prev.BlockHash(),
		MerkleRoot: cb.TxHash(), Timestamp: prev.Timestamp.Add(time.Second), Bits: 0x207fffff}}
	b.AddTransaction(cb)
	target, _, _ := consensus.CompactToU256(b.Header.Bits)
	for {
		h := b.Header.BlockHash()
		if consensus.HashToU256(&h).Cmp(target) <= 0 {
			return b
		}
		b.Header.Nonce++
	}
}

func serialize(t *testing.T, b *wire.MsgBlock) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := b.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestConnectorReorgsAndInvalidBlocks drives the block connector through
// a node's real seams (peers on loopback serving real block bytes):
//   - a generated chain with signed spends is connected, every script
//     verified;
//   - a peer shows a longer branch from height 105: the connector
//     disconnects 106..110 (their spends come back, their outputs go) and
//     connects the branch;
//   - a block that breaks a UTXO rule (its coinbase claims a satoshi too
//     many) is marked failed with the rule, and the node stays on its
//     parent;
//   - the operator's invalidateblock sends the node back to the first
//     branch, reconsiderblock forward again, with the same UTXO set hash
//     as before.
func TestConnectorReorgsAndInvalidBlocks(t *testing.T) {
	gen, err := blockgen.Generate(blockgen.Options{Seed: 9, Blocks: 110, TxPerBlock: 2, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	genesis := protocol.Regtest.Params().GenesisBlock
	rawA := [][]byte{serialize(t, genesis)}
	for i := range gen.Blocks {
		rawA = append(rawA, gen.Raw(i))
	}
	r, addr := blockNode(t)
	magic := protocol.Regtest.Magic()
	a := newServedChain(t, rawA)
	peerA := netPeer{dialRaw(t, addr), magic}
	peerA.handshake(940, 110)
	go a.serve(peerA, func(h int) []byte { return a.raw[h] })
	waitForWithin(t, 60*time.Second, "chain A connected", func() bool { return r.e.Snapshot().Status.Blocks == 110 })
	if st := r.e.Snapshot().Status; st.UTXO == nil || st.UTXO.Height != 110 || st.UTXO.Coins == 0 {
		t.Fatalf("UTXO status after chain A: %+v", st.UTXO)
	}

	// A spend in A's block 108 and the output it spent.
	spend := gen.Blocks[107].Transactions[1]
	spentOut := spend.TxIn[0].PreviousOutPoint
	if _, err := r.e.TxOut(t.Context(), spentOut.Hash.String(), spentOut.Index); !errors.Is(err, ErrNoCoin) {
		t.Fatalf("the output A's block 108 spends: %v, want ErrNoCoin", err)
	}
	if _, err := r.e.TxOut(t.Context(), spend.TxHash().String(), 0); err != nil {
		t.Fatalf("the output A's block 108 creates: %v", err)
	}
	tx, err := r.e.Tx(t.Context(), spend.TxHash().String(), "108")
	if err != nil || tx.Fee == nil || *tx.Fee < 0 || tx.Inputs[0].Spent == nil {
		t.Fatalf("GET tx of block 108: %+v %v", tx, err)
	}

	// Branch B: 105 then six coinbase-only blocks, more work than A.
	rawB := append([][]byte(nil), rawA[:106]...)
	prev := gen.Blocks[104].Header
	var branch []*wire.MsgBlock
	for h := int32(106); h <= 111; h++ {
		b := mineCoinbaseBlock(t, &prev, h, 50*100_000_000, 'B')
		branch = append(branch, b)
		rawB = append(rawB, serialize(t, b))
		prev = b.Header
	}
	tipB := branch[len(branch)-1].BlockHash()
	b := newServedChain(t, rawB)
	peerB := netPeer{dialRaw(t, addr), magic}
	peerB.handshake(941, 111)
	go b.serve(peerB, func(h int) []byte { return b.raw[h] })
	if err := peerB.sendMsgs(&wire.MsgHeaders{Headers: []*wire.BlockHeader{&branch[0].Header, &branch[1].Header, &branch[2].Header,
		&branch[3].Header, &branch[4].Header, &branch[5].Header}}); err != nil {
		t.Fatal(err)
	}
	waitForWithin(t, 60*time.Second, "the reorg to branch B", func() bool {
		st := r.e.Snapshot().Status
		return st.Blocks == 111 && st.BestHash == tipB.String()
	})
	if _, err := r.e.TxOut(t.Context(), spentOut.Hash.String(), spentOut.Index); err != nil {
		t.Errorf("after the reorg, the output A's block 108 spent is not back: %v", err)
	}
	if _, err := r.e.TxOut(t.Context(), spend.TxHash().String(), 0); !errors.Is(err, ErrNoCoin) {
		t.Errorf("after the reorg, A's block 108's output: %v, want ErrNoCoin", err)
	}
	if _, err := r.e.TxOut(t.Context(), branch[5].Transactions[0].TxHash().String(), 0); err != nil {
		t.Errorf("B's tip's coinbase output: %v", err)
	}
	waitForWithin(t, 30*time.Second, "the set flushed at B's tip", func() bool { return r.e.Snapshot().Status.UTXO.MuHashHeight == 111 })
	atB := r.e.Snapshot().Status.UTXO

	// Block 112 on B claims a satoshi more than the subsidy.
	bad := mineCoinbaseBlock(t, &branch[5].Header, 112, 50*100_000_000+1, 'B')
	badHash := bad.BlockHash()
	b.raw = append(b.raw, serialize(t, bad))
	b.headers = append(b.headers, bad.Header)
	b.height[badHash] = 112
	if err := peerB.sendMsgs(&wire.MsgHeaders{Headers: []*wire.BlockHeader{&bad.Header}}); err != nil {
		t.Fatal(err)
	}
	waitForWithin(t, 30*time.Second, "block 112 to be marked failed", func() bool {
		_, failed := r.e.Snapshot().FailedBlocks[badHash]
		return failed
	})
	s := r.e.Snapshot()
	if rule := s.FailedBlocks[badHash]; rule != "bad-cb-amount" {
		t.Errorf("block 112 failed with %q, want bad-cb-amount", rule)
	}
	if s.Status.Blocks != 111 || s.Status.Headers != 111 || s.Status.BestHash != tipB.String() {
		t.Errorf("after the invalid block: blocks %d headers %d best %s; want 111 on B", s.Status.Blocks, s.Status.Headers, s.Status.BestHash)
	}

	// invalidateblock on B's 109: back to A (110 blocks, more work than
	// B's 108); reconsiderblock: forward to B again.
	if err := r.e.InvalidateBlock(t.Context(), branch[3].BlockHash().String()); err != nil {
		t.Fatal(err)
	}
	tipA := gen.Blocks[109].BlockHash()
	waitForWithin(t, 30*time.Second, "the node back on chain A", func() bool {
		st := r.e.Snapshot().Status
		return st.Blocks == 110 && st.BestHash == tipA.String()
	})
	if _, err := r.e.TxOut(t.Context(), spend.TxHash().String(), 0); err != nil {
		t.Errorf("back on A, its block 108's output: %v", err)
	}
	marked, err := r.e.ReconsiderBlock(t.Context(), branch[3].BlockHash().String())
	if err != nil || !marked {
		t.Fatalf("reconsiderblock: %v %v", marked, err)
	}
	defer func() {
		if t.Failed() {
			s := r.e.Snapshot()
			t.Logf("status: blocks %d headers %d best %s; sync %+v; peers %d; disconnects %+v; failed %v",
				s.Status.Blocks, s.Status.Headers, s.Status.BestHash, s.Status.Sync.Blocks, len(s.Peers), s.Disconnects, s.FailedBlocks)
		}
	}()
	waitForWithin(t, 30*time.Second, "the node back on branch B", func() bool {
		st := r.e.Snapshot().Status
		return st.Blocks == 111 && st.BestHash == tipB.String() && st.UTXO.MuHashHeight == 111
	})
	if again := r.e.Snapshot().Status.UTXO; again.MuHash != atB.MuHash || again.Coins != atB.Coins {
		t.Errorf("back on B: %d coins, MuHash %s; the first time %d, %s", again.Coins, again.MuHash, atB.Coins, atB.MuHash)
	}
	var unknown chainhash.Hash
	unknown[0] = 7
	if err := r.e.InvalidateBlock(t.Context(), unknown.String()); !errors.Is(err, ErrUnknownHeader) {
		t.Errorf("invalidating an unknown block: %v", err)
	}
}

// TestUTXOWriteFailureStopsTheNode: a node connecting stored blocks whose
// UTXO set cannot be written (its first flush fails, as on a full disk)
// stops with an error that says so; restarted on a working disk, it
// connects the blocks again and ends with the same set as a node that never
// failed.
func TestUTXOWriteFailureStopsTheNode(t *testing.T) {
	gen, err := blockgen.Generate(blockgen.Options{Seed: 21, Blocks: 120, TxPerBlock: 2, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	seedBlocks(t, dir, gen)
	cfg := Config{Network: protocol.Regtest, DataDir: dir, Listen: "127.0.0.1:0",
		utxoFailWrites: func() error { return &os.PathError{Op: "write", Path: "chainstate", Err: syscall.ENOSPC} }}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(t.Context()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "UTXO set failed") || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Run returned %v, want the UTXO set's failure (ENOSPC)", err)
		}
		t.Logf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatalf("the node kept running after its UTXO set failed: %+v", e.Snapshot().Status)
	}

	// Restarted with a working disk: every block connected again.
	cfg.utxoFailWrites = nil
	r := startEngine(t, cfg)
	waitForWithin(t, 60*time.Second, "the blocks connected after the restart", func() bool {
		u := r.e.Snapshot().Status.UTXO
		return u != nil && u.MuHashHeight == 120
	})
	clean := t.TempDir()
	seedBlocks(t, clean, gen)
	c := startEngine(t, Config{Network: protocol.Regtest, DataDir: clean, Listen: "127.0.0.1:0"})
	waitForWithin(t, 60*time.Second, "the clean node's blocks connected", func() bool {
		u := c.e.Snapshot().Status.UTXO
		return u != nil && u.MuHashHeight == 120
	})
	if got, want := r.e.Snapshot().Status.UTXO, c.e.Snapshot().Status.UTXO; got.MuHash != want.MuHash || got.Coins != want.Coins {
		t.Errorf("after the failure and restart: %d coins, MuHash %s; a clean node: %d, %s", got.Coins, got.MuHash, want.Coins, want.MuHash)
	}
}
