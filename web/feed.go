package web

import (
	"time"

	"github.com/watchnode/watchnode/node/engine"
)

// FeedVersion is the version of the WebSocket feed's JSON schema, sent in
// every message as "v". It changes when a field changes meaning or goes
// away; new fields may appear without a change.
const FeedVersion = 1

// feedMsg is one WebSocket message from the server.
type feedMsg struct {
	V    int    `json:"v"`
	Type string `json:"type"` // "snapshot", "delta" or "messages"
	Data any    `json:"data"`
}

// stateData is the node's state in a snapshot (every section set) or a
// delta (only the sections that changed; a section is always whole).
type stateData struct {
	Status      *engine.Status      `json:"status,omitempty"`
	Peers       []engine.PeerInfo   `json:"peers,omitempty"`
	Disconnects []engine.Disconnect `json:"disconnects,omitempty"`
	Bans        []engine.Ban        `json:"bans,omitempty"`
	AddedNodes  []engine.AddedNode  `json:"added_nodes,omitempty"`
	// Events and Samples are appended: a delta carries only new ones.
	Events  []engine.Event `json:"events,omitempty"`
	Samples []Sample       `json:"samples,omitempty"`
	// PeersEmpty and BansEmpty say that the list became empty (an empty
	// list would otherwise be omitted as unchanged).
	PeersEmpty bool `json:"peers_empty,omitempty"`
	BansEmpty  bool `json:"bans_empty,omitempty"`
	AddedEmpty bool `json:"added_nodes_empty,omitempty"`
	// Sync is the sync page's part, for clients that asked for it.
	Sync *syncData `json:"sync,omitempty"`
}

// Sample is one point of the network charts, taken every second.
type Sample struct {
	T             int64             `json:"t"`         // unix milliseconds
	BytesIn       float64           `json:"bytes_in"`  // per second
	BytesOut      float64           `json:"bytes_out"` // per second
	HeadersPerSec float64           `json:"headers_per_sec"`
	Height        int32             `json:"height"`
	PeersIn       int               `json:"peers_in"`
	PeersOut      int               `json:"peers_out"`
	MsgsIn        map[string]uint64 `json:"msgs_in"` // messages received per command in the second
	// Block download and validation per second: blocks connected,
	// transactions, inputs and scripts verified, block bytes received.
	BlocksPerSec     float64 `json:"blocks_per_sec"`
	TxsPerSec        float64 `json:"txs_per_sec"`
	InputsPerSec     float64 `json:"inputs_per_sec"`
	ScriptsPerSec    float64 `json:"scripts_per_sec"`
	BlockBytesPerSec float64 `json:"block_bytes_per_sec"`
}

// MessageLine is one line of the live message log.
type MessageLine struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Peer    uint64    `json:"peer"`
	Addr    string    `json:"addr"`
	Dir     string    `json:"dir"` // "in" or "out"
	Command string    `json:"command"`
	Size    int       `json:"size"`
	Summary string    `json:"summary"`
	// Request marks a message we sent that the node tracks as a request:
	// it is pending until a link names it.
	Request bool `json:"request,omitempty"`
}

// LinkLine joins a logged request to how it ended (engine.RequestLink), by
// the log numbers of the messages: the answer's (Outcome "answered"), or
// none when it "expired" or was "released" with its peer. Done says no
// later link names the request (a getdata is answered block by block).
type LinkLine struct {
	Peer        uint64  `json:"peer"`
	Request     uint64  `json:"request"`
	Response    uint64  `json:"response,omitempty"`
	Outcome     string  `json:"outcome"`
	Done        bool    `json:"done"`
	RoundTripMs float64 `json:"rtt_ms"`
}

func linkOf(l *engine.RequestLink) LinkLine {
	return LinkLine{Peer: uint64(l.Peer), Request: l.Request, Response: l.Response, Outcome: l.Outcome.String(),
		Done: l.Done, RoundTripMs: float64(l.RoundTrip.Microseconds()) / 1000}
}

// messagesData carries new log lines matching the client's filter, and how
// many lines it lost since the last batch because it fell behind; with a
// peer's subscription that asked for them, the new links of that peer's
// requests too (a link may come before or after the lines it names).
type messagesData struct {
	Lines   []MessageLine `json:"lines"`
	Skipped uint64        `json:"skipped"`
	Links   []LinkLine    `json:"links,omitempty"`
}

// clientRequest is one WebSocket message from the page.
type clientRequest struct {
	Type string `json:"type"` // "subscribe", "unsubscribe", "sync" or "unsync"
	// Filters for the message log; zero values match everything.
	Peer    uint64 `json:"peer"`
	Command string `json:"command"`
	Dir     string `json:"dir"`
	// Links asks for the links of Peer's requests as well (the peer
	// page's sequence diagram); it needs a Peer.
	Links bool `json:"links"`
}

func lineOf(seq uint64, m *engine.MessageRecord) MessageLine {
	dir := "out"
	if m.Inbound {
		dir = "in"
	}
	return MessageLine{Seq: seq, Time: m.Time, Peer: uint64(m.Peer), Addr: m.Addr, Dir: dir, Command: m.Command, Size: m.Size, Summary: m.Summary, Request: m.Request}
}

func (r clientRequest) matches(m *engine.MessageRecord) bool {
	if r.Peer != 0 && uint64(m.Peer) != r.Peer {
		return false
	}
	if r.Command != "" && m.Command != r.Command {
		return false
	}
	switch r.Dir {
	case "in":
		return m.Inbound
	case "out":
		return !m.Inbound
	}
	return true
}
