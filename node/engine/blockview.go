package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/consensus"
)

// ErrNoBlockData is returned for a block whose header is known but whose
// data the node does not hold (not downloaded yet, or it keeps no blocks).
var ErrNoBlockData = errors.New("block data not stored")

// BlockView describes one block for the API: its header, its status and,
// when the node holds its data, what the data holds.
type BlockView struct {
	HeaderView
	// HaveData: the block is stored; Connected: it is on the best chain
	// at or below the last connected block; Failed names the rule it
	// broke, if it was found invalid.
	HaveData  bool   `json:"have_data"`
	Connected bool   `json:"connected"`
	Failed    string `json:"failed,omitempty"`
	// Size, StrippedSize and Weight as Core's getblock reports them.
	Size         int      `json:"size,omitempty"`
	StrippedSize int      `json:"stripped_size,omitempty"`
	Weight       int      `json:"weight,omitempty"`
	TxCount      int      `json:"tx_count,omitempty"`
	TxIDs        []string `json:"txids,omitempty"`
	// Timeline is the block's life in the node, kept for the last
	// netsync.MaxTimelines blocks; nil for older blocks.
	Timeline *BlockTimeline `json:"timeline,omitempty"`
}

// Block looks a block up by height (main chain) or hash, as Header does,
// and adds its status and, when stored, its contents read from the store.
// It runs on the caller's goroutine and reads the store directly.
func (e *Engine) Block(ctx context.Context, key string) (BlockView, error) {
	snap := e.Snapshot()
	info, err := lookupHeader(snap.Chain, key)
	if err != nil {
		return BlockView{}, err
	}
	h := headerView(snap.Chain, info)
	v := BlockView{HeaderView: h, Connected: info.Main && info.Height <= snap.Status.Blocks}
	v.Failed = snap.FailedBlocks[info.Hash]
	v.Timeline, _ = snap.Blocks.Timeline(info.Hash)
	raw, err := e.readStored(info.Hash)
	switch {
	case errors.Is(err, ErrNoBlockData):
		return v, nil
	case err != nil:
		return BlockView{}, err
	}
	b, err := consensus.DecodeBlock(raw)
	if err != nil {
		return BlockView{}, fmt.Errorf("stored block %s does not decode: %w", h.Hash, err)
	}
	v.HaveData = true
	v.Size, v.StrippedSize, v.Weight, v.TxCount = b.Size, b.StrippedSize, b.Weight(), len(b.TxIDs)
	v.TxIDs = make([]string, len(b.TxIDs))
	for i, id := range b.TxIDs {
		v.TxIDs[i] = id.String()
	}
	return v, nil
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
		return nil, fmt.Errorf("%w: %s (the node keeps no blocks)", ErrNoBlockData, hash)
	}
	raw, err := e.blocks.ReadBlock(hash)
	if errors.Is(err, blockstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoBlockData, hash)
	}
	return raw, err
}
