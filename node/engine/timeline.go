package engine

import (
	"time"

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
