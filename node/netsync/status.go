package netsync

import (
	"errors"
	"fmt"
	"time"

	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/p2p"
)

// Status is the sync part of the node's status.
type Status struct {
	State         string     `json:"state"`
	Progress      float64    `json:"progress"` // 0..1
	HeadersPerSec float64    `json:"headers_per_sec"`
	EtaS          float64    `json:"eta_s"`
	Peer          p2p.PeerID `json:"peer"` // 0: none
	Target        int32      `json:"target_height"`
	// PresyncHeight is how far the presync or redownload has got.
	PresyncHeight int32 `json:"presync_height,omitempty"`
	// SyncedAt is when the node last caught up with its peers.
	SyncedAt time.Time `json:"synced_at"`
}

// Snapshot is sync's part of what observers see: the status, an immutable
// view of the header chain, and how far each peer is known to be.
type Snapshot struct {
	Status Status
	Chain  *chain.View
	// PeerHeights maps each established peer to the highest main-chain
	// header it is known to have.
	PeerHeights map[p2p.PeerID]int32
}

// Snapshot copies sync's state at now.
func (s *Sync) Snapshot(now time.Time) Snapshot {
	snap := Snapshot{Status: s.status(now), Chain: s.chain.View(), PeerHeights: make(map[p2p.PeerID]int32, len(s.peers))}
	for id, sp := range s.peers {
		snap.PeerHeights[id] = sp.bestKnown
	}
	return snap
}

// status computes progress, rate and ETA.
func (s *Sync) status(now time.Time) Status {
	height := s.chain.Height()
	st := Status{State: s.state, Peer: s.peer, Target: height, SyncedAt: s.syncedAt}
	if ps := s.presync; ps != nil {
		st.PresyncHeight = ps.Height()
	}
	s.core.Peers(func(p p2p.Peer) {
		if p.Version() != nil {
			st.Target = max(st.Target, p.StartHeight())
		}
		if sp, ok := s.peers[p.ID()]; ok {
			st.Target = max(st.Target, sp.bestKnown)
		}
	})
	// A tip far in the past also says we are behind, whatever peers claim:
	// about one header per 10 minutes since the tip's time.
	tipTime := time.Unix(int64(s.chain.TipHeader().Timestamp), 0)
	if behind := now.Sub(tipTime); behind > 24*time.Hour && s.state != StateSynced {
		st.Target = max(st.Target, height+int32(behind/(10*time.Minute)))
	}
	switch {
	case s.state == StateSynced:
		// Synced with every peer we asked: a peer merely claiming a higher
		// height in its version message does not make us behind.
		st.Target, st.Progress = height, 1
	case st.Target > 0:
		st.Progress = min(1, float64(height)/float64(st.Target))
	default:
		st.Progress = 1
	}
	if n := len(s.samples); n >= 2 && now.Sub(s.samples[n-1].at) < rateWindow {
		first, last := s.samples[0], s.samples[n-1]
		if d := last.at.Sub(first.at).Seconds(); d > 0 {
			st.HeadersPerSec = float64(last.height-first.height) / d
		}
	}
	if st.HeadersPerSec > 0 && st.Target > height {
		st.EtaS = float64(st.Target-height) / st.HeadersPerSec
	}
	return st
}

// CheckInvariants verifies that sync refers to no dropped peer and that its
// state is consistent; simulations call it after every step.
func (s *Sync) CheckInvariants() error {
	var errs []error
	for id := range s.peers {
		if p, ok := s.core.Peer(id); !ok || !p.Established() {
			errs = append(errs, fmt.Errorf("sync keeps state for peer %d, which is gone or not established", id))
		}
	}
	if s.peer != 0 {
		if _, ok := s.peers[s.peer]; !ok {
			errs = append(errs, fmt.Errorf("sync peer %d is not a known peer", s.peer))
		}
	}
	prepared := 0
	for _, sp := range s.peers {
		if sp.prepared != nil {
			prepared++
		}
	}
	if prepared != s.prepared || prepared > maxPrepared {
		errs = append(errs, fmt.Errorf("%d peers have a batch made ahead, counted %d (bound %d)", prepared, s.prepared, maxPrepared))
	}
	if s.presync != nil && s.peer == 0 {
		errs = append(errs, errors.New("a presync without a sync peer"))
	}
	if len(s.samples) > 1 && s.samples[len(s.samples)-1].at.Sub(s.samples[0].at) > 2*rateWindow {
		errs = append(errs, fmt.Errorf("rate samples span %s", s.samples[len(s.samples)-1].at.Sub(s.samples[0].at)))
	}
	return errors.Join(errs...)
}
