package engine

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/utxo"
)

// ErrNoCoin is returned for an output the UTXO set does not hold (never
// created, already spent, or unspendable).
var ErrNoCoin = errors.New("no such unspent output")

// ErrNoTx is returned for a transaction the named block does not contain.
var ErrNoTx = errors.New("transaction not in the block")

// TxOutView is an unspent output, as Core's gettxout reports it.
type TxOutView struct {
	// BestBlock is the block the UTXO set reflected when it was read;
	// Confirmations counts the blocks from the coin's block to it.
	BestBlock     string `json:"bestblock"`
	Confirmations int32  `json:"confirmations"`
	// Value is in satoshis (Core reports bitcoin; satoshis keep it exact).
	Value        int64  `json:"value_sat"`
	ScriptPubKey string `json:"script_pubkey"`
	Height       int32  `json:"height"`
	Coinbase     bool   `json:"coinbase"`
}

// TxOut looks an output up in the UTXO set (Core's gettxout). The set is
// read while the connector may be applying a block: the answer is the
// coin's state at BestBlock or at the block being connected.
func (e *Engine) TxOut(_ context.Context, txid string, vout uint32) (TxOutView, error) {
	hash, err := chainhash.NewHashFromStr(txid)
	if err != nil || len(txid) != 64 {
		return TxOutView{}, fmt.Errorf("txid %q is %w", txid, ErrBadKey)
	}
	e.blocksMu.RLock()
	defer e.blocksMu.RUnlock()
	if e.utxo == nil || e.blocksClosed {
		return TxOutView{}, fmt.Errorf("%w: %s", ErrNoCoin, e.noStoreReason("UTXO set"))
	}
	best := e.utxo.Best()
	c, ok, err := e.utxo.Get(wire.OutPoint{Hash: *hash, Index: vout})
	if err != nil {
		return TxOutView{}, err
	}
	if !ok {
		return TxOutView{}, fmt.Errorf("%w: %s:%d", ErrNoCoin, txid, vout)
	}
	return TxOutView{BestBlock: best.Hash.String(), Confirmations: best.Height - c.Height + 1, Value: c.Out.Value,
		ScriptPubKey: hex.EncodeToString(c.Out.PkScript), Height: c.Height, Coinbase: c.Coinbase}, nil
}

// TxView is a transaction of a stored block with what its inputs spent,
// from the block's undo data when the block is connected.
type TxView struct {
	TxID  string `json:"txid"`
	WTxID string `json:"wtxid"`
	Block string `json:"block"`
	Index int    `json:"index"`
	// Size, VSize and Weight as Core's getrawtransaction reports them.
	Size   int `json:"size"`
	VSize  int `json:"vsize"`
	Weight int `json:"weight"`
	// Hex is the serialization with witness data.
	Hex      string       `json:"hex"`
	Coinbase bool         `json:"coinbase"`
	Inputs   []TxInView   `json:"inputs"`
	Outputs  []TxOutEntry `json:"outputs"`
	// Fee is inputs minus outputs, in satoshis; set (with each input's
	// Spent) only when the block's undo data is stored.
	Fee *int64 `json:"fee,omitempty"`
}

// TxInView is one input.
type TxInView struct {
	Prevout  string   `json:"prevout"` // txid:vout
	Sequence uint32   `json:"sequence"`
	Script   string   `json:"script_sig"`
	Witness  []string `json:"witness,omitempty"`
	// Spent is the output the input spent, from the undo data.
	Spent *TxOutEntry `json:"spent,omitempty"`
}

// TxOutEntry is an output: value and script, and for a spent one the
// height of the block that created it.
type TxOutEntry struct {
	Value        int64  `json:"value_sat"`
	ScriptPubKey string `json:"script_pubkey"`
	Height       *int32 `json:"height,omitempty"`
	Coinbase     bool   `json:"coinbase,omitempty"`
}

