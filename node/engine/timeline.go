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

// The download window as netsync shows it (WindowView, WindowCell and
// their states), with CellValidated set by blocksView.
type (
	WindowView = netsync.WindowView
	WindowCell = netsync.WindowCell
	CellState  = netsync.CellState
)

// The window's cell states.
const (
	CellMissing   = netsync.CellMissing
	CellRequested = netsync.CellRequested
	CellReceived  = netsync.CellReceived
	CellStored    = netsync.CellStored
	CellValidated = netsync.CellValidated
)

// CellStates lists the window's cell states in order.
func CellStates() []CellState { return netsync.CellStates() }

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
// connected, highest first; only those n are copied with their stages.
func (v *BlocksView) RecentTimelines(n int) []*BlockTimeline {
	if v == nil {
		return nil
	}
	var connected []*netsync.BlockTimeline
	for _, tl := range v.timelines {
		if !tl.Connected.IsZero() {
			connected = append(connected, tl)
		}
	}
	slices.SortFunc(connected, func(a, b *netsync.BlockTimeline) int { return cmp.Compare(b.Height, a.Height) })
	out := make([]*BlockTimeline, 0, min(n, len(connected)))
	for _, tl := range connected[:min(n, len(connected))] {
		full, _ := v.Timeline(tl.Hash)
		out = append(out, full)
	}
	return out
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
	v.Window = *ss.Window
	v.Window.Cells = slices.Clone(ss.Window.Cells)
	for i := range v.Window.Cells {
		if c := &v.Window.Cells[i]; c.State == CellStored && v.Window.From+int32(i) <= validatedTo {
			c.State = CellValidated
		}
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
