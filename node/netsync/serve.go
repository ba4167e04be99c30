package netsync

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// tipChanged records progress and announces the new tip to the peers that
// asked for announcements by headers (BIP130), once we are synced.
func (s *Sync) tipChanged(res chain.AcceptResult) {
	s.recordRate(s.core.Now())
	if r := res.Reorg; r != nil {
		s.blocksReorged(r.ForkHeight)
		s.core.Logf(slog.LevelInfo, "reorg", "fork_height", r.ForkHeight, "new_tip", r.NewTip)
		s.core.Event(p2p.EventReorg, 0, fmt.Sprintf("reorganized at height %d, depth %d (%d blocks connected): tip %d %s replaces %d %s",
			r.ForkHeight, r.OldHeight-r.ForkHeight, r.NewHeight-r.ForkHeight,
			r.NewHeight, protocol.ShortHash(r.NewTip), r.OldHeight, protocol.ShortHash(r.OldTip)))
	}
	if s.state != StateSynced {
		return
	}
	s.announce()
}

// announce tells every peer that lacks our tip about it, as Core does: by
// headers (BIP130) to a peer that asked for them, starting right after the
// last of our headers it is known to have, when that is at most
// maxAnnounce headers; by an inv of the tip otherwise (the peer then asks
// with a locator). A peer known to have the tip (it announced it, sent it,
// or was sent it) is told nothing.
//
// A node that downloads blocks announces only what it has connected (the
// block is stored and passed the rules), as Core announces a block once
// it is its tip: a peer told of a header we cannot serve would ask us for
// the block in vain.
func (s *Sync) announce() {
	height := s.chain.Height()
	if s.blocks != nil {
		height = min(height, s.blocks.tip())
	}
	tip := s.chain.HashAt(height)
	var inv *p2p.Frame
	byStart := make(map[int32]*p2p.Frame) // headers announcements, by first height
	s.core.Peers(func(p p2p.Peer) {
		sp, ok := s.peers[p.ID()]
		if !ok || !p.Established() || !p.HasRoom() || sp.announced == tip {
			return
		}
		from := s.common(sp) + 1
		if from > height {
			return // it has our tip
		}
		if p.Features().SendHeaders && height-from+1 <= maxAnnounce {
			f := byStart[from]
			if f == nil {
				hs := make([]consensus.Header, 0, height-from+1)
				for h := from; h <= height; h++ {
					hs = append(hs, *s.chain.HeaderAt(h))
				}
				var err error
				if f, err = s.headersFrame(hs, height); err != nil {
					return
				}
				byStart[from] = f
			}
			if s.core.SendFrame(p.ID(), f) {
				sp.announced, sp.bestKnown, sp.bestHash = tip, height, tip
			}
			return
		}
		if inv == nil {
			m := wire.NewMsgInv()
			m.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &tip))
			var err error
			if inv, err = s.core.NewFrame(m); err != nil {
				return
			}
		}
		if s.core.SendFrame(p.ID(), inv) {
			sp.announced = tip
		}
	})
}

// common is how much of our main chain peer sp has: up to where its best
// header's branch meets it (after a reorg, the fork point).
func (s *Sync) common(sp *syncPeer) int32 {
	if sp.lastUnknown != (chainhash.Hash{}) {
		if h, ok := s.chain.MainHeight(&sp.lastUnknown); ok {
			if h > sp.bestKnown {
				sp.bestKnown, sp.bestHash = h, sp.lastUnknown
			}
			sp.lastUnknown = chainhash.Hash{}
		}
	}
	if sp.bestKnown == 0 {
		return 0
	}
	return max(0, s.chain.CommonHeight(&sp.bestHash))
}

// maxGetBlocks is how many hashes a getblocks is answered with (Core's 500).
const maxGetBlocks = 500

// handleGetBlocks answers getblocks as Core does: an inv of up to 500
// main-chain hashes after the locator's fork point, up to hashStop. When
// there is nothing after it, Core sends nothing; we send an empty inv
// instead, because btcd expects an inv in answer to every getblocks and
// drops the peer after 30 s without one (it sends getblocks when we
// announce a block it already has, which happens when another peer's
// announcement reached us first).
func (s *Sync) handleGetBlocks(id p2p.PeerID, sp *syncPeer, m *wire.MsgGetBlocks) {
	start := s.forkHeight(m.BlockLocatorHashes)
	// The peer has our chain up to the fork point.
	if start > sp.bestKnown {
		sp.bestKnown, sp.bestHash = start, s.chain.HashAt(start)
	}
	inv := wire.NewMsgInv()
	for h := start + 1; h <= s.chain.Height() && len(inv.InvList) < maxGetBlocks; h++ {
		hash := s.chain.HashAt(h)
		inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &hash))
		if hash == m.HashStop {
			break
		}
	}
	s.core.Send(id, inv)
}

