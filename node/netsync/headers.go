package netsync

import (
	"errors"
	"log/slog"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/p2p"
)

// handleHeaders processes a headers message: matched responses drive the
// pipelined download, unsolicited ones are announcements.
func (s *Sync) handleHeaders(id p2p.PeerID, sp *syncPeer, m *p2p.Message, answered *p2p.Request) {
	headers, hashes := m.Headers, m.Hashes
	if len(headers) == 0 {
		if answered != nil && s.answersOurSync(id) {
			s.syncCaughtUp(id, sp)
		}
		return
	}
	full := len(headers) == maxHeadersPerMsg
	if s.presync != nil || s.chain.NeedsPresync() {
		if s.presync != nil && answered != nil && id == s.peer {
			s.handlePresyncHeaders(id, sp, headers, hashes, full)
		} else if p, ok := s.core.Peer(id); ok {
			// Below the minimum chain work only the sync peer's presync may
			// bring headers in; announcements wait until we have a chain.
			p.Ignore()
		}
		return
	}
	// Pipelining: ask for the next batch before validating this one, so
	// the peer prepares it while we validate. If the batch turns out to be
	// invalid the peer is dropped and the request released.
	if full && answered != nil && s.chain.Known(&headers[0].PrevBlock) {
		s.requestHeaders(id, []chainhash.Hash{hashes[len(hashes)-1]})
		s.core.Flush()
	}
	now := s.core.Now()
	res, err := s.chain.Accept(headers, hashes, now.Unix())
	s.store(res.Writes)
	s.recordAnnouncements(id, hashes, "headers")
	s.learnedFrom(sp, res)
	if res.TipChanged {
		// Accept keeps the headers before the first bad one: the chain
		// may have moved (a reorg included) even when err says the
		// batch ended badly.
		s.tipChanged(res)
	}
	if err != nil {
		var rerr *consensus.RuleError
		switch {
		case errors.Is(err, consensus.ErrTimeTooNew):
			// Not invalid, only early (Core's BLOCK_TIME_FUTURE): keep the
			// peer, and take the header when it is offered again. It costs
			// the peer nothing, so only its first is logged at INFO (a
			// clock running slow shows up there); the rest are counted.
			sp.tooNew++
			level := slog.LevelDebug
			if sp.tooNew == 1 {
				level = slog.LevelInfo
			}
			s.core.Logf(level, "header too far in the future; ignored for now", "peer", id, "count", sp.tooNew, "err", err)
		case errors.As(err, &rerr):
			s.core.Drop(id, p2p.Violation("invalid header: %v", err))
		case errors.Is(err, chain.ErrInvalidAncestor):
			// A header of a chain we found invalid: Core drops an
			// outbound peer on it (we chose it, and it follows a bad
			// chain) but keeps an inbound one (BLOCK_CACHED_INVALID).
			if p, ok := s.core.Peer(id); ok && p.Inbound() {
				s.core.Logf(slog.LevelDebug, "header of a chain found invalid; ignored", "peer", id, "err", err)
				p.Ignore()
			} else {
				s.core.Drop(id, p2p.Violation("header of a chain found invalid: %v", err))
			}
		case errors.Is(err, chain.ErrNotConnected):
			sp.unconnecting++
			if sp.unconnecting > maxUnconnecting {
				s.core.Drop(id, p2p.Violation("%d headers messages that do not connect to our chain", sp.unconnecting))
				return
			}
			// The peer is on a branch we lack the start of: ask it from
			// our locator (Core does the same).
			if p, ok := s.core.Peer(id); ok && !p.Outstanding(wire.CmdGetHeaders) {
				s.requestHeaders(id, s.chain.Locator())
			}
		default:
			s.core.Drop(id, p2p.Violation("bad headers: %v", err))
		}
		return
	}
	sp.unconnecting = 0
	if _, alive := s.peers[id]; !alive {
		return
	}
	if res.TipChanged && s.blocks != nil {
		// New blocks to fetch: ask at once rather than at the next tick,
		// as Core's direct fetch on a new header does, so an announced
		// block is asked for within the message that announced it.
		s.requestBlocks()
	}
	if !full && answered != nil && s.answersOurSync(id) {
		s.syncCaughtUp(id, sp)
	}
	// A full batch that answered none of our requests (a peer announcing
	// 2,000 headers at once) means it has more: keep fetching from it.
	// An answer to a request was followed up above, by pipelining.
	if p, ok := s.core.Peer(id); ok && full && answered == nil && !p.Outstanding(wire.CmdGetHeaders) {
		s.requestHeaders(id, s.chain.Locator())
	}
}

