package netsync

import (
	"fmt"
	"log/slog"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// tipChanged records progress and announces the new tip to the peers that
// asked for announcements by headers (BIP130), once we are synced.
func (s *Sync) tipChanged(res chain.AcceptResult) {
	s.recordRate(s.core.Now())
	if r := res.Reorg; r != nil {
		s.core.Logf(slog.LevelInfo, "reorg", "fork_height", r.ForkHeight, "new_tip", r.NewTip)
		s.core.Event(p2p.EventReorg, 0, fmt.Sprintf("reorganized at height %d: tip %d %s replaces %d %s",
			r.ForkHeight, r.NewHeight, protocol.ShortHash(r.NewTip), r.OldHeight, protocol.ShortHash(r.OldTip)))
	}
	if s.state != StateSynced {
		return
	}
	height := s.chain.Height()
	from := max(height-maxAnnounce+1, 1)
	if res.Reorg != nil {
		from = max(from, res.Reorg.ForkHeight+1)
	}
	msg := wire.NewMsgHeaders()
	for h := from; h <= height; h++ {
		w := s.chain.HeaderAt(h).ToWire()
		msg.AddBlockHeader(&w)
	}
	tip := s.chain.HashAt(height)
	inv := wire.NewMsgInv()
	inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &tip))
	// Peers that have the parent of the first header get the headers
	// (BIP130); the others could not connect them and get an inv of the
	// tip instead, as Core does, and ask with a locator.
	// What a peer has of our main chain: up to where its best header's
	// branch meets it (after a reorg, that is the fork point).
	common := func(sp *syncPeer) int32 {
		if sp.bestKnown == 0 {
			return 0
		}
		return s.chain.CommonHeight(&sp.bestHash)
	}
	wants := func(sp *syncPeer) bool { return sp.announced != tip && common(sp) < height }
	knowsParent := func(p p2p.Peer, sp *syncPeer) bool { return p.Features().SendHeaders && common(sp) >= from-1 }
	s.core.Broadcast(msg, func(p p2p.Peer) bool {
		sp, ok := s.peers[p.ID()]
		if !ok || !wants(sp) || !knowsParent(p, sp) {
			return false
		}
		sp.announced, sp.bestKnown, sp.bestHash = tip, height, tip
		return true
	})
	s.core.Broadcast(inv, func(p p2p.Peer) bool {
		sp, ok := s.peers[p.ID()]
		if !ok || !wants(sp) || knowsParent(p, sp) {
			return false
		}
		sp.announced = tip
		return true
	})
}

// handleGetHeaders answers from the main chain (at most 2000 headers).
func (s *Sync) handleGetHeaders(id p2p.PeerID, sp *syncPeer, m *wire.MsgGetHeaders) {
	locator := make([]chainhash.Hash, len(m.BlockLocatorHashes))
	for i, h := range m.BlockLocatorHashes {
		locator[i] = *h
	}
	headers := s.chain.HeadersAfter(locator, m.HashStop, maxHeadersPerMsg)
	msg := &wire.MsgHeaders{Headers: make([]*wire.BlockHeader, len(headers))}
	ws := make([]wire.BlockHeader, len(headers))
	for i := range headers {
		ws[i] = headers[i].ToWire()
		msg.Headers[i] = &ws[i]
	}
	if len(headers) > 0 {
		// The peer now has our chain up to the last header sent (Core's
		// pindexBestHeaderSent), so announcements can build on it.
		last := headers[len(headers)-1].Hash()
		if h, ok := s.chain.MainHeight(&last); ok && h >= sp.bestKnown {
			sp.bestKnown, sp.bestHash = h, last
		}
	}
	s.core.Send(id, msg)
}

// handleGetData answers with notfound: the node keeps no blocks or
// transactions yet, and notfound lets the peer ask elsewhere at once.
// Answering is optional work.
func (s *Sync) handleGetData(id p2p.PeerID, msg *wire.MsgGetData) {
	p, ok := s.core.Peer(id)
	if !ok || !p.HasRoom() || len(msg.InvList) == 0 {
		return
	}
	nf := wire.NewMsgNotFound()
	for _, iv := range msg.InvList {
		nf.AddInvVect(iv)
	}
	s.core.Send(id, nf)
}
