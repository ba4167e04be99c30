package netsync

import (
	"time"

	"github.com/watchnode/watchnode/node/p2p"
)

// syncTimeout is the deadline of a sync starting now: Core's 15 minutes
// plus 1 ms for each header the chain should have grown since our best
// header, judged by the clock and the target spacing, never by what the
// peer claims (a peer announcing a huge height would buy itself days).
func (s *Sync) syncTimeout() time.Time {
	now := s.core.Now()
	behind := s.tipAge(now)
	if behind <= syncRecentAge {
		return time.Time{}
	}
	expected := int64(behind / (time.Duration(s.chain.Params().TargetSpacing) * time.Second))
	return now.Add(syncTimeoutBase + time.Duration(expected)*syncTimeoutPerHeader)
}

// checkSyncTimeout drops a sync peer that has not brought our best header
// within a day of now by its deadline, when another outbound peer can take
// the sync over, as Core does: each getheaders may be answered in time and
// the sync still crawl (a peer dribbling full batches just inside their
// timeouts). With no other outbound peer the slow one is kept: a slow sync
// beats none. Once the best header is recent the deadline is lifted, so a
// peer is never dropped for following a live chain.
func (s *Sync) checkSyncTimeout() {
	if s.peer == 0 || s.syncDeadline.IsZero() {
		return
	}
	now := s.core.Now()
	behind := s.tipAge(now)
	if behind <= syncRecentAge {
		s.syncDeadline = time.Time{}
		return
	}
	if now.Before(s.syncDeadline) || !s.otherOutboundPeer(s.peer) {
		return
	}
	s.core.CountTimeout()
	s.core.Drop(s.peer, p2p.Because(p2p.DropStall, "headers sync timed out: %d headers in %s (allowed %s), our best header still %d days behind the clock",
		s.chain.Height()-s.syncStartHeight, now.Sub(s.syncStart).Round(time.Second),
		s.syncDeadline.Sub(s.syncStart).Round(time.Second), int64(behind/(24*time.Hour))))
}

// tipAge is how far our best header's time is behind now.
func (s *Sync) tipAge(now time.Time) time.Duration {
	return now.Sub(time.Unix(int64(s.chain.TipHeader().Timestamp), 0))
}

// otherOutboundPeer reports whether an established outbound peer other than
// id could take a sync over.
func (s *Sync) otherOutboundPeer(id p2p.PeerID) bool {
	found := false
	s.core.Peers(func(p p2p.Peer) {
		if sp, ok := s.peers[p.ID()]; ok && p.ID() != id && p.Established() && !p.Inbound() && !sp.lowWork {
			found = true
		}
	})
	return found
}
