package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"

	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/utxo"
	"github.com/watchnode/watchnode/node/validate"
)

// ErrNoBlockData is returned for a block whose header is known but whose
// data the node does not hold (not downloaded yet, or it keeps no blocks).
var ErrNoBlockData = errors.New("block data not stored")

// A block's status, as BlockView.Status names it.
const (
	// BlockConnected: on the best chain, connected to the UTXO set.
	BlockConnected = "connected"
	// BlockStored: on the best chain and stored, not connected yet.
	BlockStored = "stored"
	// BlockSideChain: stored, but not on the best chain.
	BlockSideChain = "side-chain"
	// BlockFailed: found invalid (BlockView.Failed names the rule).
	BlockFailed = "failed"
	// BlockHeaderOnly: only the header is known; the data is not stored.
	BlockHeaderOnly = "header-only"
	// BlockPruned: the data was stored and deleted by pruning.
	BlockPruned = "pruned"
)

// BlockView describes one block for the API: its header, its status and,
// when the node holds its data, what the data holds.
type BlockView struct {
	HeaderView
	// Status sums the fields below up in one word (BlockConnected, ...).
	Status string `json:"status"`
	// HaveData: the block is stored; Connected: it is on the best chain
	// at or below the last connected block; Failed names the rule it
	// broke, if it was found invalid; Pruned: its data was deleted by
	// pruning.
	HaveData  bool   `json:"have_data"`
	Connected bool   `json:"connected"`
	Failed    string `json:"failed,omitempty"`
	Pruned    bool   `json:"pruned,omitempty"`
	// Size, StrippedSize and Weight as Core's getblock reports them.
	Size         int      `json:"size,omitempty"`
	StrippedSize int      `json:"stripped_size,omitempty"`
	Weight       int      `json:"weight,omitempty"`
	TxCount      int      `json:"tx_count,omitempty"`
	TxIDs        []string `json:"txids,omitempty"`
	// Txs describes each transaction, in block order.
	Txs []BlockTxView `json:"txs,omitempty"`
	// HaveUndo: the block's undo data is stored (it was connected), so
	// Fees and each transaction's Fee are known.
	HaveUndo bool `json:"have_undo,omitempty"`
	// Fees is the sum of the transactions' fees, in satoshis.
	Fees *int64 `json:"fees,omitempty"`
	// Subsidy is the new coins a block at this height may create; Claimed
	// is what its coinbase's outputs pay (at most Subsidy plus Fees).
	Subsidy int64 `json:"subsidy"`
	Claimed int64 `json:"claimed,omitempty"`
	// CoinbaseText is the miner's tag: the printable runs of the
	// coinbase's scriptSig (see CoinbaseText).
	CoinbaseText string `json:"coinbase_text,omitempty"`
	// Timeline is the block's life in the node, kept for the last
	// netsync.MaxTimelines blocks; nil for older blocks.
	Timeline *BlockTimeline `json:"timeline,omitempty"`
}

// BlockTxView is one transaction of a block, as a block page lists it.
type BlockTxView struct {
	TxID string `json:"txid"`
	// Size, VSize and Weight as Core's getrawtransaction reports them.
	Size   int `json:"size"`
	VSize  int `json:"vsize"`
	Weight int `json:"weight"`
	// Inputs and Outputs count them; OutputValue sums the outputs.
	Inputs      int   `json:"inputs"`
	Outputs     int   `json:"outputs"`
	OutputValue int64 `json:"output_value"`
	Coinbase    bool  `json:"coinbase,omitempty"`
	// Fee is inputs minus outputs, known from the undo data; nil for the
	// coinbase and without undo data.
	Fee *int64 `json:"fee,omitempty"`
}