// forkHeight is where a locator meets our main chain: the height of its
// first hash on it, 0 (genesis) when none is. It is the start
// chain.HeadersAfter answers from.
func (s *Sync) forkHeight(locator []*chainhash.Hash) int32 {
	for _, l := range locator {
		if h, ok := s.chain.MainHeight(l); ok {
			return h
		}
	}
	return 0
}

// handleGetHeaders answers from the main chain (at most 2000 headers).
func (s *Sync) handleGetHeaders(id p2p.PeerID, sp *syncPeer, m *wire.MsgGetHeaders) {
	locator := make([]chainhash.Hash, len(m.BlockLocatorHashes))
	for i, h := range m.BlockLocatorHashes {
		locator[i] = *h
	}
	// A request for the batch after the last one sent is a sync from us
	// under way: only then is the next batch worth making ahead.
	continued := len(locator) > 0 && sp.lastServed != (chainhash.Hash{}) && locator[0] == sp.lastServed
	if pb := s.takePrepared(sp); pb != nil && pb.answers(s, m) {
		s.served(id, sp, pb.frame, pb.lastHeight, pb.last, true)
		return
	}
	headers := s.chain.HeadersAfter(locator, m.HashStop, maxHeadersPerMsg)
	// The answer is main-chain headers in a row: after the locator's fork
	// point, or (empty locator) the stop header alone.
	lastHeight := int32(-1)
	switch {
	case len(headers) == 0:
	case len(locator) == 0:
		lastHeight, _ = s.chain.MainHeight(&m.HashStop)
	default:
		lastHeight = s.forkHeight(m.BlockLocatorHashes) + int32(len(headers))
	}
	f, err := s.headersFrame(headers, lastHeight)
	if err != nil {
		s.core.Logf(slog.LevelError, "cannot serve headers", "peer", id, "err", err)
		return
	}
	last := chainhash.Hash{}
	if lastHeight >= 0 {
		last = s.chain.HashAt(lastHeight)
	}
	s.served(id, sp, f, lastHeight, last, continued)
}

// headersFrame frames headers, main-chain headers in a row ending at
// lastHeight; the summary's hashes come from the chain, not from hashing
// the headers again. They are serialized by hand, not through wire:
// serving is the hot path of a peer's sync from us, and wire's encoder
// allocates a header at a time.
func (s *Sync) headersFrame(headers []consensus.Header, lastHeight int32) (*p2p.Frame, error) {
	summary := protocol.HeadersSummary(0, "", "")
	if n := int32(len(headers)); n > 0 {
		first, last := s.chain.HashAt(lastHeight-n+1), s.chain.HashAt(lastHeight)
		summary = protocol.HeadersSummary(len(headers), protocol.ShortHash(first), protocol.ShortHash(last))
	}
	return s.core.NewPayloadFrame(wire.CmdHeaders, headersPayload(headers), summary)
}

// served sends a headers answer whose last header is at lastHeight (-1:
// an empty answer) and, for a request that continued the previous answer
// (ahead), prepares the next batch.
func (s *Sync) served(id p2p.PeerID, sp *syncPeer, f *p2p.Frame, lastHeight int32, last chainhash.Hash, ahead bool) {
	// The peer now has our chain up to the last header sent (Core's
	// pindexBestHeaderSent), so announcements can build on it.
	if lastHeight >= 0 && lastHeight >= sp.bestKnown {
		sp.bestKnown, sp.bestHash = lastHeight, last
	}
	s.core.SendFrame(id, f)
	if lastHeight < 0 {
		return
	}
	sp.lastServed = last
	if !ahead {
		return
	}
	// The answer goes to the writer now; then the next batch is made
	// while the peer validates this one.
	s.core.Flush()
	s.prepare(sp, lastHeight, last)
}

// Serving ahead: a peer syncing headers from us asks for the batch after
// the last one we sent, as soon as it has it. Making that batch (reading
// 2,000 headers, serializing, checksumming 162 KB) right after sending the
// current one, while the peer validates, takes it off the sync's critical
// path: the next request is answered at once. A batch is made ahead only
// for a peer whose request continued the answer before (it asked for the
// batch after the last one sent, or was served one made ahead), so a peer
// that asks once and stops costs no work thrown away. At most maxPrepared
// peers have a batch made ahead (162 KB each); a batch unused for
// preparedTTL gives its place to another peer's, so peers that stop
// asking cannot turn serving ahead off for the others. A batch is used
// only if the main chain still holds it unchanged.
const (
	maxPrepared = 8
	preparedTTL = 30 * time.Second
)

