package engine

import (
	"github.com/btcsuite/btcd/chainhash/v2"

	"time"

	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
)

// The core's vocabulary, re-exported so that observers (the web layer)
// depend on the shell alone.
type (
	PeerID         = p2p.PeerID
	PeerInfo       = p2p.PeerInfo
	Ban            = p2p.Ban
	Disconnect     = p2p.Disconnect
	AddedNode      = p2p.AddedNode
	TargetSource   = p2p.TargetSource
	DropKind       = p2p.DropKind
	Event          = p2p.Event
	Features       = p2p.Features
	RequestInfo    = p2p.RequestInfo
	CommandTraffic = p2p.CommandTraffic
	ConnType       = p2p.ConnType
	SyncStatus     = netsync.Status
)

// Re-exported constants.
const (
	DropRemoteClose = p2p.DropRemoteClose
	DropViolation   = p2p.DropViolation
	DropTimeout     = p2p.DropTimeout
	DropStall       = p2p.DropStall
	DropBan         = p2p.DropBan
	DropOperator    = p2p.DropOperator
	DropShutdown    = p2p.DropShutdown
	DropEvicted     = p2p.DropEvicted
	DropRefused     = p2p.DropRefused
	DropIOError     = p2p.DropIOError

	Inbound           = p2p.Inbound
	OutboundFullRelay = p2p.OutboundFullRelay
	Manual            = p2p.Manual

	EventConnect    = p2p.EventConnect
	EventDisconnect = p2p.EventDisconnect
	EventBan        = p2p.EventBan
	EventRemoved    = p2p.EventRemoved
	EventUnban      = p2p.EventUnban
	EventReorg      = p2p.EventReorg
	EventSync       = p2p.EventSync
	EventDiscovery  = p2p.EventDiscovery
	EventCapture    = p2p.EventCapture
	EventFatal      = "fatal"

	SyncIdle       = netsync.StateIdle
	SyncPresync    = netsync.StatePresync
	SyncRedownload = netsync.StateRedownload
	SyncSyncing    = netsync.StateSyncing
	SyncSynced     = netsync.StateSynced
)

// Snapshot is an immutable copy of the node's state for observers,
// published by the engine a few times a second. The JSON API serves its
// parts as they are. Chain is an immutable view of the header chain, safe
// to read from any goroutine.
type Snapshot struct {
	Time        time.Time    `json:"time"`
	Status      Status       `json:"status"`
	Peers       []PeerInfo   `json:"peers"`
	Disconnects []Disconnect `json:"disconnects"`
	Bans        []Ban        `json:"bans"`
	AddedNodes  []AddedNode  `json:"added_nodes"`
	Chain       *chain.View  `json:"-"`
	// FailedBlocks are the blocks found invalid, with the rule each broke;
	// shared and never written to.
	FailedBlocks map[chainhash.Hash]string `json:"-"`
	// Blocks is block download as whoever watches it sees it: the window
	// cell by cell, stalls, recent timelines and connect times; nil for a
	// headers-only node.
	Blocks *BlocksView `json:"-"`
}

// UTXOStatus describes the UTXO set, as Core's gettxoutsetinfo.
type UTXOStatus struct {
	// Coins is the number of unspent outputs; Height and Hash the block
	// the set reflects.
	Coins  int64  `json:"coins"`
	Height int32  `json:"height"`
	Hash   string `json:"hash"`
	// MuHash is Core's MuHash3072 of the set as last flushed, which
	// reflects the block at MuHashHeight (gettxoutsetinfo muhash).
	MuHash       string `json:"muhash"`
	MuHashHeight int32  `json:"muhash_height"`
	// BytesOnDisk is the set's store size; CacheBytes and CacheLimit the
	// coin cache's estimated memory and its bound (-dbcache).
	BytesOnDisk int64 `json:"bytes_on_disk"`
	CacheBytes  int64 `json:"cache_bytes"`
	CacheLimit  int64 `json:"cache_limit"`
}

// TransportTraffic is one transport's share of the peers and the bytes.
type TransportTraffic struct {
	Peers     int    `json:"peers"`
	BytesSent uint64 `json:"bytes_sent"`
	BytesRecv uint64 `json:"bytes_recv"`
}

// Status summarises the node.
type Status struct {
	Network string `json:"network"`
	Height  int32  `json:"height"`
	// Headers is the best header's height (Height, as Core's
	// getblockchaininfo names it); Blocks the last connected block's.
	Headers int32 `json:"headers"`
	Blocks  int32 `json:"blocks"`
	// Pruned says old blocks are deleted; SizeOnDisk is the block files'
	// size in bytes (Core's size_on_disk).
	Pruned     bool  `json:"pruned"`
	SizeOnDisk int64 `json:"size_on_disk"`
	// UTXO describes the UTXO set (nil without a data folder);
	// AssumeValid is the -assumevalid block ("" when every script is
	// verified).
	UTXO        *UTXOStatus `json:"utxo,omitempty"`
	AssumeValid string      `json:"assumevalid"`
	// Validation is what the block connector did since start (nil
	// without full validation).
	Validation  *ValidationStatus `json:"validation,omitempty"`
	BestHash    string            `json:"best_hash"`
	ChainWork   string            `json:"chain_work"` // hex, as Core's chainwork
	TipTime     time.Time         `json:"tip_time"`
	Sync        SyncStatus        `json:"sync"`
	ForkHeaders int               `json:"fork_headers"`
	Peers       int               `json:"peers"`
	Inbound     int               `json:"peers_in"`
	Outbound    int               `json:"peers_out"`
	UptimeS     int64             `json:"uptime_s"`
	// Discovery says what peer discovery is doing, or plainly why it found
	// nothing.
	Discovery string `json:"discovery"`
	Listen    string `json:"listen"` // the bound address, empty if not listening
	AddrNew   int    `json:"addr_new"`
	AddrTried int    `json:"addr_tried"`
	BytesSent uint64 `json:"bytes_sent"` // all connections, closed ones included
	BytesRecv uint64 `json:"bytes_recv"`
	// Transports splits the peers and their traffic by transport ("v1",
	// "v2"; both always present): the peers connected now, and the bytes
	// of all connections, closed ones included.
	Transports map[string]TransportTraffic `json:"transports"`
	UserAgent  string                      `json:"user_agent"`
	ProtocolV  uint32                      `json:"protocol_version"`
	// Counters since start, for metrics: disconnects by kind, requests
	// that expired unanswered, messages and bytes per command (connections
	// already closed included).
	DisconnectsByKind map[DropKind]uint64       `json:"disconnects_by_kind"`
	RequestTimeouts   uint64                    `json:"request_timeouts"`
	MsgsSent          map[string]CommandTraffic `json:"msgs_sent"`
	MsgsRecv          map[string]CommandTraffic `json:"msgs_recv"`
	StartedAt         time.Time                 `json:"started_at"`
	// Memory the peers make the node keep, against its bounds: inbound
	// queues (decoded messages waiting) and their shared pool.
	InQueueBytes  int `json:"in_queue_bytes"`
	InQueuePool   int `json:"in_queue_pool"`
	OutQueueBytes int `json:"out_queue_bytes"`
}
