package netsync

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/p2p"
)

// Block download tuning, as Bitcoin Core's net_processing.cpp.
const (
	// BlockDownloadWindow is how far past the last connected block blocks
	// are requested (BLOCK_DOWNLOAD_WINDOW): far enough to keep every peer
	// busy, near enough that blocks are not held long before they connect.
	BlockDownloadWindow = 1024
	// MaxBlocksInFlightPerPeer is the most blocks asked of one peer at once
	// (MAX_BLOCKS_IN_TRANSIT_PER_PEER).
	MaxBlocksInFlightPerPeer = 16
	// NetworkLimitedBlocks is how many blocks below its tip a
	// NODE_NETWORK_LIMITED peer serves (BIP159: 288, two days).
	NetworkLimitedBlocks = 288
	// StallTimeoutMin and StallTimeoutMax bound how long the peer holding
	// the window's first block may keep it once the window cannot move
	// (BLOCK_STALLING_TIMEOUT_DEFAULT and _MAX); each stall drop doubles
	// the timeout, each connected block shrinks it by stallTimeoutDecay.
	StallTimeoutMin = 2 * time.Second
	StallTimeoutMax = 64 * time.Second
	// BlockTimeoutBase and BlockTimeoutPerPeer: a peer's oldest block must
	// arrive within the base plus this much per other peer downloading
	// (Core: one and a half block intervals, 10 and 5 minutes on mainnet).
	BlockTimeoutBase    = 10 * time.Minute
	BlockTimeoutPerPeer = 5 * time.Minute
	// MaxBlockBytesPending is how much memory received blocks may hold
	// while they wait for the store (their messages' Cost): no block is
	// requested once the blocks pending and those in flight, at the mean
	// block cost seen so far, would pass it. The bound on block memory is
	// this plus the estimate's error: blocks in flight larger than the
	// mean, at most one block per request in flight beyond it.
	MaxBlockBytesPending = 64 << 20
	// initialBlockCost is the block cost assumed before any block arrived:
	// large enough that the first requests cannot overshoot the bound by
	// much on any network.
	initialBlockCost = 1 << 20
)

// stallTimeoutDecay is the factor a connected block applies to the stall
// timeout, as Core's 0.85.
const stallTimeoutDecay = 0.85

// windowChain is what the window reads of the chain: the best header
// chain's hash at a height, and whether we hold a block's data already.
type windowChain interface {
	// MainHash returns the hash of the best header chain at height.
	MainHash(height int32) (chainhash.Hash, bool)
	// HaveBlock reports whether the block is stored (or being stored).
	HaveBlock(hash chainhash.Hash) bool
}

// blockRequest is one block asked of a peer: an entry of the global index.
type blockRequest struct {
	Hash   chainhash.Hash
	Height int32
	Peer   p2p.PeerID
	Asked  time.Time
	// Why says why this peer was asked, for whoever watches.
	Why string
}

// windowPeer is what the window knows of one peer that may serve blocks.
type windowPeer struct {
	// limited: NODE_NETWORK_LIMITED without NODE_NETWORK.
	limited bool
	// inFlight holds its requests in the order asked.
	inFlight []*blockRequest
	// downloadingSince is when its oldest request became its oldest: the
	// clock of the per-block timeout.
	downloadingSince time.Time
	// stallingSince is when the window was first seen stuck on a block it
	// holds; zero when it is not stalling the window.
	stallingSince time.Time
	// received counts the blocks it delivered that it was asked for;
	// bytes their size, delivery the time from request to block summed,
	// and busy the time it had blocks in flight (busySince: since when,
	// while it has), for its throughput.
	received       uint64
	bytes          uint64
	delivery, busy time.Duration
	busySince      time.Time
	// notFound holds the blocks it said it does not have, by height, not
	// asked of it again; marks go once their block connects, so at most a
	// window's worth are kept.
	notFound map[chainhash.Hash]int32
}

