package engine

import (
	"context"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/p2p"
)

// readAheadBlocks is how far above the block the connector asked for last
// the read-ahead reads: far enough that the connector does not wait for a
// decode, near enough that the blocks read (eight full mainnet blocks,
// about 20 MiB decoded) stay within the handoff's bound.
const readAheadBlocks = 8

// readAhead reads and decodes, on its own goroutine, the stored blocks of
// the newest target the connector will connect next and the handoff does
// not hold: blocks stored before a restart, and blocks the download stored
// further ahead than the handoff keeps. Decoding a block and hashing its
// transactions cost about a fifth of connecting it when its scripts are
// not verified (-assumevalid), and the connector's goroutine sets the pace
// of IBD: this moves that work to another core. It is only a hint. A
// block it cannot read or decode is left to the connector, which reads it
// itself and reports the error; a block of a chain the connector leaves is
// dropped from the handoff first. It runs until ctx ends.
func (c *connector) readAhead(ctx context.Context) {
	// The genesis block is never connected (a new set starts on it), and
	// reading it would be the only index read of a node that syncs
	// headers alone: a lookup in an index of a million headers caches
	// its filter, a megabyte and more.
	next := int32(1) // the next height to read
	for {
		passed, moved := c.handoff.progress()
		next = max(next, passed+1)
		t := c.newest.Load()
		if t == nil || next > t.Height || next > passed+readAheadBlocks {
			select {
			case <-ctx.Done():
				return
			case <-moved:
			}
			continue
		}
		height := next
		next++
		hash := t.View.HashAt(height)
		if !c.handoff.wanted(hash, height) {
			continue
		}
		raw, err := c.blocks.ReadBlock(hash)
		if err != nil {
			continue
		}
		cost, err := p2p.MessageCost(wire.CmdBlock, raw)
		if err != nil {
			continue
		}
		b, err := consensus.DecodeBlock(raw)
		if err != nil || b.Hash != hash {
			continue
		}
		c.handoff.put(b, height, cost)
	}
}
