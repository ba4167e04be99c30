package netsync

import (
	"strconv"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/p2p"
)

// What block download shows whoever watches, beyond its status: the
// window cell by cell, the recent stalls, each peer's share (see
// PeerBlocks) and the blocks' timelines (timeline.go). All of it is built
// on the core's goroutine for a snapshot and never written to afterwards.

// maxStallRecords is how many recent stalls are kept.
const maxStallRecords = 32

// StallRecord is one peer dropped for stalling the download window: whom,
// when, for which block, how long the window waited, the timeout in force,
// and what came of it (who delivered the block in the end, and how long
// after the drop).
type StallRecord struct {
	At      time.Time      `json:"at"`
	Peer    p2p.PeerID     `json:"peer"`
	Height  int32          `json:"height"`
	Hash    chainhash.Hash `json:"hash"`
	Waited  time.Duration  `json:"waited_ns"`
	Timeout time.Duration  `json:"timeout_ns"`
	// ReplacedBy is the peer that delivered the block after the drop (0:
	// not delivered yet), DeliveredAt when.
	ReplacedBy  p2p.PeerID `json:"replaced_by,omitempty"`
	DeliveredAt time.Time  `json:"delivered_at,omitzero"`
}

// Outcome says what came of the stall, in words.
func (r StallRecord) Outcome() string {
	if r.ReplacedBy == 0 {
		return "dropped; block not delivered yet"
	}
	return "dropped; block delivered by peer " + strconv.FormatUint(uint64(r.ReplacedBy), 10) + " " + r.DeliveredAt.Sub(r.At).Round(time.Millisecond).String() + " later"
}

// stallLog keeps the last maxStallRecords stalls, oldest first; records
// are replaced, never written to, once handed out.
type stallLog struct {
	records []StallRecord
	// replaced counts stalls whose block another peer then delivered.
	replaced uint64
}

func (l *stallLog) add(r StallRecord) {
	l.records = append(l.records[max(0, len(l.records)-maxStallRecords+1):len(l.records):len(l.records)], r)
}

// delivered notes that peer delivered hash: a stall waiting on it ends.
func (l *stallLog) delivered(hash chainhash.Hash, peer p2p.PeerID, at time.Time) {
	for i, r := range l.records {
		if r.Hash == hash && r.ReplacedBy == 0 && r.Peer != peer {
			c := append([]StallRecord(nil), l.records...)
			c[i].ReplacedBy, c[i].DeliveredAt = peer, at
			l.records = c
			l.replaced++
			return
		}
	}
}

// CellState is the state of one block of the download window.
type CellState byte

// The window's cell states, in the order a block goes through them; each
// is one letter, as the dashboard's feed packs them.
const (
	CellMissing   CellState = '.' // not asked of anyone
	CellRequested CellState = 'r' // asked of Peer since Since
	CellReceived  CellState = 'R' // received, being checked and written
	CellStored    CellState = 'S' // stored, waiting to connect
	// CellValidated is a stored block the shell's block connector has
	// connected to the UTXO set already: netsync hears of that in batches
	// (BlocksValidated), so only the shell, which sees the connector's
	// progress, sets it.
	CellValidated CellState = 'V'
)

// CellStates lists the states in order.
func CellStates() []CellState {
	return []CellState{CellMissing, CellRequested, CellReceived, CellStored, CellValidated}
}

// Name is the state's word: missing, requested, received, stored or
// validated.
func (s CellState) Name() string {
	switch s {
	case CellRequested:
		return "requested"
	case CellReceived:
		return "received"
	case CellStored:
		return "stored"
	case CellValidated:
		return "validated"
	}
	return "missing"
}

// WindowCell is one block of the download window.
type WindowCell struct {
	State CellState
	Peer  p2p.PeerID // the peer asked (requested)
	Since time.Time  // when it was asked (requested)
}

// WindowView is the download window as it stands: one cell per block from
// From (the block after the last connected) up to BlockDownloadWindow
// blocks, or the best header.
type WindowView struct {
	From  int32
	Cells []WindowCell
	// Staller is the peer holding the window's first block while the
	// window cannot move (0: none), since StallingSince; past
	// StallTimeout it is dropped.
	Staller       p2p.PeerID
	StallingSince time.Time
	StallTimeout  time.Duration
}

// windowView builds the window's cells.
func (s *Sync) windowView() *WindowView {
	b := s.blocks
	from := b.tip() + 1
	to := min(s.chain.Height(), b.tip()+BlockDownloadWindow)
	v := &WindowView{From: from, StallTimeout: b.window.stallTimeout}
	for id, wp := range b.window.peers {
		if !wp.stallingSince.IsZero() && (v.Staller == 0 || wp.stallingSince.Before(v.StallingSince)) {
			v.Staller, v.StallingSince = id, wp.stallingSince
		}
	}
	if to < from {
		return v
	}
	v.Cells = make([]WindowCell, to-from+1)
	for h := from; h <= to; h++ {
		hash := s.chain.HashAt(h)
		c := &v.Cells[h-from]
		c.State = CellMissing
		if r, ok := b.window.inFlight[hash]; ok {
			c.State, c.Peer, c.Since = CellRequested, r.Peer, r.Asked
		} else if _, ok := b.storing[hash]; ok {
			c.State = CellReceived
		} else if _, ok := b.stored[hash]; ok || h <= b.connected {
			c.State = CellStored
		}
	}
	return v
}

// recordAnnouncements notes the blocks a peer announced: an inv's blocks,
// or a headers message short enough to be an announcement. Only blocks
// whose header the chain holds count: a made-up hash in an inv, or a header
// that failed its rules, costs a peer nothing, and would push real blocks'
// timelines out of the store. (An inv of a block whose header we lack is
// followed by our getheaders, and the headers answering it record the
// announcer.)
func (s *Sync) recordAnnouncements(id p2p.PeerID, hashes []chainhash.Hash, via string) {
	if s.blocks == nil || len(hashes) > MaxAnnouncementHeaders {
		return
	}
	now := s.core.Now()
	for i := range hashes {
		if !s.chain.Known(&hashes[i]) {
			continue
		}
		height := int32(-1)
		if h, ok := s.chain.MainHeight(&hashes[i]); ok {
			height = h
		}
		s.blocks.timelines.announced(hashes[i], height, id, now, via)
	}
}