// answersOurSync reports whether a short answer from peer id ends a sync:
// it is the sync peer's, or no sync runs and we are not synced (the tip
// check of a restart: the peer has nothing beyond what we now have).
func (s *Sync) answersOurSync(id p2p.PeerID) bool {
	return id == s.peer || (s.peer == 0 && s.state == StateIdle)
}

// handlePresyncHeaders feeds the sync peer's headers to the presync: in
// PRESYNC they are validated and forgotten, in REDOWNLOAD the ones proven
// to be the presynced chain are stored.
func (s *Sync) handlePresyncHeaders(id p2p.PeerID, sp *syncPeer, headers []consensus.Header, hashes []chainhash.Hash, full bool) {
	ps := s.presync
	wasRedownloading := ps.Redownloading()
	now := s.core.Now()
	out, outHashes, err := ps.Process(headers, hashes, now.Unix())
	if err != nil {
		s.resetSyncPeer()
		s.core.Drop(id, p2p.Violation("headers presync: %v", err))
		return
	}
	if len(out) > 0 {
		res, err := s.chain.Accept(out, outHashes, now.Unix())
		s.store(res.Writes)
		if err != nil {
			s.resetSyncPeer()
			s.core.Drop(id, p2p.Violation("invalid header on redownload: %v", err))
			return
		}
		s.learnedFrom(sp, res)
		if res.TipChanged {
			s.tipChanged(res)
		}
	}
	switch {
	case !wasRedownloading && ps.Redownloading():
		s.core.Logf(slog.LevelInfo, "presync reached the minimum chain work; downloading again to store", "peer", id, "height", ps.Target())
		s.state = StateRedownload
		s.requestHeaders(id, s.chain.LocatorAt(ps.Anchor()))
	case ps.Done():
		s.presync = nil
		s.state = StateSyncing
		if full {
			s.requestHeaders(id, []chainhash.Hash{hashes[len(hashes)-1]})
		} else {
			s.syncCaughtUp(id, sp)
		}
	case full:
		s.requestHeaders(id, []chainhash.Hash{hashes[len(hashes)-1]})
	case !ps.Redownloading():
		// The peer's whole chain is below the minimum work: nothing to
		// store. Not misbehaviour (it may still be syncing); try another.
		s.core.Logf(slog.LevelInfo, "peer's chain is below the minimum chain work", "peer", id, "presync_height", ps.Height())
		sp.lowWork = true
		s.resetSyncPeer()
	default:
		// A short batch during redownload before the target: the peer
		// served less than it presynced.
		s.resetSyncPeer()
		s.core.Drop(id, p2p.Violation("headers presync: redownload ended at %d before %d", ps.Height(), ps.Target()))
	}
}

// handleInv follows block announcements from peers that announce by inv
// (those that did not send sendheaders): an unknown block hash means the
// peer has headers we lack, so ask it from our locator, as Core does.
//
// A block it announces that is on our main chain is one it has: it is not
// announced back to it.
func (s *Sync) handleInv(id p2p.PeerID, sp *syncPeer, m *wire.MsgInv) {
	// At most one block past what counts as an announcement is collected:
	// enough to tell a longer inv, which records nothing.
	var blocks []chainhash.Hash
	for _, iv := range m.InvList {
		if (iv.Type == wire.InvTypeBlock || iv.Type == wire.InvTypeWitnessBlock) && len(blocks) <= MaxAnnouncementHeaders {
			blocks = append(blocks, iv.Hash)
		}
	}
	s.recordAnnouncements(id, blocks, "inv")
	for _, iv := range m.InvList {
		if iv.Type != wire.InvTypeBlock && iv.Type != wire.InvTypeWitnessBlock {
			continue
		}
		if h, ok := s.chain.MainHeight(&iv.Hash); ok && h > sp.bestKnown {
			sp.bestKnown, sp.bestHash = h, iv.Hash
		}
		if !s.chain.Known(&iv.Hash) {
			// Remembered until its header arrives (Core's
			// hashLastUnknownBlock): the peer has it.
			sp.lastUnknown = iv.Hash
			if p, ok := s.core.Peer(id); ok && !p.Outstanding(wire.CmdGetHeaders) {
				s.requestHeaders(id, s.chain.Locator())
			}
			return
		}
	}
}
