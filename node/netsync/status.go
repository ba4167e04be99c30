package netsync

import (
	"errors"

	"fmt"
	"github.com/btcsuite/btcd/chainhash/v2"
	"time"

	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
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
	// TargetSource says where Target comes from: "peers" (a peer's
	// version or best known header), "clock" (estimated from the tip's
	// age, one header per 10 minutes, before any peer says more) or "tip"
	// (synced, or nothing says we are behind).
	TargetSource string `json:"target_source"`
	// WorkProgress is progress by chain work: the tip's work over the
	// work expected at the target, the larger of the network's minimum
	// chain work (Core's nMinimumChainWork, a floor known at release) and
	// the tip's work plus the missing headers at the tip's difficulty.
	// Early headers carry almost no work, so this is the honest measure
	// of how much of the chain is still missing.
	WorkProgress float64 `json:"work_progress"`
	// PresyncHeight is how far the presync or redownload has got.
	PresyncHeight int32 `json:"presync_height,omitempty"`
	// SyncedAt is when the node last caught up with its peers.
	SyncedAt time.Time `json:"synced_at"`
	// Blocks is block download's status; nil for a headers-only node.
	Blocks *BlockStatus `json:"blocks,omitempty"`
}

// Snapshot is sync's part of what observers see: the status, an immutable
// view of the header chain, and how far each peer is known to be.
type Snapshot struct {
	Status Status
	Chain  *chain.View
	// PeerHeights maps each established peer to the highest main-chain
	// header it is known to have.
	PeerHeights map[p2p.PeerID]int32
	// PeerBlocks says, per block peer, how many blocks are asked of it and
	// how many it delivered.
	PeerBlocks map[p2p.PeerID]PeerBlocks
	// Connected is the last connected block's height; FailedBlocks the
	// blocks found invalid with their rule (shared, never written to).
	Connected    int32
	FailedBlocks map[chainhash.Hash]string
	// Window is the download window cell by cell, Stalls the recent
	// stalls (oldest first), Timelines the recent blocks' timelines (a
	// shared map, never written to; see MaxTimelines). Nil for a
	// headers-only node.
	Window    *WindowView
	Stalls    []StallRecord
	Timelines map[chainhash.Hash]*BlockTimeline
}

// PeerBlocks is one peer's share of the block download: blocks in flight,
// delivered, their bytes, the mean time from request to block, and the
// time it had blocks in flight (its throughput is Bytes over Busy).
type PeerBlocks struct {
	InFlight    int
	Received    uint64
	Bytes       uint64
	AvgDelivery time.Duration
	Busy        time.Duration
}

// Snapshot copies sync's state at now.
func (s *Sync) Snapshot(now time.Time) Snapshot {
	snap := Snapshot{Status: s.status(now), Chain: s.chain.View(), PeerHeights: make(map[p2p.PeerID]int32, len(s.peers)), Connected: s.Connected()}
	if s.blocks != nil {
		snap.FailedBlocks = s.blocks.failedView
		snap.Window, snap.Stalls, snap.Timelines = s.windowView(), s.blocks.stalls.records, s.blocks.timelines.snapshot()
		snap.PeerBlocks = make(map[p2p.PeerID]PeerBlocks, len(s.blocks.window.peers))
		for id, wp := range s.blocks.window.peers {
			pb := PeerBlocks{InFlight: len(wp.inFlight), Received: wp.received, Bytes: wp.bytes, Busy: wp.busy}
			if len(wp.inFlight) > 0 {
				pb.Busy += now.Sub(wp.busySince)
			}
			if wp.received > 0 {
				pb.AvgDelivery = wp.delivery / time.Duration(wp.received)
			}
			snap.PeerBlocks[id] = pb
		}
	}
	for id, sp := range s.peers {
		snap.PeerHeights[id] = sp.bestKnown
	}
	return snap
}

// status computes progress, rate and ETA.
func (s *Sync) status(now time.Time) Status {
	height := s.chain.Height()
	st := Status{State: s.state, Peer: s.peer, Target: height, TargetSource: "tip", SyncedAt: s.syncedAt, Blocks: s.blockStatus()}
	if ps := s.presync; ps != nil {
		st.PresyncHeight = ps.Height()
	}
	raise := func(h int32, source string) {
		if h > st.Target {
			st.Target, st.TargetSource = h, source
		}
	}
	s.core.Peers(func(p p2p.Peer) {
		if p.Version() != nil {
			raise(p.StartHeight(), "peers")
		}
		if sp, ok := s.peers[p.ID()]; ok {
			raise(sp.bestKnown, "peers")
		}
	})
	// A tip far in the past also says we are behind, whatever peers claim:
	// about one header per 10 minutes since the tip's time. Not on regtest
	// (no retargeting), whose blocks come only when someone mines them.
	tip := s.chain.TipHeader()
	tipTime := time.Unix(int64(tip.Timestamp), 0)
	if behind := now.Sub(tipTime); behind > 24*time.Hour && s.state != StateSynced && !s.chain.Params().NoRetargeting {
		raise(height+int32(behind/(10*time.Minute)), "clock")
	}
	switch {
	case s.state == StateSynced:
		// Synced with every peer we asked: a peer merely claiming a higher
		// height in its version message does not make us behind.
		st.Target, st.TargetSource, st.Progress = height, "tip", 1
	case st.Target > 0:
		st.Progress = min(1, float64(height)/float64(st.Target))
	default:
		st.Progress = 1
	}
	st.WorkProgress = 1
	if st.Target > height {
		_, _, work := s.chain.Tip()
		have := work.Float64()
		want := have + float64(st.Target-height)*consensus.Work(tip.Bits).Float64()
		want = max(want, s.chain.Params().MinimumChainWork.Float64())
		if want > 0 {
			st.WorkProgress = min(1, have/want)
		}
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
	if n, _ := s.preparedCount(); n > maxPrepared {
		errs = append(errs, fmt.Errorf("%d peers have a batch made ahead (bound %d)", n, maxPrepared))
	}
	if s.presync != nil && s.peer == 0 {
		errs = append(errs, errors.New("a presync without a sync peer"))
	}
	if len(s.samples) > 1 && s.samples[len(s.samples)-1].at.Sub(s.samples[0].at) > 2*rateWindow {
		errs = append(errs, fmt.Errorf("rate samples span %s", s.samples[len(s.samples)-1].at.Sub(s.samples[0].at)))
	}
	if err := s.checkBlockInvariants(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
