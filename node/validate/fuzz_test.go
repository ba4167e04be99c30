package validate

import (
	"bytes"
	"math"
	"testing"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
	"github.com/watchnode/watchnode/node/utxo"
)

// fuzzView is a small UTXO set for FuzzConnectTransaction: coins of
// several kinds (anyone-can-spend, a mature and an immature coinbase, a
// P2PKH no fuzzer can sign for) under txids 1..4.
func fuzzView() MemoryView {
	v := MemoryView{}
	add := func(id byte, index uint32, c utxo.Coin) {
		var op wire.OutPoint
		op.Hash[0], op.Index = id, index
		v[op] = c
	}
	add(1, 0, utxo.Coin{Out: wire.TxOut{Value: 50_000, PkScript: []byte{txscript.OP_TRUE}}, Height: 10})
	add(1, 1, utxo.Coin{Out: wire.TxOut{Value: consensus.MaxMoney, PkScript: []byte{txscript.OP_TRUE}}, Height: 10})
	add(2, 0, utxo.Coin{Out: wire.TxOut{Value: 5_000_000_000, PkScript: []byte{txscript.OP_TRUE}}, Height: 1, Coinbase: true})
	add(3, 0, utxo.Coin{Out: wire.TxOut{Value: 5_000_000_000, PkScript: []byte{txscript.OP_TRUE}}, Height: 150, Coinbase: true})
	p2pkh := append([]byte{txscript.OP_DUP, txscript.OP_HASH160, 20}, make([]byte, 20)...)
	add(4, 0, utxo.Coin{Out: wire.TxOut{Value: 70_000, PkScript: append(p2pkh, txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG)}, Height: 20})
	return v
}

// FuzzConnectTransaction connects a block of a coinbase and one arbitrary
// (well-formed) transaction on a small UTXO set: Connect either fails with
// a *RuleError and leaves the set as it was, or succeeds and Disconnect
// with its undo data (through its encoding) restores the set exactly.
func FuzzConnectTransaction(f *testing.F) {
	seed := wire.NewMsgTx(2)
	seed.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: [32]byte{1}}, Sequence: math.MaxUint32})
	seed.AddTxOut(wire.NewTxOut(40_000, []byte{txscript.OP_TRUE}))
	var buf bytes.Buffer
	seed.Serialize(&buf)
	f.Add(buf.Bytes(), uint8(0))
	seed.TxIn[0].PreviousOutPoint.Hash[0] = 3 // immature
	buf.Reset()
	seed.Serialize(&buf)
	f.Add(buf.Bytes(), uint8(1))

	p := consensus.ParamsFor(protocol.Regtest)
	const height = 200
	branch := make(headerBranch, height)
	branch[0] = p.Genesis
	for h := 1; h < height; h++ {
		branch[h] = consensus.Header{Version: 4, PrevBlock: branch[h-1].Hash(), Timestamp: branch[h-1].Timestamp + 600, Bits: p.PowLimitBits}
	}
	v := newValidator(f, p)
	f.Fuzz(func(t *testing.T, txBytes []byte, extra uint8) {
		var tx wire.MsgTx
		if err := tx.Deserialize(bytes.NewReader(txBytes)); err != nil || consensus.CheckTransaction(&tx) != nil || consensus.IsCoinbase(&tx) {
			return
		}
		cb := wire.NewMsgTx(1)
		cb.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: math.MaxUint32}, SignatureScript: append(consensus.CoinbaseHeightPrefix(height), extra), Sequence: math.MaxUint32})
		cb.AddTxOut(wire.NewTxOut(int64(extra)*1000, []byte{txscript.OP_TRUE}))
		msg := &wire.MsgBlock{Header: wire.BlockHeader{Version: 4, PrevBlock: branch[height-1].Hash(), Bits: p.PowLimitBits}}
		msg.AddTransaction(cb)
		msg.AddTransaction(&tx)
		var raw bytes.Buffer
		if err := msg.Serialize(&raw); err != nil {
			return
		}
		b, err := consensus.DecodeBlock(raw.Bytes())
		if err != nil {
			return
		}
		view := fuzzView()
		before := cloneView(view)
		blk := &Block{Block: b, Height: height, Branch: branch}
		res, err := v.Connect(view, blk)
		if err != nil {
			if _, ok := err.(*RuleError); !ok {
				t.Fatalf("Connect failed without a rule: %v", err)
			}
			if !equalViews(view, before) {
				t.Fatal("a rejected block changed the set")
			}
			return
		}
		undo, err := utxo.DecodeBlockUndo(utxo.AppendBlockUndo(nil, res.Undo))
		if err != nil {
			t.Fatalf("undo data does not decode: %v", err)
		}
		if _, err := v.Disconnect(view, blk, undo); err != nil {
			t.Fatalf("disconnecting: %v", err)
		}
		if !equalViews(view, before) {
			t.Fatal("connect then disconnect did not restore the set")
		}
	})
}