// blockWindow schedules block downloads over many peers, as Core's
// FindNextBlocksToDownload: the blocks of the best header chain from the
// last connected block up to BlockDownloadWindow past it, each asked of one
// peer at a time, at most MaxBlocksInFlightPerPeer per peer. It is pure:
// every method takes the time it needs and returns what to do.
type blockWindow struct {
	// inFlight is the global index: every block asked, by hash.
	inFlight map[chainhash.Hash]*blockRequest
	peers    map[p2p.PeerID]*windowPeer
	// stallTimeout is the stall timeout in force.
	stallTimeout time.Duration
	// pending is the cost of blocks received and not yet stored, and
	// maxPending its bound (MaxBlockBytesPending unless a test lowers it).
	pending, maxPending int
	// meanCost is the running mean cost of a received block, the estimate
	// of what each block in flight will hold once it arrives.
	meanCost float64
	// stalls counts peers dropped for stalling, for the status.
	stalls int
}

func newBlockWindow(maxPending int) *blockWindow {
	if maxPending <= 0 {
		maxPending = MaxBlockBytesPending
	}
	return &blockWindow{
		inFlight:     make(map[chainhash.Hash]*blockRequest),
		peers:        make(map[p2p.PeerID]*windowPeer),
		stallTimeout: StallTimeoutMin,
		maxPending:   maxPending,
		meanCost:     initialBlockCost,
	}
}

// memoryRoom is how many more blocks may be asked for before the pending
// ones and those in flight, at the mean cost, would pass the bound. With
// nothing in flight at all and the bound not reached, one block may be
// asked, so a bound smaller than one block cannot stop the download.
func (w *blockWindow) memoryRoom() int {
	free := float64(w.maxPending-w.pending) - float64(len(w.inFlight))*w.meanCost
	n := int(free / w.meanCost)
	if n < 1 && len(w.inFlight) == 0 && w.pending < w.maxPending {
		n = 1
	}
	return n
}

// addPeer makes id a peer blocks may be asked of.
func (w *blockWindow) addPeer(id p2p.PeerID, limited bool) {
	if _, ok := w.peers[id]; !ok {
		w.peers[id] = &windowPeer{limited: limited}
	}
}

// removePeer forgets id and returns its requests to the pool: the blocks
// go to whoever is asked next.
func (w *blockWindow) removePeer(id p2p.PeerID) []*blockRequest {
	wp, ok := w.peers[id]
	if !ok {
		return nil
	}
	for _, r := range wp.inFlight {
		delete(w.inFlight, r.Hash)
	}
	delete(w.peers, id)
	return wp.inFlight
}

// next chooses up to MaxBlocksInFlightPerPeer minus what id already has in
// flight: the lowest blocks of the window that id is known to have (its
// best known main-chain height is bestKnown), that we neither hold nor
// have asked of anyone, and that id did not say it lacks. connected is the
// height of the last connected block. It returns the requests made, already
// in the index. When it finds nothing because the window is full of blocks
// in flight elsewhere, the peer holding the window's first block is marked
// stalling from now (the stall clock starts once).
func (w *blockWindow) next(now time.Time, id p2p.PeerID, bestKnown, connected int32, ch windowChain) []*blockRequest {
	wp, ok := w.peers[id]
	if !ok {
		return nil
	}
	room := min(MaxBlocksInFlightPerPeer-len(wp.inFlight), w.memoryRoom())
	if room <= 0 {
		return nil
	}
	windowEnd := connected + BlockDownloadWindow
	last := min(bestKnown, windowEnd)
	first := connected + 1
	if wp.limited {
		first = max(first, bestKnown-NetworkLimitedBlocks+1)
	}
	var out []*blockRequest
	var waitingFor p2p.PeerID // the peer holding the first block in flight
	for h := first; h <= last && len(out) < room; h++ {
		hash, ok := ch.MainHash(h)
		if !ok {
			break
		}
		if r, asked := w.inFlight[hash]; asked {
			if waitingFor == 0 {
				waitingFor = r.Peer
			}
			continue
		}
		if _, lacks := wp.notFound[hash]; lacks || ch.HaveBlock(hash) {
			continue
		}
		r := &blockRequest{Hash: hash, Height: h, Peer: id, Asked: now,
			Why: fmt.Sprintf("lowest block of the window not yet asked (window %d–%d) that the peer has (its best header %d); %d of %d in flight",
				connected+1, windowEnd, bestKnown, len(wp.inFlight)+len(out)+1, MaxBlocksInFlightPerPeer)}
		out = append(out, r)
	}
	if len(out) == 0 && bestKnown > windowEnd && waitingFor != 0 && waitingFor != id {
		// The window cannot move and id could help if it did: the peer
		// holding the window's first block is stalling it.
		if sp := w.peers[waitingFor]; sp != nil && sp.stallingSince.IsZero() {
			sp.stallingSince = now
		}
	}
	for _, r := range out {
		if len(wp.inFlight) == 0 {
			wp.downloadingSince, wp.busySince = now, now
		}
		wp.inFlight = append(wp.inFlight, r)
		w.inFlight[r.Hash] = r
	}
	return out
}

