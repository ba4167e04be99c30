package chain

import (
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// viewTail is how many of the newest main-chain headers a View copies
// instead of sharing: a reorg rewrites the main chain above its fork point,
// and one deeper than this (two days of blocks) is the rare case that makes
// the Chain move to new arrays (thaw) rather than overwrite shared ones.
const viewTail = 288

// View is an immutable view of a Chain as it was when View was called.
// Its methods may be called from any number of goroutines, while the
// Chain's owner goes on accepting headers, reorganizing included.
//
// A View does not copy the main chain. Of a chain of n headers it shares
// the Chain's arrays for heights below k = n-viewTail (headers, and the
// cumulative-work entries those need), which the Chain promises never to
// write in place again: it remembers the highest k handed out (frozen),
// and a reorg whose fork point is below it first moves the main chain to
// new arrays. Appends write past every View's (capacity-limited) slices.
// The newest viewTail headers, which a reorg may rewrite, are copied.
// Hash lookups probe the Chain's append-only index (index.go) and check
// each candidate against the View's own headers. The forks are a value
// copy, rebuilt only when they changed since the previous View. So a View
// holds at most viewTail headers of its own plus the copy of the forks.
type View struct {
	n      int32              // headers on the main chain (the tip's height + 1)
	shared []consensus.Header // the Chain's headers [0, k), k = len(shared)
	tail   []consensus.Header // a copy of heights [k, n)
	// cumWork is the Chain's work table for heights below k (the entries
	// WorkAt reads for them), and baseWork the work of heights [0, k).
	cumWork  []consensus.U256
	baseWork consensus.U256
	tipHash  chainhash.Hash
	tipWork  consensus.U256
	// works is the Chain's WorkCache as it was, the starting point of
	// each WorkAt's own: bits rarely change, so it saves a 256-bit
	// division per call.
	works  consensus.WorkCache
	index  *indexTable // the table current when the View was taken
	forks  *forkCopy
	reorgs []Reorg // the Chain's append-only list, capacity-limited
}

// viewState is what a Chain keeps about the Views it handed out.
type viewState struct {
	// frozen: Views share the headers below it, and the work entries for
	// them, in the current arrays; they are never written in place.
	frozen int
	// mainChanges counts changes of the main chain (each header appended,
	// a reorg's included).
	mainChanges uint64

	last      *View // returned again while nothing changed
	lastMain  uint64
	lastForks uint64

	forks        *forkCopy // the last copy of the forks, and the forkSet
	forksVersion uint64    // version it was made from
}

// forkCopy is a View's copy of the forks.
type forkCopy struct {
	nodes map[chainhash.Hash]forkEntry
	tips  []Tip // fork tips, most work first
}

type forkEntry struct {
	header consensus.Header
	height int32
	work   consensus.U256
}

// View returns an immutable view of the chain as it is now (see View). Like
// every Chain method it is the owner's to call; the View it returns may be
// handed to any goroutine (through a channel, a mutex or an atomic, which
// orders the Chain's writes before the reader's reads). It is cheap (a copy
// of viewTail headers, a few microseconds), and when the chain has not
// changed since the last call it returns the same View.
func (c *Chain) View() *View {
	vs := &c.views
	if vs.last != nil && vs.lastMain == vs.mainChanges && vs.lastForks == c.forks.version {
		return vs.last
	}
	n := len(c.headers)
	k := max(0, n-viewTail)
	v := &View{
		n:       int32(n),
		shared:  c.headers[:k:k],
		tail:    slices.Clone(c.headers[k:n]),
		tipHash: c.tipHash,
		tipWork: c.tipWork,
		works:   c.works,
		index:   c.index.table,
		forks:   c.forkCopy(),
		reorgs:  c.reorgs[:len(c.reorgs):len(c.reorgs)],
	}
	if k > 0 {
		// WorkAt(h) for h < k reads cumWork[h/workStride]; a reorg that
		// keeps heights [0, k) rewrites only entries above (k-1)/workStride.
		m := (k-1)/workStride + 1
		v.cumWork = c.cumWork[:m:m]
		v.baseWork = c.WorkAt(int32(k - 1))
	}
	vs.frozen = max(vs.frozen, k)
	vs.last, vs.lastMain, vs.lastForks = v, vs.mainChanges, c.forks.version
	return v
}

// forkCopy returns a copy of the forks, the previous one while they are
// unchanged.
func (c *Chain) forkCopy() *forkCopy {
	vs := &c.views
	if vs.forks != nil && vs.forksVersion == c.forks.version {
		return vs.forks
	}
	fc := &forkCopy{}
	if len(c.forks.nodes) > 0 {
		fc.nodes = make(map[chainhash.Hash]forkEntry, len(c.forks.nodes))
		for hash, n := range c.forks.nodes {
			fc.nodes[hash] = forkEntry{header: n.header, height: n.height, work: n.work}
		}
		fc.tips = c.appendForkTips(nil)
	}
	vs.forks, vs.forksVersion = fc, c.forks.version
	return fc
}

// thaw moves the main chain's heights [0, fork] to new arrays, leaving the
// old ones to the Views that share them, so that a reorg at fork can
// overwrite what follows.
func (c *Chain) thaw(fork int32) {
	headers := make([]consensus.Header, fork+1, cap(c.headers))
	copy(headers, c.headers)
	m := int(fork)/workStride + 1
	work := make([]consensus.U256, m, cap(c.cumWork))
	copy(work, c.cumWork)
	c.headers, c.cumWork = headers, work
	c.views.frozen = 0
}

func (v *View) header(height int32) *consensus.Header {
	if int(height) < len(v.shared) {
		return &v.shared[height]
	}
	return &v.tail[int(height)-len(v.shared)]
}

// Height returns the main chain's tip height.
func (v *View) Height() int32 { return v.n - 1 }

// Tip returns the main chain's tip.
func (v *View) Tip() (height int32, hash chainhash.Hash, work consensus.U256) {
	return v.n - 1, v.tipHash, v.tipWork
}

// TipHeader returns the tip's header.
func (v *View) TipHeader() consensus.Header { return *v.header(v.n - 1) }

// HeaderAt returns the main-chain header at height, which must be in
// [0, Height()]. It is a copy: the View's arrays are shared.
func (v *View) HeaderAt(height int32) consensus.Header { return *v.header(height) }

// HashAt returns the hash of the main-chain header at height.
func (v *View) HashAt(height int32) chainhash.Hash {
	if height == v.n-1 {
		return v.tipHash
	}
	return v.header(height + 1).PrevBlock
}

// WorkAt returns the cumulative work of the main chain up to and including
// height.
func (v *View) WorkAt(height int32) consensus.U256 {
	if height == v.n-1 {
		return v.tipWork
	}
	// A WorkCache of our own: the Chain's is its owner's.
	works := v.works
	k := len(v.shared)
	if int(height) >= k {
		w := v.baseWork
		for i := range int(height) - k + 1 {
			w = w.Add(works.Work(v.tail[i].Bits))
		}
		return w
	}
	s := int(height) / workStride
	w := v.cumWork[s]
	for h := s * workStride; h <= int(height); h++ {
		w = w.Add(works.Work(v.shared[h].Bits))
	}
	return w
}

// InfoAt describes the main-chain header at height.
func (v *View) InfoAt(height int32) HeaderInfo {
	return HeaderInfo{Header: *v.header(height), Hash: v.HashAt(height), Height: height, Work: v.WorkAt(height), Main: true}
}

// MainHeight returns the height of hash if it is on the main chain.
func (v *View) MainHeight(hash *chainhash.Hash) (int32, bool) {
	// The index is shared with the Chain, which may since have added
	// entries above the View's tip or of another branch: a candidate
	// counts only if the View's own chain has hash at that height.
	return v.index.lookup(hashKey(hash), func(h int32) bool {
		return h < v.n && v.HashAt(h) == *hash
	})
}

// Lookup finds a header by hash on the main chain or a fork, as
// Chain.Lookup.
func (v *View) Lookup(hash *chainhash.Hash) (HeaderInfo, bool) {
	if h, ok := v.MainHeight(hash); ok {
		return v.InfoAt(h), true
	}
	if e, ok := v.forks.nodes[*hash]; ok {
		return HeaderInfo{Header: e.header, Hash: *hash, Height: e.height, Work: e.work}, true
	}
	return HeaderInfo{}, false
}

// Tips returns the active tip followed by every fork tip, most work first.
func (v *View) Tips() []Tip {
	tips := make([]Tip, 0, 1+len(v.forks.tips))
	tips = append(tips, Tip{Hash: v.tipHash, Height: v.n - 1, Work: v.tipWork, Status: "active"})
	return append(tips, v.forks.tips...)
}

// ForkCount returns how many headers are held off the main chain.
func (v *View) ForkCount() int { return len(v.forks.nodes) }

// Reorgs returns the reorganizations seen up to the View, oldest first.
func (v *View) Reorgs() []Reorg { return slices.Clone(v.reorgs) }
