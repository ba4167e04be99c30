package web

import (
	"strings"
	"time"

	"github.com/watchnode/watchnode/node/engine"
)

// The sync page's part of the feed: the download window cell by cell, the
// recent stalls and the last blocks' connect stages. Only clients that ask
// for it ({"type": "sync"}) get it, and at most twice a second: a window
// of 1,024 cells changes with every block, and every other page would pay
// for it.
const (
	syncInterval = 500 * time.Millisecond
	// maxSyncRecent bounds the connect stages sent (the chart's columns).
	maxSyncRecent = 120
)

// syncData is the window, stalls and recent connects. Window cells are
// packed: states one letter per cell (netsync.CellState), peers and the age of
// each request in milliseconds per cell (0 where none), so 1,024 cells
// take a few kilobytes.
type syncData struct {
	From   int32                  `json:"from"`
	States string                 `json:"states"`
	Peers  []uint64               `json:"peers"`
	AgeMs  []int64                `json:"age_ms"`
	Stalls []syncStall            `json:"stalls"`
	Recent []engine.RecentConnect `json:"recent"`
	// Staller is the peer holding up the window now (0: none), for
	// StallingMs of the StallTimeoutMs after which it is dropped.
	Staller        uint64 `json:"staller"`
	StallingMs     int64  `json:"stalling_ms"`
	StallTimeoutMs int64  `json:"stall_timeout_ms"`
}

// syncStall is one stall as the page shows it.
type syncStall struct {
	engine.StallRecord
	Outcome string `json:"outcome"`
}

// syncDataOf packs snap's block download view at now.
func syncDataOf(snap *engine.Snapshot, now time.Time) *syncData {
	v := snap.Blocks
	if v == nil {
		return &syncData{}
	}
	d := &syncData{From: v.Window.From, Peers: make([]uint64, len(v.Window.Cells)), AgeMs: make([]int64, len(v.Window.Cells))}
	var states strings.Builder
	states.Grow(len(v.Window.Cells))
	for i, c := range v.Window.Cells {
		states.WriteByte(byte(c.State)) // each state is one letter
		if c.State == engine.CellRequested {
			d.Peers[i] = uint64(c.Peer)
			d.AgeMs[i] = max(0, now.Sub(c.Since).Milliseconds())
		}
	}
	d.States = states.String()
	if w := v.Window; w.Staller != 0 {
		d.Staller, d.StallingMs = uint64(w.Staller), max(0, now.Sub(w.StallingSince).Milliseconds())
	}
	d.StallTimeoutMs = v.Window.StallTimeout.Milliseconds()
	for _, s := range v.Stalls {
		d.Stalls = append(d.Stalls, syncStall{StallRecord: s, Outcome: s.Outcome()})
	}
	d.Recent = v.Recent[max(0, len(v.Recent)-maxSyncRecent):]
	return d
}