// received removes the request for hash made of id, now answered by a block
// of size bytes, which counts as pending until stored. It reports false when
// id was not asked for hash (an unsolicited block).
func (w *blockWindow) received(now time.Time, id p2p.PeerID, hash chainhash.Hash, size int) bool {
	r, ok := w.inFlight[hash]
	if !ok || r.Peer != id {
		return false
	}
	w.release(now, r)
	w.pending += size
	w.meanCost += (float64(size) - w.meanCost) / meanCostSpan
	wp := w.peers[id]
	wp.stallingSince = time.Time{}
	wp.received++
	wp.delivery += now.Sub(r.Asked)
	return true
}

// meanCostSpan is the number of blocks the running mean roughly spans:
// block sizes change slowly along a chain.
const meanCostSpan = 16

// notFound removes the request for hash made of id, which does not have
// the block, and remembers not to ask id for it again. It reports false
// when id was not asked for hash.
func (w *blockWindow) notFound(now time.Time, id p2p.PeerID, hash chainhash.Hash) bool {
	r, ok := w.inFlight[hash]
	if !ok || r.Peer != id {
		return false
	}
	w.release(now, r)
	wp := w.peers[id]
	if wp.notFound == nil {
		wp.notFound = make(map[chainhash.Hash]int32)
	}
	if len(wp.notFound) < BlockDownloadWindow {
		wp.notFound[hash] = r.Height
	}
	return true
}

// release takes r out of the index and its peer's queue. When r was the
// peer's oldest, the per-block clock restarts for the next one (Core's
// m_downloading_since, which never moves back).
func (w *blockWindow) release(now time.Time, r *blockRequest) {
	delete(w.inFlight, r.Hash)
	wp := w.peers[r.Peer]
	i := slices.Index(wp.inFlight, r)
	if i == 0 && now.After(wp.downloadingSince) {
		wp.downloadingSince = now
	}
	wp.inFlight = slices.Delete(wp.inFlight, i, i+1)
	if len(wp.inFlight) == 0 {
		wp.busy += now.Sub(wp.busySince)
	}
}

// stored says a received block of size bytes reached the store.
func (w *blockWindow) stored(size int) { w.pending = max(0, w.pending-size) }

// connectedBlock says the block at height connected: the stall timeout
// shrinks, as the window moves again, and not-found marks at or below it
// go (the window never asks for those again).
func (w *blockWindow) connectedBlock(connected int32) {
	w.stallTimeout = max(StallTimeoutMin, time.Duration(float64(w.stallTimeout)*stallTimeoutDecay))
	for _, wp := range w.peers {
		for hash, h := range wp.notFound {
			if h <= connected {
				delete(wp.notFound, hash)
			}
		}
	}
}

