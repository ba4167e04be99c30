package chain

import (
	"errors"
	"fmt"

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
}

// Accept validates headers in order and adds them: to the main chain when
// they extend it, to a fork otherwise, switching the main chain when a fork
// gains more work. hashes, if not nil, are the headers' hashes computed by
// the caller (the peer's reader goroutine hashes them in parallel);
// otherwise Accept computes them. hashes is not modified. now is the current time in Unix seconds.
//
// It stops at the first header that fails: the headers before it stay
// accepted and are reported in the result along with the error.
func (c *Chain) Accept(headers []consensus.Header, hashes []chainhash.Hash, now int64) (res AcceptResult, err error) {
	startTip := c.tipHash
	var pending []byte // main-chain records to store
	pendingFrom := int32(-1)
	flush := func() {
		if c.store != nil && len(pending) > 0 {
			c.store.write(int64(pendingFrom), pending)
		}
		pending, pendingFrom = nil, -1
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

		// The common case first: the header extends the main chain.
		if h.PrevBlock == c.tipHash {
			height := c.Height() + 1
			mainCtx.Height, mainCtx.Parent, mainCtx.ParentHash = height, &c.headers[height-1], c.tipHash
			if err := consensus.CheckHeader(&mainCtx, h, hash); err != nil {
				return res, err
			}
			if c.store != nil {
				if pendingFrom < 0 {
					pendingFrom = height
					pending = make([]byte, 0, (len(headers)-i)*recordSize)
				}
				pending = appendRecord(pending, h, height)
			}
			c.appendMain(h, hash)
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
			r := c.reorgTo(n)
			res.Reorg = &r
		}
	}
	return res, nil
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
	c.indexAdd(hash, height)
	c.updateRegular(height)
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

// reorgTo makes the branch ending at tip the main chain. The old main
// chain above the fork point becomes a fork (up to maxOldBranch headers).
func (c *Chain) reorgTo(tip *forkNode) Reorg {
	var branch []*forkNode
	for n := tip; n != nil; n = n.parent {
		branch = append(branch, n)
	}
	fork := branch[len(branch)-1].height - 1
	r := Reorg{ForkHeight: fork, OldTip: c.tipHash, OldHeight: c.Height(), NewTip: tip.hash, NewHeight: tip.height}

	// Take the old main chain above the fork point off the main chain.
	oldTop := c.Height()
	keepOld := oldTop-fork <= maxOldBranch
	var old []*forkNode
	for h := fork + 1; h <= oldTop; h++ {
		hash := c.HashAt(h)
		if keepOld {
			old = append(old, &forkNode{header: c.headers[h], hash: hash, height: h, work: c.WorkAt(h)})
		}
		c.indexRemove(&hash, h)
	}
	c.headers = c.headers[:fork+1]
	c.cumWork = c.cumWork[:fork/workStride+1]
	c.tipWork = c.WorkAt(fork)
	c.tipHash = c.HashAt(fork)

	// Move the winning branch onto the main chain.
	var records []byte
	for i := len(branch) - 1; i >= 0; i-- {
		n := branch[i]
		c.forks.remove(n)
		records = appendRecord(records, &n.header, n.height)
		c.appendMain(&n.header, &n.hash)
	}
	if c.store != nil {
		c.store.write(int64(fork+1), records)
	}
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
	c.reorgs = append(c.reorgs, r)
	c.log.Info("reorganized", "fork_height", fork, "old_tip", r.OldTip, "new_tip", r.NewTip, "new_height", r.NewHeight)
	return r
}
