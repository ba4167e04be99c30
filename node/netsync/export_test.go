package netsync

import (
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/p2p"
)

// Internals the external tests (package netsync_test) look at.

const (
	MaxHeadersPerMsg        = maxHeadersPerMsg
	MaxAnnounce             = maxAnnounce
	MaxUnconnecting         = maxUnconnecting
	HeadersTimeoutBase      = headersTimeoutBase
	HeadersTimeoutPerHeader = headersTimeoutPerHeader
	SyncTimeoutBase         = syncTimeoutBase
	SyncTimeoutPerHeader    = syncTimeoutPerHeader
	MaxPrepared             = maxPrepared
	PreparedTTL             = preparedTTL
)

func (s *Sync) State() string        { return s.state }
func (s *Sync) SyncPeer() p2p.PeerID { return s.peer }

// SyncDeadline is when the current sync times out (zero: never).
func (s *Sync) SyncDeadline() time.Time { return s.syncDeadline }

// PeerState is a test's view of what sync knows of a peer.
type PeerState struct {
	BestKnown    int32
	BestHash     chainhash.Hash
	Announced    chainhash.Hash
	TipAsked     bool
	Unconnecting int
	LowWork      bool
	SyncDone     bool
	TooNew       int
}

func (s *Sync) PeerState(id p2p.PeerID) (PeerState, bool) {
	sp, ok := s.peers[id]
	if !ok {
		return PeerState{}, false
	}
	return PeerState{sp.bestKnown, sp.bestHash, sp.announced, sp.tipAsked, sp.unconnecting, sp.lowWork, sp.syncDone, sp.tooNew}, true
}

// Prepared reports whether peer id has a headers batch made ahead, and
// how many peers have one.
func (s *Sync) Prepared(id p2p.PeerID) (bool, int) {
	n, _ := s.preparedCount()
	sp, ok := s.peers[id]
	return ok && sp.prepared != nil, n
}

// Status is the sync status at now.
func (s *Sync) StatusAt(now time.Time) Status { return s.status(now) }

// FailedRule returns the rule block hash broke, if it was found invalid.
func (s *Sync) FailedRule(hash chainhash.Hash) (string, bool) {
	if s.blocks == nil {
		return "", false
	}
	r, ok := s.blocks.failed[hash]
	return r, ok
}