// windowDrop is a peer the window wants dropped, and why.
type windowDrop struct {
	Peer   p2p.PeerID
	Stall  bool // the window's staller, else a block timed out
	Reason string
	// Hash and Height name the block it held up; Waited and Timeout how
	// long the window waited and the timeout in force (stalls only).
	Hash            chainhash.Hash
	Height          int32
	Waited, Timeout time.Duration
}

// expire returns the peers to drop at now: a staller whose stall lasted the
// stall timeout (which then doubles, up to StallTimeoutMax), and a peer
// whose oldest block is later than BlockTimeoutBase plus
// BlockTimeoutPerPeer for every other peer downloading. The caller drops
// them, which calls removePeer.
func (w *blockWindow) expire(now time.Time) []windowDrop {
	downloading := 0
	for _, wp := range w.peers {
		if len(wp.inFlight) > 0 {
			downloading++
		}
	}
	var out []windowDrop
	stalled := false
	for id, wp := range w.peers {
		switch {
		case !wp.stallingSince.IsZero() && now.Sub(wp.stallingSince) > w.stallTimeout:
			first := w.first(wp)
			if first == nil {
				first = &blockRequest{Height: -1}
			}
			waited := now.Sub(wp.stallingSince)
			out = append(out, windowDrop{Peer: id, Stall: true, Hash: first.Hash, Height: first.Height, Waited: waited, Timeout: w.stallTimeout,
				Reason: fmt.Sprintf("block download stalled: the window waited %s for block %d (timeout %s)",
					waited.Round(time.Millisecond), first.Height, w.stallTimeout)})
			stalled = true
		case len(wp.inFlight) > 0:
			limit := BlockTimeoutBase + time.Duration(downloading-1)*BlockTimeoutPerPeer
			if now.Sub(wp.downloadingSince) > limit {
				r := wp.inFlight[0]
				out = append(out, windowDrop{Peer: id, Hash: r.Hash, Height: r.Height, Reason: fmt.Sprintf(
					"block download timed out: block %d not delivered within %s", r.Height, limit)})
			}
		}
	}
	if stalled {
		w.stalls++
		w.stallTimeout = min(StallTimeoutMax, 2*w.stallTimeout)
	}
	slices.SortFunc(out, func(a, b windowDrop) int { return cmp.Compare(a.Peer, b.Peer) })
	return out
}

// first is the lowest block wp has in flight (a stalling peer has one).
func (w *blockWindow) first(wp *windowPeer) *blockRequest {
	var low *blockRequest
	for _, r := range wp.inFlight {
		if low == nil || r.Height < low.Height {
			low = r
		}
	}
	return low
}

// checkInvariants verifies the index and the queues agree: every request
// is in exactly its peer's queue, no peer has more than its share in
// flight, and no stalling mark sits on a peer with nothing in flight.
func (w *blockWindow) checkInvariants() error {
	n := 0
	for id, wp := range w.peers {
		if len(wp.inFlight) > MaxBlocksInFlightPerPeer {
			return fmt.Errorf("peer %d has %d blocks in flight, more than %d", id, len(wp.inFlight), MaxBlocksInFlightPerPeer)
		}
		for _, r := range wp.inFlight {
			if r.Peer != id || w.inFlight[r.Hash] != r {
				return fmt.Errorf("peer %d's request for %s is not in the index as its own", id, r.Hash)
			}
		}
		n += len(wp.inFlight)
		if len(wp.notFound) > BlockDownloadWindow {
			return fmt.Errorf("peer %d has %d not-found marks, more than %d", id, len(wp.notFound), BlockDownloadWindow)
		}
	}
	if n != len(w.inFlight) {
		return fmt.Errorf("the index holds %d requests, the peers' queues %d", len(w.inFlight), n)
	}
	if w.stallTimeout < StallTimeoutMin || w.stallTimeout > StallTimeoutMax {
		return fmt.Errorf("stall timeout %s outside [%s, %s]", w.stallTimeout, StallTimeoutMin, StallTimeoutMax)
	}
	return nil
}
