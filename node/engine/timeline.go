package engine

import (
	"cmp"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/netsync"
)

// BlockTimeline is a recent block's life in the node (netsync's part:
// announcements, requests, received, stored, connected) with the block
// connector's stage timings when it was validated.
type BlockTimeline struct {
	netsync.BlockTimeline
	Stages *ConnectStages `json:"stages,omitempty"`
}

// Announcement and TimelineRequest are a timeline's entries.
type (
	Announcement    = netsync.Announcement
	TimelineRequest = netsync.TimelineRequest
)

// ConnectStages is how long connecting one block to the UTXO set took,
// stage by stage: reading (and decoding) it, fetching and checking its
// inputs (every rule but scripts), verifying its scripts, and writing
// (undo data, staging the changes in the coin cache).
type ConnectStages struct {
	Start   time.Time     `json:"start"`
	Read    time.Duration `json:"read_ns"`
	Inputs  time.Duration `json:"inputs_ns"`
	Scripts time.Duration `json:"scripts_ns"`
	Write   time.Duration `json:"write_ns"`
	// Txs, InputCount and ScriptsChecked: what the block held and how
	// many inputs' scripts were verified (none under -assumevalid).
	Txs            int `json:"txs"`
	InputCount     int `json:"inputs"`
	ScriptsChecked int `json:"scripts_checked"`
}

// Done is when the block was connected to the UTXO set.
func (s *ConnectStages) Done() time.Time {
	return s.Start.Add(s.Read + s.Inputs + s.Scripts + s.Write)
}

// BlocksView is block download for observers (Snapshot.Blocks): shared,
// never written to.
type BlocksView struct {
	// Window is the download window, one cell per block from its first
	// (the block after the last connected one); a stored cell the block
	// connector already connected to the UTXO set, which netsync hears of
	// in batches, shows as validated.
	Window WindowView
	// Stalls are the recent stalls, oldest first.
	Stalls []StallRecord
	// Recent are the last blocks the connector connected, oldest first.
	Recent []RecentConnect
	// timelines are netsync's, by hash; stages the connector's.
	timelines map[chainhash.Hash]*netsync.BlockTimeline
	stages    func(chainhash.Hash) (ConnectStages, bool)
}

// WindowView is the download window: cells from From.
type WindowView struct {
	From  int32        `json:"from"`
	Cells []WindowCell `json:"cells"`
	// Staller is the peer holding up the window (0: none), since
	// StallingSince, to be dropped past StallTimeout.
	Staller       PeerID        `json:"staller,omitempty"`
	StallingSince time.Time     `json:"stalling_since,omitzero"`
	StallTimeout  time.Duration `json:"stall_timeout_ns"`
}

// WindowCell is one block of the window: its state, and for a requested
// one the peer asked and when.
type WindowCell struct {
	State CellState `json:"state"`
	Peer  PeerID    `json:"peer,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

// CellState names a window cell's state.
type CellState string

// The window's cell states.
const (
	CellMissing   CellState = "missing"
	CellRequested CellState = "requested"
	CellReceived  CellState = "received"
	CellStored    CellState = "stored"
	CellValidated CellState = "validated"
)

// StallRecord is a peer dropped for stalling the window.
type StallRecord = netsync.StallRecord

// Timeline returns block hash's timeline with its connect stages, if it
// is recent enough to be kept.
func (v *BlocksView) Timeline(hash chainhash.Hash) (*BlockTimeline, bool) {
	if v == nil {
		return nil, false
	}
	tl, ok := v.timelines[hash]
	if !ok {
		return nil, false
	}
	out := &BlockTimeline{BlockTimeline: *tl}
	if s, ok := v.stages(hash); ok {
		out.Stages = &s
		out.Validated = s.Done()
	}
	return out, true
}

// RecentTimelines returns up to n timelines of the highest blocks
// connected, highest first.
func (v *BlocksView) RecentTimelines(n int) []*BlockTimeline {
	if v == nil {
		return nil
	}
	var out []*BlockTimeline
	for h := range v.timelines {
		tl, _ := v.Timeline(h)
		if tl.Connected.IsZero() {
			continue
		}
		out = append(out, tl)
	}
	slices.SortFunc(out, func(a, b *BlockTimeline) int { return cmp.Compare(b.Height, a.Height) })
	return out[:min(n, len(out))]
}

// blocksView builds the observers' view of block download from sync's
// snapshot and the connector's figures.
func (e *Engine) blocksView(ss *netsync.Snapshot) *BlocksView {
	v := &BlocksView{Stalls: ss.Stalls, timelines: ss.Timelines, stages: func(chainhash.Hash) (ConnectStages, bool) { return ConnectStages{}, false }}
	validatedTo := int32(-1)
	if c := e.connector; c != nil {
		v.Recent = c.record.recentConnects()
		v.stages = c.record.stages
		if u := c.stats.Load(); u != nil && u.Best.Height <= ss.Chain.Height() && ss.Chain.HashAt(max(0, u.Best.Height)) == u.Best.Hash {
			validatedTo = u.Best.Height
		}
	}
	w := ss.Window
	v.Window = WindowView{From: w.From, Cells: make([]WindowCell, len(w.Cells)), Staller: w.Staller, StallingSince: w.StallingSince, StallTimeout: w.StallTimeout}
	for i, c := range w.Cells {
		cell := WindowCell{Peer: c.Peer, Since: c.Since}
		switch c.State {
		case netsync.CellRequested:
			cell.State = CellRequested
		case netsync.CellReceived:
			cell.State = CellReceived
		case netsync.CellStored:
			cell.State = CellStored
			if w.From+int32(i) <= validatedTo {
				cell.State = CellValidated
			}
		default:
			cell.State = CellMissing
		}
		v.Window.Cells[i] = cell
	}
	return v
}

// NewBlocksView assembles a BlocksView from its parts: the engine builds
// its own each publish; observers' tests build theirs with it. stages may
// be nil.
func NewBlocksView(w WindowView, stalls []StallRecord, recent []RecentConnect, timelines map[chainhash.Hash]*netsync.BlockTimeline,
	stages func(chainhash.Hash) (ConnectStages, bool)) *BlocksView {
	if stages == nil {
		stages = func(chainhash.Hash) (ConnectStages, bool) { return ConnectStages{}, false }
	}
	return &BlocksView{Window: w, Stalls: stalls, Recent: recent, timelines: timelines, stages: stages}
}
