package p2p

import (
	"fmt"
	"time"
)

// PeerID identifies a connection for the life of the process; IDs are never
// reused, so a stale ID held by an observer simply finds no peer.
type PeerID uint64

// ConnType says why a connection exists.
type ConnType string

// Connection types, named as Bitcoin Core's getpeerinfo names them.
const (
	Inbound           ConnType = "inbound"
	OutboundFullRelay ConnType = "outbound-full-relay"
	Manual            ConnType = "manual" // -connect, -addnode or the API
)

// Features records what a peer negotiated during and after the handshake.
type Features struct {
	SendHeaders   bool   `json:"sendheaders"`
	SendAddrV2    bool   `json:"sendaddrv2"`
	WtxidRelay    bool   `json:"wtxidrelay"`
	SendCmpct     bool   `json:"sendcmpct"`
	CmpctAnnounce bool   `json:"sendcmpct_announce"`
	CmpctVersion  uint64 `json:"sendcmpct_version"`
	FeeFilter     int64  `json:"feefilter"` // sat/kvB, 0 if none
	SendTxRcncl   bool   `json:"sendtxrcncl"`
	Relay         bool   `json:"relay"` // the version message's relay flag
}

// DropKind groups disconnect reasons for metrics and the UI.
type DropKind string

// The kinds of reasons a peer goes away.
const (
	DropRemoteClose DropKind = "remote-close"
	DropViolation   DropKind = "protocol-violation"
	DropTimeout     DropKind = "timeout"
	DropStall       DropKind = "stall"
	DropBan         DropKind = "ban"
	DropOperator    DropKind = "operator"
	DropShutdown    DropKind = "shutdown"
	DropEvicted     DropKind = "evicted"
	DropRefused     DropKind = "refused" // never admitted: banned, full, obsolete, self
	DropIOError     DropKind = "io-error"
	// DropV2Refused: an outbound peer hung up on our BIP324 key, as a
	// v1-only peer does; the core redials it with v1 at once.
	DropV2Refused DropKind = "v2-refused"
)

// Reason is why a peer is dropped.
type Reason struct {
	Kind DropKind
	Text string
	// Discourage: the address misbehaved and is refused for 24 hours.
	Discourage bool
}

// Because builds a reason of kind.
func Because(kind DropKind, format string, args ...any) Reason {
	return Reason{Kind: kind, Text: fmt.Sprintf(format, args...)}
}

// Violation builds the reason for a protocol violation: the peer is dropped
// and its address discouraged.
func Violation(format string, args ...any) Reason {
	return Reason{Kind: DropViolation, Text: fmt.Sprintf(format, args...), Discourage: true}
}

// Disconnect records why a peer went away.
type Disconnect struct {
	ID        PeerID    `json:"id"`
	Addr      string    `json:"addr"`
	Inbound   bool      `json:"inbound"`
	UserAgent string    `json:"user_agent"`
	Kind      DropKind  `json:"kind"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
}

// Event kinds.
const (
	EventConnect    = "connect"
	EventDisconnect = "disconnect"
	EventBan        = "ban"
	EventUnban      = "unban"
	EventRemoved    = "removed" // an added node taken off the list
	EventReorg      = "reorg"
	EventSync       = "sync"
	EventDiscovery  = "discovery"
	EventCapture    = "capture"
	// EventStall: a peer held up the block download window and was
	// dropped, or a block it was asked for timed out.
	EventStall = "stall"
	// EventBlock: block download news (a block connected, a block found
	// invalid, a mutated block refused).
	EventBlock = "block"
)

// Event is one thing that happened, for the dashboard's recent events.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	Peer PeerID    `json:"peer,omitempty"`
	Addr string    `json:"addr,omitempty"`
	Text string    `json:"text"`
}
