package chain

import (
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// workStride is how often cumulative work is stored along the main chain;
// the work at any height is the stored value plus at most workStride-1
// headers' work.
const workStride = 64

// MaxReorgHistory is how many reorgs the chain remembers for observers: a
// peer can make reorgs cheaply on a test network, and the history must not
// grow with them.
const MaxReorgHistory = 256

// maxReserve bounds how far Reserve grows the chain ahead of its length.
const maxReserve = 1 << 20

// StoreFile is the name of the header store in the data folder.
const StoreFile = "headers.dat"

// Chain is the header tree. See the package documentation.
type Chain struct {
	params *consensus.Params

	headers []consensus.Header // the main chain; index = height
	tipHash chainhash.Hash
	// cumWork[k] is the total work of heights [0, k*workStride).
	cumWork []consensus.U256
	tipWork consensus.U256
	works   consensus.WorkCache

	index *heightIndex // main-chain hash -> height

	// regularBits is consensus.RegularBitsCache's answer for the tip
	// (regularAt), kept as the main chain grows.
	regularBits uint32
	regularAt   int32

	forks forkSet
	// invalid holds the blocks marked invalid (Invalidate), at most
	// MaxInvalid: headers that are or build on one are refused.
	invalid map[chainhash.Hash]struct{}
	// reorgs holds the last MaxReorgHistory switches of the main chain to
	// another branch, oldest first.
	reorgs []Reorg

	views viewState // what the Views taken so far share (view.go)
}

// Reorg records one switch of the main chain to a branch with more work.
type Reorg struct {
	ForkHeight int32          // the last height both branches share
	OldTip     chainhash.Hash // the tip that lost
	OldHeight  int32
	NewTip     chainhash.Hash
	NewHeight  int32
}

// New builds the chain from stored, the main chain as loaded from a Store
// (genesis first), without revalidating it: the store's checksums vouch
// for records this node validated before writing them. The chain keeps
// stored as its own array; the caller must not use it afterwards. With
// nothing stored the chain holds the network's genesis, and the writes
// returned store it. It fails when stored is another network's chain.
func New(params *consensus.Params, stored []consensus.Header) (*Chain, []Write, error) {
	var writes []Write
	if len(stored) == 0 {
		stored = make([]consensus.Header, 1, 4096)
		stored[0] = params.Genesis
		writes = []Write{{From: 0, Headers: []consensus.Header{params.Genesis}}}
	} else if got := stored[0].Hash(); got != params.GenesisHash {
		return nil, nil, fmt.Errorf("stored chain starts with %s, not the %s genesis %s: wrong data folder?",
			got, params.Network, params.GenesisHash)
	}
	c := &Chain{params: params}
	c.index = newHeightIndex(c.keyOf)
	c.forks.init()
	c.load(stored)
	return c, writes, nil
}

// load installs a validated main chain.
func (c *Chain) load(headers []consensus.Header) {
	c.headers = headers
	c.tipHash = headers[len(headers)-1].Hash()
	c.cumWork = make([]consensus.U256, 0, len(headers)/workStride+1)
	var total consensus.U256
	for h := range headers {
		if h%workStride == 0 {
			c.cumWork = append(c.cumWork, total)
		}
		total = total.Add(c.works.Work(headers[h].Bits))
	}
	c.tipWork = total
	c.regularAt = -1
	// Size the index once instead of growing it through every doubling.
	size := minIndexSize
	for size < 2*len(headers)+2 {
		size *= 2
	}
	c.index.rebuild(size, int32(len(headers)))
}

// keyOf is the index key of the live main chain's header at height.
func (c *Chain) keyOf(height int32) uint64 {
	if int(height)+1 < len(c.headers) {
		return hashKey(&c.headers[height+1].PrevBlock)
	}
	return hashKey(&c.tipHash)
}

// Params returns the chain's consensus parameters.
func (c *Chain) Params() *consensus.Params { return c.params }

func hashKey(h *chainhash.Hash) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

// Height returns the main chain's tip height.
func (c *Chain) Height() int32 { return int32(len(c.headers) - 1) }

// Tip returns the main chain's tip.
func (c *Chain) Tip() (height int32, hash chainhash.Hash, work consensus.U256) {
	return c.Height(), c.tipHash, c.tipWork
}

// TipHeader returns the tip's header.
func (c *Chain) TipHeader() consensus.Header { return c.headers[len(c.headers)-1] }

// HeaderAt returns the main-chain header at height (for consensus.Ancestors).
func (c *Chain) HeaderAt(height int32) *consensus.Header { return &c.headers[height] }

// HashAt returns the hash of the main-chain header at height.
func (c *Chain) HashAt(height int32) chainhash.Hash {
	if height == c.Height() {
		return c.tipHash
	}
	return c.headers[height+1].PrevBlock
}

// MainHeight returns the height of hash if it is on the main chain.
func (c *Chain) MainHeight(hash *chainhash.Hash) (int32, bool) {
	// The index may hold stale entries of branches the main chain left,
	// possibly above today's tip: check the height too.
	return c.index.table.lookup(hashKey(hash), func(h int32) bool {
		return int(h) < len(c.headers) && c.HashAt(h) == *hash
	})
}

// WorkAt returns the cumulative work of the main chain up to and including
// height.
func (c *Chain) WorkAt(height int32) consensus.U256 {
	k := int(height) / workStride
	w := c.cumWork[k]
	for h := k * workStride; h <= int(height); h++ {
		w = w.Add(c.works.Work(c.headers[h].Bits))
	}
	return w
}

// Reorgs returns the last MaxReorgHistory reorganizations seen since the
// chain was opened, oldest first.
func (c *Chain) Reorgs() []Reorg { return append([]Reorg(nil), c.reorgs...) }

// HeaderInfo describes one known header, on the main chain or a fork.
type HeaderInfo struct {
	Header consensus.Header
	Hash   chainhash.Hash
	Height int32
	Work   consensus.U256 // cumulative
	Main   bool
}

// Lookup finds a header by hash on the main chain or a fork.
func (c *Chain) Lookup(hash *chainhash.Hash) (HeaderInfo, bool) {
	if h, ok := c.MainHeight(hash); ok {
		return c.InfoAt(h), true
	}
	if n, ok := c.forks.nodes[*hash]; ok {
		return HeaderInfo{Header: n.header, Hash: n.hash, Height: n.height, Work: n.work}, true
	}
	return HeaderInfo{}, false
}

// InfoAt describes the main-chain header at height.
func (c *Chain) InfoAt(height int32) HeaderInfo {
	return HeaderInfo{Header: c.headers[height], Hash: c.HashAt(height), Height: height, Work: c.WorkAt(height), Main: true}
}

// Known reports whether hash is a header the chain holds.
func (c *Chain) Known(hash *chainhash.Hash) bool {
	if _, ok := c.MainHeight(hash); ok {
		return true
	}
	_, ok := c.forks.nodes[*hash]
	return ok
}

// RegularBits implements consensus.RegularBitsCache for the main chain's
// tip; other heights are left to the walk.
func (c *Chain) RegularBits(height int32) (uint32, bool) {
	if height != c.regularAt {
		return 0, false
	}
	return c.regularBits, true
}

// updateRegular extends the RegularBits answer to a new tip at height.
func (c *Chain) updateRegular(height int32) {
	bits := c.headers[height].Bits
	switch {
	case height%c.params.RetargetInterval == 0 || bits != c.params.PowLimitBits:
		c.regularBits = bits
	case c.regularAt != height-1:
		// Not following on from the last answer (after a reorg or a
		// load): no answer until the next period start or regular header.
		c.regularAt = -1
		return
	}
	c.regularAt = height
}

// Reserve makes room for the main chain to grow to height without
// reallocating: sync calls it with the height peers announce, so a long
// download does not copy the header array and rebuild the index each time
// they double.
func (c *Chain) Reserve(height int32) {
	// A peer announces the height; a liar must not make us allocate much.
	n := min(int(height)+1, len(c.headers)+maxReserve)
	if n <= cap(c.headers) {
		return
	}
	grown := make([]consensus.Header, len(c.headers), n)
	copy(grown, c.headers)
	// The work table moves too, so that both arrays Views may share are
	// left behind and nothing is frozen in the new ones.
	work := make([]consensus.U256, len(c.cumWork), max(n/workStride+1, cap(c.cumWork)))
	copy(work, c.cumWork)
	c.headers, c.cumWork = grown, work
	c.views.frozen = 0
	c.index.grow(n, int32(len(c.headers)))
}