// Block looks a block up by height (main chain) or hash, as Header does,
// and adds its status and, when stored, its contents read from the store
// (with fees from its undo data, when it has some). It runs on the caller's
// goroutine and reads the store directly.
func (e *Engine) Block(ctx context.Context, key string) (BlockView, error) {
	snap := e.Snapshot()
	info, err := lookupHeader(snap.Chain, key)
	if err != nil {
		return BlockView{}, err
	}
	v := BlockView{HeaderView: headerView(snap.Chain, info), Connected: info.Main && info.Height <= snap.Status.Blocks,
		Subsidy: validate.Subsidy(info.Height, e.cfg.Params.SubsidyHalvingInterval)}
	v.Failed = snap.FailedBlocks[info.Hash]
	v.Timeline, _ = snap.Blocks.Timeline(info.Hash)
	if err := e.readBlockData(&v, info); err != nil {
		return BlockView{}, err
	}
	v.Status = blockStatus(&v)
	return v, nil
}

// readBlockData fills in what v's block holds, when it is stored, and its
// fees, when its undo data is.
func (e *Engine) readBlockData(v *BlockView, info chain.HeaderInfo) error {
	raw, err := e.readStoredAt(info)
	switch {
	case errors.Is(err, blockstore.ErrPruned):
		v.Pruned = true
		return nil
	case errors.Is(err, ErrNoBlockData):
		return nil
	case err != nil:
		return err
	}
	b, err := consensus.DecodeBlock(raw)
	if err != nil {
		return fmt.Errorf("stored block %s does not decode: %w", info.Hash, err)
	}
	v.HaveData = true
	v.Size, v.StrippedSize, v.Weight, v.TxCount = b.Size, b.StrippedSize, b.Weight(), len(b.TxIDs)
	v.TxIDs = make([]string, len(b.TxIDs))
	for i, id := range b.TxIDs {
		v.TxIDs[i] = id.String()
	}
	v.Txs = blockTxs(b)
	v.Claimed = v.Txs[0].OutputValue
	v.CoinbaseText = CoinbaseText(b.Msg.Transactions[0].TxIn[0].SignatureScript, info.Height)
	undo, err := e.readUndo(info.Hash)
	switch {
	case errors.Is(err, ErrNoBlockData):
		return nil
	case err != nil:
		return err
	}
	return addFees(v, b, undo)
}

// blockStatus names v's status; failing and pruning say more than where
// the block is.
func blockStatus(v *BlockView) string {
	switch {
	case v.Failed != "":
		return BlockFailed
	case v.Pruned:
		return BlockPruned
	case v.Connected:
		// A connected block may be pruned too (above); one without its
		// data that is connected is still connected.
		return BlockConnected
	case !v.HaveData:
		return BlockHeaderOnly
	case v.MainChain:
		return BlockStored
	}
	return BlockSideChain
}

// blockTxs describes b's transactions; their fees come later, from the
// undo data.
func blockTxs(b *consensus.Block) []BlockTxView {
	txs := make([]BlockTxView, len(b.Msg.Transactions))
	for i, tx := range b.Msg.Transactions {
		size, stripped := tx.SerializeSize(), tx.SerializeSizeStripped()
		weight := stripped*(consensus.WitnessScaleFactor-1) + size
		t := BlockTxView{TxID: b.TxIDs[i].String(), Size: size, Weight: weight,
			VSize:  (weight + consensus.WitnessScaleFactor - 1) / consensus.WitnessScaleFactor,
			Inputs: len(tx.TxIn), Outputs: len(tx.TxOut), Coinbase: i == 0}
		for _, o := range tx.TxOut {
			t.OutputValue += o.Value
		}
		txs[i] = t
	}
	return txs
}

// addFees sets each transaction's fee and the block's total from its undo
// data, which holds the output every input spent, in block order (the
// coinbase has none).
func addFees(v *BlockView, b *consensus.Block, undo *utxo.BlockUndo) error {
	if len(undo.Txs) != len(b.Msg.Transactions)-1 {
		return fmt.Errorf("%w: undo data of block %s has %d transactions, the block %d besides its coinbase",
			blockstore.ErrCorrupt, b.Hash, len(undo.Txs), len(b.Msg.Transactions)-1)
	}
	var total int64
	for i, tx := range b.Msg.Transactions[1:] {
		spent := undo.Txs[i].Spent
		if len(spent) != len(tx.TxIn) {
			return fmt.Errorf("%w: undo data of block %s: transaction %d spends %d outputs, has %d inputs",
				blockstore.ErrCorrupt, b.Hash, i+1, len(spent), len(tx.TxIn))
		}
		var in int64
		for _, c := range spent {
			in += c.Out.Value
		}
		fee := in - v.Txs[i+1].OutputValue
		v.Txs[i+1].Fee = &fee
		total += fee
	}
	v.HaveUndo, v.Fees = true, &total
	return nil
}