// Tx returns transaction txid of the stored block blockKey (a hash or a
// main-chain height), with its fee and spent outputs when the block's undo
// data is stored (the block was connected).
func (e *Engine) Tx(_ context.Context, txid, blockKey string) (TxView, error) {
	want, err := chainhash.NewHashFromStr(txid)
	if err != nil || len(txid) != 64 {
		return TxView{}, fmt.Errorf("txid %q is %w", txid, ErrBadKey)
	}
	info, err := lookupHeader(e.Snapshot().Chain, blockKey)
	if err != nil {
		return TxView{}, err
	}
	raw, err := e.readStored(info.Hash)
	if err != nil {
		return TxView{}, err
	}
	b, err := consensus.DecodeBlock(raw)
	if err != nil {
		return TxView{}, fmt.Errorf("stored block %s does not decode: %w", info.Hash, err)
	}
	idx := -1
	for i, id := range b.TxIDs {
		if id == *want {
			idx = i
			break
		}
	}
	if idx < 0 {
		return TxView{}, fmt.Errorf("%w: %s in block %s", ErrNoTx, txid, info.Hash)
	}
	tx := b.Msg.Transactions[idx]
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return TxView{}, err
	}
	weight := tx.SerializeSizeStripped()*(consensus.WitnessScaleFactor-1) + tx.SerializeSize()
	v := TxView{TxID: txid, WTxID: b.WTxIDs[idx].String(), Block: info.Hash.String(), Index: idx,
		Size: tx.SerializeSize(), Weight: weight, VSize: (weight + consensus.WitnessScaleFactor - 1) / consensus.WitnessScaleFactor,
		Hex: hex.EncodeToString(buf.Bytes()), Coinbase: idx == 0}
	for _, in := range tx.TxIn {
		iv := TxInView{Prevout: in.PreviousOutPoint.String(), Sequence: in.Sequence, Script: hex.EncodeToString(in.SignatureScript)}
		for _, w := range in.Witness {
			iv.Witness = append(iv.Witness, hex.EncodeToString(w))
		}
		v.Inputs = append(v.Inputs, iv)
	}
	var out int64
	for _, o := range tx.TxOut {
		v.Outputs = append(v.Outputs, TxOutEntry{Value: o.Value, ScriptPubKey: hex.EncodeToString(o.PkScript)})
		out += o.Value
	}
	if idx == 0 {
		return v, nil
	}
	undo, err := e.readUndo(info.Hash)
	if errors.Is(err, ErrNoBlockData) {
		return v, nil
	}
	if err != nil {
		return TxView{}, err
	}
	if len(undo.Txs) != len(b.TxIDs)-1 || len(undo.Txs[idx-1].Spent) != len(tx.TxIn) {
		return TxView{}, fmt.Errorf("%w: undo data of block %s does not match it", blockstore.ErrCorrupt, info.Hash)
	}
	var in int64
	for j, c := range undo.Txs[idx-1].Spent {
		h := c.Height
		v.Inputs[j].Spent = &TxOutEntry{Value: c.Out.Value, ScriptPubKey: hex.EncodeToString(c.Out.PkScript), Height: &h, Coinbase: c.Coinbase}
		in += c.Out.Value
	}
	fee := in - out
	v.Fee = &fee
	return v, nil
}

// readUndo reads a block's undo data, safely against the store closing.
func (e *Engine) readUndo(hash chainhash.Hash) (*utxo.BlockUndo, error) {
	e.blocksMu.RLock()
	defer e.blocksMu.RUnlock()
	if e.blocks == nil || e.blocksClosed {
		return nil, fmt.Errorf("%w: %s (%s)", ErrNoBlockData, hash, e.noStoreReason("blocks"))
	}
	raw, err := e.blocks.ReadUndo(hash)
	if errors.Is(err, blockstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: no undo data for %s", ErrNoBlockData, hash)
	}
	if err != nil {
		return nil, err
	}
	u, err := utxo.DecodeBlockUndo(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: undo data of block %s: %v", blockstore.ErrCorrupt, hash, err)
	}
	return u, nil
}
