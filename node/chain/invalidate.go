package chain

import (
	"errors"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// ErrInvalidAncestor: a header is, or builds on, a block found invalid
// (Core's "bad-prevblk"). No honest peer sends it once it knows the block.
var ErrInvalidAncestor = errors.New("header is or builds on a block found invalid")

// MaxInvalid bounds the invalid blocks remembered. Each takes a header with
// valid proof of work on a chain with the most work, so an attacker cannot
// make many; past the bound an arbitrary one is forgotten (its chain would
// then be downloaded and found invalid again).
const MaxInvalid = 10_000

// InvalidateResult says what marking a block invalid did to the chain.
type InvalidateResult struct {
	// Removed is how many main-chain headers were taken off (the block and
	// every header above it), 0 when the block was not on the main chain.
	Removed int
	// Reorg describes the change of the main chain when there was one: from
	// the old tip to the fork point, and on to the best remaining branch
	// when one has more work than the fork point.
	Reorg *Reorg
	// Writes record the change in the header store, in order.
	Writes []Write
}

// Invalidate marks the block hash invalid, as Core's InvalidBlockFound
// does for a block that broke a rule: the block and every header that
// builds on it leave the tree (a header arriving later that builds on it
// is refused with ErrInvalidAncestor), and when it was on the main chain
// the main chain falls back to its parent and then follows the remaining
// branch with the most work. The genesis block cannot be invalidated.
//
// Headers above the invalid block are forgotten, not kept as invalid: the
// mark on the block is enough to refuse them again. The marks live in
// memory only; after a restart the chain may be downloaded again and its
// invalid block found invalid again.
func (c *Chain) Invalidate(hash chainhash.Hash) InvalidateResult {
	if hash == c.params.GenesisHash {
		return InvalidateResult{}
	}
	c.markInvalid(hash)
	if n, ok := c.forks.nodes[hash]; ok {
		c.removeDescendants(func(m *forkNode) bool { return m == n })
		return InvalidateResult{}
	}
	height, ok := c.MainHeight(&hash)
	if !ok {
		return InvalidateResult{}
	}
	// Forks leaving the main chain at or above the invalid block build on
	// it: they go too.
	c.removeDescendants(func(m *forkNode) bool { return m.parent == nil && m.height-1 >= height })

	fork := height - 1
	r := Reorg{ForkHeight: fork, OldTip: c.tipHash, OldHeight: c.Height()}
	res := InvalidateResult{Removed: int(c.Height() - fork), Reorg: &r}
	c.truncateMain(fork)
	res.Writes = append(res.Writes, Write{From: fork + 1})
	r.NewTip, r.NewHeight = c.tipHash, c.Height()

	var best *forkNode
	for _, leaf := range c.forks.leaves() {
		if leaf.work.Cmp(c.tipWork) > 0 && (best == nil || leaf.work.Cmp(best.work) > 0) {
			best = leaf
		}
	}
	if best != nil {
		moved, w := c.reorgTo(best)
		// reorgTo recorded its own switch; the whole change, from the old
		// tip, is what the caller sees.
		c.reorgs = c.reorgs[:len(c.reorgs)-1]
		r.ForkHeight = min(r.ForkHeight, moved.ForkHeight)
		r.NewTip, r.NewHeight = moved.NewTip, moved.NewHeight
		res.Writes = append(res.Writes, w)
	}
	if len(c.reorgs) >= MaxReorgHistory {
		c.reorgs = c.reorgs[1:]
	}
	c.reorgs = append(c.reorgs, r)
	return res
}

// markInvalid remembers hash as invalid, within MaxInvalid.
func (c *Chain) markInvalid(hash chainhash.Hash) {
	if c.invalid == nil {
		c.invalid = make(map[chainhash.Hash]struct{})
	}
	if len(c.invalid) >= MaxInvalid {
		for h := range c.invalid {
			delete(c.invalid, h)
			break
		}
	}
	c.invalid[hash] = struct{}{}
}

// IsInvalid reports whether hash was marked invalid.
func (c *Chain) IsInvalid(hash *chainhash.Hash) bool {
	_, ok := c.invalid[*hash]
	return ok
}

// removeDescendants removes every fork node for which root, or one of its
// ancestors, satisfies is.
func (c *Chain) removeDescendants(is func(*forkNode) bool) {
	doomed := func(n *forkNode) bool {
		for m := n; m != nil; m = m.parent {
			if is(m) {
				return true
			}
		}
		return false
	}
	var gone []*forkNode
	for _, n := range c.forks.nodes {
		if doomed(n) {
			gone = append(gone, n)
		}
	}
	for _, n := range gone {
		c.forks.remove(n)
	}
}

// Reconsider forgets that hash was marked invalid (Core's reconsiderblock):
// headers building on it are accepted again. The headers Invalidate took
// out of the tree are not brought back; the caller asks peers for them
// again. It reports whether hash was marked.
func (c *Chain) Reconsider(hash chainhash.Hash) bool {
	_, ok := c.invalid[hash]
	delete(c.invalid, hash)
	return ok
}