// preparedBatch is the next full batch made ahead for a peer.
type preparedBatch struct {
	after       chainhash.Hash // the hash it follows: the request's locator
	afterHeight int32
	last        chainhash.Hash
	lastHeight  int32
	frame       *p2p.Frame
	madeAt      time.Time
}

// answers reports whether the batch is what HeadersAfter would answer m
// with now: m asks from the batch's start, with no stop, and the main
// chain still holds the batch (a reorg below its end changes its last
// hash there).
func (pb *preparedBatch) answers(s *Sync, m *wire.MsgGetHeaders) bool {
	return len(m.BlockLocatorHashes) > 0 && *m.BlockLocatorHashes[0] == pb.after && m.HashStop == (chainhash.Hash{}) &&
		pb.lastHeight <= s.chain.Height() && s.chain.HashAt(pb.afterHeight) == pb.after && s.chain.HashAt(pb.lastHeight) == pb.last
}

// takePrepared removes and returns sp's batch made ahead, if any.
func (s *Sync) takePrepared(sp *syncPeer) *preparedBatch {
	pb := sp.prepared
	sp.prepared = nil
	return pb
}

// preparedCount counts the peers with a batch made ahead, and finds the
// oldest such batch's peer (the lowest ID among equals, so that a
// simulation stays deterministic).
func (s *Sync) preparedCount() (n int, oldest *syncPeer) {
	oldestID := p2p.PeerID(0)
	for id, sp := range s.peers {
		if sp.prepared == nil {
			continue
		}
		n++
		if oldest == nil || sp.prepared.madeAt.Before(oldest.prepared.madeAt) ||
			(sp.prepared.madeAt.Equal(oldest.prepared.madeAt) && id < oldestID) {
			oldest, oldestID = sp, id
		}
	}
	return n, oldest
}

// prepare makes the full batch after height (hash after) for sp, when the
// chain has one and the bound allows (reclaiming a batch left unused for
// preparedTTL).
func (s *Sync) prepare(sp *syncPeer, height int32, after chainhash.Hash) {
	to := height + maxHeadersPerMsg
	if to > s.chain.Height() {
		return
	}
	now := s.core.Now()
	if n, oldest := s.preparedCount(); n >= maxPrepared {
		if now.Sub(oldest.prepared.madeAt) < preparedTTL {
			return
		}
		oldest.prepared = nil
	}
	headers := make([]consensus.Header, 0, maxHeadersPerMsg)
	for h := height + 1; h <= to; h++ {
		headers = append(headers, *s.chain.HeaderAt(h))
	}
	f, err := s.headersFrame(headers, to)
	if err != nil {
		return
	}
	sp.prepared = &preparedBatch{after: after, afterHeight: height, last: s.chain.HashAt(to), lastHeight: to, frame: f, madeAt: now}
}

// headersPayload is a headers message's payload: a CompactSize count, then
// each header and a zero transaction count.
func headersPayload(headers []consensus.Header) []byte {
	b := make([]byte, 0, 3+81*len(headers))
	b = protocol.AppendCompactSize(b, uint64(len(headers)))
	for i := range headers {
		b = headers[i].Serialize(b)
		b = append(b, 0)
	}
	return b
}

// maxNotFound is how many items one notfound carries: 144 KB, under a
// full headers batch, so that no answer costs more than p2p.MaxReplyCost
// (a getdata may ask for 50,000 items, 1.8 MB).
const maxNotFound = 4000

// handleGetData queues the blocks we can serve (blockserve.go) and answers
// everything else with notfound (transactions: the node keeps none; blocks
// we lack, have pruned or left with a reorg), so the peer asks elsewhere at
// once. The notfound answer is optional work: it goes in parts of
// maxNotFound items, each only while the peer's queue has room, and the
// items left when it fills are not answered (the peer's request for them
// times out, as if we were slow).
func (s *Sync) handleGetData(id p2p.PeerID, msg *wire.MsgGetData) {
	for items := s.queueBlocks(id, msg.InvList); len(items) > 0; {
		p, ok := s.core.Peer(id)
		if !ok || !p.HasRoom() {
			break
		}
		n := min(len(items), maxNotFound)
		nf := wire.NewMsgNotFound()
		nf.InvList = items[:n:n]
		items = items[n:]
		if !s.core.Send(id, nf) {
			return
		}
	}
	if s.blocks != nil {
		s.serveNext(id)
	}
}
