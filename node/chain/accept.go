package chain

import (
	"errors"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// Errors from Accept besides *consensus.RuleError.
var (
	// ErrNotConnected: the first header's parent is unknown. The peer may
	// be ahead of us on a branch we have not seen; ask it with a locator.
	ErrNotConnected = errors.New("headers do not connect to any known header")
	// ErrNotContinuous: a header in the batch does not follow the one
	// before it, which no honest peer sends.
	ErrNotContinuous = errors.New("headers in the batch are not continuous")
	// ErrForkBeforeCheckpoint: the branch leaves the main chain below the
	// last checkpoint, which chaincfg's checkpoints forbid.
	ErrForkBeforeCheckpoint = errors.New("fork below the last checkpoint")
)

// AcceptResult says what a batch did to the chain.
type AcceptResult struct {
	New        int // headers added, to the main chain or a fork
	Duplicates int // headers already known
	// Last is the last header of the batch that is now known (new or
	// duplicate); a pipelined sync asks for what follows it.
	Last       chainhash.Hash
	LastHeight int32
	TipChanged bool
	Reorg      *Reorg
	// Writes describe the batch's changes to the main chain, in order,
	// for the owner to pass to its Store (empty when the main chain did
	// not change). They are set with an error too: the headers accepted
	// before it must be stored.
	Writes []Write
}

// Accept validates headers in order and adds them: to the main chain when
// they extend it, to a fork otherwise, switching the main chain when a fork
// gains more work. hashes, if not nil, are the headers' hashes computed by
// the caller (the peer's reader goroutine hashes them in parallel);
// otherwise Accept computes them. hashes is not modified. now is the
// current time in Unix seconds. Accept does no I/O: what is to be stored
// comes back in the result's Writes.
//
// It stops at the first header that fails: the headers before it stay
// accepted and are reported in the result along with the error.
func (c *Chain) Accept(headers []consensus.Header, hashes []chainhash.Hash, now int64) (res AcceptResult, err error) {
	startTip := c.tipHash
	// The current run of main-chain appends starts at pendingFrom; its
	// records are made from the chain's array in one pass when the run
	// ends (flush): before a reorg, and at the end of the batch.
	pendingFrom := int32(-1)
	flush := func() {
		if pendingFrom >= 0 {
			res.Writes = append(res.Writes, c.records(pendingFrom))
		}
		pendingFrom = -1
	}
	defer func() {
		flush()
		res.TipChanged = c.tipHash != startTip
		c.prune()
	}()

	if hashes == nil {
		hashes = make([]chainhash.Hash, len(headers))
		for i := range headers {
			hashes[i] = headers[i].Hash()
		}
	}
	var prevHash chainhash.Hash
	// One context for the whole batch: only the parent changes.
	mainCtx := consensus.Context{Params: c.params, Ancestors: c, Now: now}
	for i := range headers {
		h := &headers[i]
		// A pointer into hashes, not a copy: a local would escape to the
		// heap through the rules, one allocation per header.
		hash := &hashes[i]
		if i > 0 && h.PrevBlock != prevHash {
			return res, fmt.Errorf("%w: header %d (%s) follows %s, not %s", ErrNotContinuous, i, hash, h.PrevBlock, prevHash)
		}
		prevHash = *hash
		if len(c.invalid) > 0 {
			if _, bad := c.invalid[h.PrevBlock]; bad {
				return res, fmt.Errorf("%w: %s builds on %s", ErrInvalidAncestor, hash, &h.PrevBlock)
			}
			if _, bad := c.invalid[*hash]; bad {
				return res, fmt.Errorf("%w: %s", ErrInvalidAncestor, hash)
			}
		}

		// The common case first: the header extends the main chain.
		if h.PrevBlock == c.tipHash {
			height := c.Height() + 1
			mainCtx.Height, mainCtx.Parent, mainCtx.ParentHash = height, &c.headers[height-1], c.tipHash
			if err := consensus.CheckHeader(&mainCtx, h, hash); err != nil {
				return res, err
			}
			c.appendMain(h, hash)
			if pendingFrom < 0 {
				pendingFrom = height
			}
			res.New++
			res.Last, res.LastHeight = *hash, height
			continue
		}
		if info, known := c.Lookup(hash); known {
			res.Duplicates++
			res.Last, res.LastHeight = *hash, info.Height
			continue
		}
		n, ferr := c.addFork(h, hash, now)
		if ferr != nil {
			return res, ferr
		}
		res.New++
		res.Last, res.LastHeight = *hash, n.height
		if n.work.Cmp(c.tipWork) > 0 {
			flush()
			r, w := c.reorgTo(n)
			res.Reorg = &r
			res.Writes = append(res.Writes, w)
		}
	}
	return res, nil
}

// records returns the write that stores the main chain from height from
// to the tip.
func (c *Chain) records(from int32) Write {
	return Write{From: from, Headers: slices.Clone(c.headers[from:])}
}

// truncateMain cuts the main chain back to height fork, its new tip.
func (c *Chain) truncateMain(fork int32) {
	if int(fork)+1 < c.views.frozen {
		// Views share the arrays below frozen, which what comes next would
		// overwrite: move the main chain to new arrays first.
		c.thaw(fork)
	}
	forkHash := c.HashAt(fork)
	c.headers = c.headers[:fork+1]
	c.cumWork = c.cumWork[:fork/workStride+1]
	c.tipWork = c.WorkAt(fork)
	c.tipHash = forkHash
	// The tip's bits answer (RegularBits) no longer follows on.
	c.regularAt = -1
	c.views.mainChanges++
}

// appendMain adds a validated header on top of the main chain.
func (c *Chain) appendMain(h *consensus.Header, hash *chainhash.Hash) {
	height := int32(len(c.headers))
	if height%workStride == 0 {
		c.cumWork = append(c.cumWork, c.tipWork)
	}
	c.headers = append(c.headers, *h)
	c.tipWork = c.tipWork.Add(c.works.Work(h.Bits))
	c.tipHash = *hash
	c.index.add(hashKey(hash), height)
	c.updateRegular(height)
	c.views.mainChanges++
}

// addFork validates h against its parent off the main chain and keeps it
// as a fork node.
func (c *Chain) addFork(h *consensus.Header, hash *chainhash.Hash, now int64) (*forkNode, error) {
	n := &forkNode{header: *h, hash: *hash}
	var view forkView
	var parent *consensus.Header
	if p, ok := c.forks.nodes[h.PrevBlock]; ok {
		n.parent, n.height = p, p.height+1
		view = forkView{c: c, tip: p}
		parent = &p.header
		n.work = p.work
	} else if ph, ok := c.MainHeight(&h.PrevBlock); ok {
		if cp := c.lastCheckpointBelow(c.Height()); cp > ph {
			return nil, fmt.Errorf("%w: %s leaves the main chain at height %d, checkpoint at %d", ErrForkBeforeCheckpoint, hash, ph, cp)
		}
		n.height = ph + 1
		view = forkView{c: c}
		parent = &c.headers[ph]
		n.work = c.WorkAt(ph)
	} else {
		return nil, fmt.Errorf("%w: parent %s of %s", ErrNotConnected, h.PrevBlock, hash)
	}
	ctx := consensus.Context{Params: c.params, Height: n.height, Parent: parent, ParentHash: h.PrevBlock, Ancestors: view, Now: now}
	if err := consensus.CheckHeader(&ctx, h, hash); err != nil {
		return nil, err
	}
	n.work = n.work.Add(c.works.Work(h.Bits))
	c.forks.add(n)
	return n, nil
}

// lastCheckpointBelow returns the highest checkpoint height at or below
// height, or -1.
func (c *Chain) lastCheckpointBelow(height int32) int32 {
	best := int32(-1)
	for cp := range c.params.Checkpoints {
		if cp <= height && cp > best {
			best = cp
		}
	}
	return best
}

// reorgTo makes the branch ending at tip the main chain and returns the
// store write that records it. The old main chain above the fork point
// becomes a fork (up to maxOldBranch headers).
func (c *Chain) reorgTo(tip *forkNode) (Reorg, Write) {
	var branch []*forkNode
	for n := tip; n != nil; n = n.parent {
		branch = append(branch, n)
	}
	fork := branch[len(branch)-1].height - 1
	r := Reorg{ForkHeight: fork, OldTip: c.tipHash, OldHeight: c.Height(), NewTip: tip.hash, NewHeight: tip.height}

	// Take the old main chain above the fork point off the main chain. Its
	// index entries stay (the index is append-only, see index.go): they
	// no longer match the chain, so lookups skip them.
	oldTop := c.Height()
	var old []*forkNode
	if oldTop-fork <= maxOldBranch {
		for h := fork + 1; h <= oldTop; h++ {
			old = append(old, &forkNode{header: c.headers[h], hash: c.HashAt(h), height: h, work: c.WorkAt(h)})
		}
	}
	c.truncateMain(fork)

	// Move the winning branch onto the main chain.
	for i := len(branch) - 1; i >= 0; i-- {
		n := branch[i]
		c.forks.remove(n)
		c.appendMain(&n.header, &n.hash)
	}
	w := c.records(fork + 1)
	// Keep the losing stretch as a fork.
	for i, n := range old {
		if i > 0 {
			n.parent = old[i-1]
		}
		c.forks.add(n)
	}
	// Re-link fork nodes whose parent moved between the main chain and the
	// forks.
	for _, n := range c.forks.nodes {
		switch {
		case n.parent == nil:
			if p, ok := c.forks.nodes[n.header.PrevBlock]; ok {
				n.parent = p
				p.children++
			}
		case n.parent.height <= c.Height() && c.HashAt(n.parent.height) == n.parent.hash:
			n.parent.children--
			n.parent = nil
		}
	}
	if len(c.reorgs) >= MaxReorgHistory {
		// Drop the oldest by reslicing: Views share the old elements,
		// which are never written again.
		c.reorgs = c.reorgs[1:]
	}
	c.reorgs = append(c.reorgs, r)
	return r, w
}
