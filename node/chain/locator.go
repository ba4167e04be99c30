package chain

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// Locator returns a block locator for the main chain's tip, as Bitcoin Core
// builds it: the last 10 hashes one by one, then exponentially further
// back, always ending with the genesis hash.
func (c *Chain) Locator() []chainhash.Hash { return c.LocatorAt(c.Height()) }

// LocatorAt returns a locator starting at main-chain height.
func (c *Chain) LocatorAt(height int32) []chainhash.Hash {
	var loc []chainhash.Hash
	step := int32(1)
	for h := height; ; h -= step {
		if h <= 0 {
			loc = append(loc, c.HashAt(0))
			return loc
		}
		loc = append(loc, c.HashAt(h))
		if len(loc) >= 10 {
			step *= 2
		}
	}
}

// HeadersAfter answers getheaders: up to max main-chain headers after the
// first locator hash found on the main chain (after genesis when none is),
// stopping after stop unless stop is zero; an empty locator asks for the
// stop header alone. As in Core, a locator hash on a
// fork is not followed: the fork's common ancestor would be found by a
// later entry of the locator.
func (c *Chain) HeadersAfter(locator []chainhash.Hash, stop chainhash.Hash, max int) []consensus.Header {
	if len(locator) == 0 {
		// Core: an empty locator asks for the stop header alone.
		if h, ok := c.MainHeight(&stop); ok && h > 0 {
			return []consensus.Header{c.headers[h]}
		}
		return nil
	}
	start := int32(0)
	for i := range locator {
		if h, ok := c.MainHeight(&locator[i]); ok {
			start = h
			break
		}
	}
	var out []consensus.Header
	for h := start + 1; h <= c.Height() && len(out) < max; h++ {
		out = append(out, c.headers[h])
		if !stop.IsEqual(&chainhash.Hash{}) && c.HashAt(h) == stop {
			break
		}
	}
	return out
}
