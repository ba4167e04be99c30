package chain

import (
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// Fork memory bounds. A branch whose tip falls more than forkKeepDepth
// below the main tip can no longer win without a long reorg and is pruned;
// beyond maxForkNodes the branches with the least work go first.
const (
	forkKeepDepth = 2016
	maxForkNodes  = 20_000
	// maxOldBranch is the longest stretch of the old main chain a reorg
	// keeps as a fork (longer ones are dropped: they lost, and memory is
	// bounded).
	maxOldBranch = 2016
)

// forkNode is a header off the main chain.
type forkNode struct {
	header consensus.Header
	hash   chainhash.Hash
	height int32
	work   consensus.U256 // cumulative
	// parent is nil when the parent is on the main chain (at height-1, with
	// hash header.PrevBlock).
	parent   *forkNode
	children int
	seq      uint64 // arrival order: the first seen wins ties
}

type forkSet struct {
	nodes map[chainhash.Hash]*forkNode
	seq   uint64
	// version counts changes to the set, so a View reuses the previous
	// View's copy of the forks while it is unchanged.
	version uint64
}

func (f *forkSet) init() { f.nodes = make(map[chainhash.Hash]*forkNode) }

func (f *forkSet) add(n *forkNode) {
	f.seq++
	f.version++
	n.seq = f.seq
	if n.parent != nil {
		n.parent.children++
	}
	f.nodes[n.hash] = n
}

func (f *forkSet) remove(n *forkNode) {
	f.version++
	if n.parent != nil {
		n.parent.children--
	}
	delete(f.nodes, n.hash)
}

// leaves returns the fork tips, highest work first.
func (f *forkSet) leaves() []*forkNode {
	var out []*forkNode
	for _, n := range f.nodes {
		if n.children == 0 {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *forkNode) int {
		if c := b.work.Cmp(a.work); c != 0 {
			return c
		}
		return int(a.seq - b.seq)
	})
	return out
}

// forkView is the branch ending at tip, for consensus.Ancestors: fork nodes
// down to the fork point, the main chain below it.
type forkView struct {
	c   *Chain
	tip *forkNode
}

func (v forkView) HeaderAt(h int32) *consensus.Header {
	n := v.tip
	for n != nil && n.height > h {
		n = n.parent
	}
	if n != nil && n.height == h {
		return &n.header
	}
	return &v.c.headers[h]
}

// forkPoint returns the main-chain height a branch leaves from.
func forkPoint(n *forkNode) int32 {
	for n.parent != nil {
		n = n.parent
	}
	return n.height - 1
}

// prune drops branches that fell too far behind and enforces the node cap.
func (c *Chain) prune() {
	tip := c.Height()
	for _, leaf := range c.forks.leaves() {
		if leaf.height < tip-forkKeepDepth {
			c.removeBranch(leaf)
		}
	}
	if len(c.forks.nodes) <= maxForkNodes {
		return
	}
	leaves := c.forks.leaves()
	for i := len(leaves) - 1; i >= 0 && len(c.forks.nodes) > maxForkNodes; i-- {
		c.removeBranch(leaves[i])
	}
}

// removeBranch removes leaf and its ancestors up to the first one that
// still has other children.
func (c *Chain) removeBranch(leaf *forkNode) {
	for n := leaf; n != nil && n.children == 0; {
		parent := n.parent
		c.forks.remove(n)
		n = parent
	}
}

// Tip describes a chain tip for the API: the active one or a fork's.
type Tip struct {
	Hash         chainhash.Hash
	Height       int32
	BranchLength int32 // headers from the fork point to the tip; 0 for the active tip
	Work         consensus.U256
	Status       string // "active" or "valid-headers" (as Core's getchaintips)
}

// Tips returns the active tip followed by every fork tip, most work first.
func (c *Chain) Tips() []Tip {
	tips := []Tip{{Hash: c.tipHash, Height: c.Height(), Work: c.tipWork, Status: "active"}}
	return c.appendForkTips(tips)
}

// appendForkTips appends every fork tip, most work first.
func (c *Chain) appendForkTips(tips []Tip) []Tip {
	for _, leaf := range c.forks.leaves() {
		tips = append(tips, Tip{Hash: leaf.hash, Height: leaf.height, BranchLength: leaf.height - forkPoint(leaf), Work: leaf.work, Status: "valid-headers"})
	}
	return tips
}

// ForkCount returns how many headers are held off the main chain.
func (c *Chain) ForkCount() int { return len(c.forks.nodes) }

// CommonHeight returns the highest main-chain height that the branch ending
// at hash shares with the main chain: hash's own height when it is on the
// main chain, its fork point when it is on a fork, -1 when unknown. It says
// how much of the main chain a peer whose best header is hash has.
func (c *Chain) CommonHeight(hash *chainhash.Hash) int32 {
	if h, ok := c.MainHeight(hash); ok {
		return h
	}
	if n, ok := c.forks.nodes[*hash]; ok {
		return forkPoint(n)
	}
	return -1
}