// minTextRun is the shortest printable run CoinbaseText keeps: shorter
// ones are mostly bytes of numbers (extranonces, heights) that happen to
// be printable, as block explorers also judge.
const minTextRun = 4

// CoinbaseText is the text a miner put in a coinbase's scriptSig (its
// "tag"): the runs of at least four printable ASCII characters, joined by
// spaces. The BIP34 height push at height is skipped, and when the rest
// is a script of pushes only, each push's data is searched on its own, so a push's
// length byte that happens to be printable does not join the text (the
// genesis block's "The Times ..." is pushed with 0x45, an "E").
func CoinbaseText(script []byte, height int32) string {
	script = bytes.TrimPrefix(script, consensus.CoinbaseHeightPrefix(height))
	var parts [][]byte
	pushesOnly := true
	tok := txscript.MakeScriptTokenizer(0, script)
	for tok.Next() {
		if tok.Opcode() > txscript.OP_16 {
			pushesOnly = false
			break
		}
		if d := tok.Data(); len(d) > 0 {
			parts = append(parts, d)
		}
	}
	if !pushesOnly || tok.Err() != nil {
		// Not a script of pushes (the rules do not ask for one; some
		// miners write bare text): search the bytes as they are.
		parts = [][]byte{script}
	}
	var runs []string
	for _, p := range parts {
		runs = append(runs, printableRuns(p)...)
	}
	return joinWords(runs)
}

// printableRuns returns the runs of minTextRun or more printable ASCII
// characters in b, each with its spaces trimmed.
func printableRuns(b []byte) []string {
	var runs []string
	start := -1
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] >= 0x20 && b[i] <= 0x7e {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if r := bytes.TrimSpace(b[start:i]); len(r) >= minTextRun {
				runs = append(runs, string(r))
			}
			start = -1
		}
	}
	return runs
}

func joinWords(words []string) string {
	var b bytes.Buffer
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}

// RawBlock returns a block's serialization (with witness data) by height
// or hash.
func (e *Engine) RawBlock(ctx context.Context, key string) ([]byte, error) {
	info, err := lookupHeader(e.Snapshot().Chain, key)
	if err != nil {
		return nil, err
	}
	return e.readStored(info.Hash)
}

// readStored reads a block from the store, safely against the store
// closing at shutdown.
func (e *Engine) readStored(hash chainhash.Hash) ([]byte, error) {
	e.blocksMu.RLock()
	defer e.blocksMu.RUnlock()
	if e.blocks == nil || e.blocksClosed {
		return nil, fmt.Errorf("%w: %s (%s)", ErrNoBlockData, hash, e.noStoreReason("blocks"))
	}
	raw, err := e.blocks.ReadBlock(hash)
	if errors.Is(err, blockstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoBlockData, hash)
	}
	return raw, err
}

// readStoredAt is readStored for a header of the chain, whose height tells
// a pruned block (blockstore.ErrPruned, which is not ErrNoBlockData) from
// one never stored.
func (e *Engine) readStoredAt(info chain.HeaderInfo) ([]byte, error) {
	e.blocksMu.RLock()
	defer e.blocksMu.RUnlock()
	if e.blocks == nil || e.blocksClosed {
		return nil, fmt.Errorf("%w: %s (%s)", ErrNoBlockData, info.Hash, e.noStoreReason("blocks"))
	}
	raw, err := e.blocks.ReadBlockAt(info.Hash, info.Height)
	if errors.Is(err, blockstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoBlockData, info.Hash)
	}
	return raw, err
}
