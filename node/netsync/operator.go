package netsync

import (
	"errors"
	"fmt"
	"maps"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// ErrInvalidatedByOperator is the rule an operator's invalidateblock
// records for the block.
var ErrInvalidatedByOperator = errors.New("invalidated by the operator (invalidateblock)")

// ErrNoBlocks: the node keeps no blocks, so it has none to invalidate.
var ErrNoBlocks = errors.New("the node keeps no blocks")

// ErrUnknownBlock: the header chain does not hold the block.
var ErrUnknownBlock = errors.New("unknown block")

// InvalidateBlock marks block hash invalid at the operator's word, as
// Core's invalidateblock: the header chain leaves it and its descendants
// for the best other branch, the UTXO set follows (the connector
// disconnects to the fork point), and headers building on it are refused
// until ReconsiderBlock.
func (s *Sync) InvalidateBlock(hash chainhash.Hash) error {
	if s.blocks == nil {
		return ErrNoBlocks
	}
	if hash == s.chain.Params().GenesisHash {
		return errors.New("the genesis block cannot be invalidated")
	}
	info, ok := s.chain.Lookup(&hash)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownBlock, hash)
	}
	s.markFailed(hash, info.Height, ErrInvalidatedByOperator)
	s.askConnect()
	s.requestBlocks()
	return nil
}

// ReconsiderBlock lifts an invalid mark, as Core's reconsiderblock: the
// block may be downloaded and validated again. Its headers left the tree
// when it was marked, so every peer is asked for headers from our tip; a
// branch through it with more work comes back that way. It reports whether
// the block was marked.
func (s *Sync) ReconsiderBlock(hash chainhash.Hash) (bool, error) {
	if s.blocks == nil {
		return false, ErrNoBlocks
	}
	marked := s.chain.Reconsider(hash)
	if _, ok := s.blocks.failed[hash]; ok {
		delete(s.blocks.failed, hash)
		s.blocks.failedView = maps.Clone(s.blocks.failed)
		marked = true
	}
	for id := range s.peers {
		s.askTip(id)
	}
	s.core.PublishSoon()
	return marked, nil
}
