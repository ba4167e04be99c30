package p2p

import (
	"maps"
	"slices"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

// Snapshot is a copy of the core's state for observers: it shares nothing
// with the core, so it may be read from any goroutine.
type Snapshot struct {
	Peers       []PeerInfo
	Disconnects []Disconnect // newest first
	Bans        []Ban
	AddedNodes  []AddedNode // the operator's targets, in the order added
	Network     string
	StartedAt   time.Time
	UptimeS     int64
	// Discovery says what peer discovery is doing, or plainly why it found
	// nothing.
	Discovery         string
	Listen            string
	AddrNew           int
	AddrTried         int
	UserAgent         string
	ProtocolVersion   uint32
	Inbound           int
	Outbound          int
	DisconnectsByKind map[DropKind]uint64
	RequestTimeouts   uint64
	Capturing         bool
}

// AddedNode describes one of the operator's targets (-connect, -addnode,
// the Connect control), as Bitcoin Core's getaddednodeinfo does, with
// what an operator needs when it does not connect: the last error and
// when the next attempt is due.
type AddedNode struct {
	Addr   string       `json:"addr"`
	Source TargetSource `json:"source"`
	// State is "connected" (handshake done), "connecting" (a dial or
	// handshake in progress) or "waiting" (for the next attempt).
	State       string    `json:"state"`
	Peer        PeerID    `json:"peer,omitempty"`
	Attempts    int       `json:"attempts"`
	Failures    int       `json:"failures"` // in a row, since the last connection that worked
	LastError   string    `json:"last_error,omitempty"`
	LastAttempt time.Time `json:"last_attempt"`
	NextAttempt time.Time `json:"next_attempt"` // meaningful while waiting
	ConnectedAt time.Time `json:"connected_at"` // the last established connection
	AddedAt     time.Time `json:"added_at"`     // zero for the command line's
}

// PeerInfo describes one connected peer. The core fills what it knows; the
// shell adds the traffic counters its connections keep.
type PeerInfo struct {
	ID           PeerID   `json:"id"`
	Addr         string   `json:"addr"`
	Inbound      bool     `json:"inbound"`
	ConnType     ConnType `json:"conn_type"`
	Established  bool     `json:"established"`
	UserAgent    string   `json:"user_agent"`
	Version      int32    `json:"version"`
	Services     uint64   `json:"services"`
	ServiceNames []string `json:"service_names"`
	StartHeight  int32    `json:"start_height"`
	SyncedHeight int32    `json:"synced_height"` // highest main-chain header it is known to have
	// Block download from this peer (filled in by the shell from sync's
	// snapshot): blocks asked of it now, and blocks it delivered.
	BlocksInFlight int    `json:"blocks_in_flight"`
	BlocksReceived uint64 `json:"blocks_received"`
	// BlockBytes is the size of the blocks it delivered, BlockDeliveryMs
	// the mean time from request to block, and BlockBusyS the seconds it
	// had blocks in flight (its download rate is BlockBytes over it).
	BlockBytes      uint64  `json:"block_bytes"`
	BlockDeliveryMs float64 `json:"block_delivery_ms"`
	BlockBusyS      float64 `json:"block_busy_s"`
	// Transport is "v1" (plaintext) or "v2" (BIP324, encrypted), "" while
	// a v2 handshake is under way; SessionID is a v2 connection's session
	// id in hex, which the peer's operator can compare with theirs (Core's
	// getpeerinfo session_id). The shell fills both from the connection.
	Transport    string                    `json:"transport"`
	SessionID    string                    `json:"session_id,omitempty"`
	PingMs       float64                   `json:"ping_ms"`     // last round trip; 0 before the first pong
	MinPingMs    float64                   `json:"min_ping_ms"` // 0 before the first pong
	PingWaitMs   float64                   `json:"ping_wait_ms"`
	BytesSent    uint64                    `json:"bytes_sent"`
	BytesRecv    uint64                    `json:"bytes_recv"`
	MsgsSent     map[string]CommandTraffic `json:"msgs_sent"`
	MsgsRecv     map[string]CommandTraffic `json:"msgs_recv"`
	ConnectedAt  time.Time                 `json:"connected_at"`
	LastSend     time.Time                 `json:"last_send"`
	LastRecv     time.Time                 `json:"last_recv"`
	QueueBytes   int                       `json:"queue_bytes"`
	QueueMsgs    int                       `json:"queue_msgs"`
	InQueueBytes int                       `json:"in_queue_bytes"`
	Inflight     []RequestInfo             `json:"inflight"`
	Features     Features                  `json:"features"`
	Misbehavior  int                       `json:"misbehavior"`
	// Unsolicited counts penalized responses to requests we never made;
	// Announcements counts responses the protocol allows unasked.
	Unsolicited   map[string]uint64 `json:"unsolicited"`
	Announcements map[string]uint64 `json:"announcements"`
	AddrDropped   uint64            `json:"addr_rate_limited"`
	Ignored       uint64            `json:"ignored"`
	Redundant     uint64            `json:"redundant"`
	Capture       bool              `json:"capture"`
}

// CommandTraffic counts the messages of one command in one direction.
type CommandTraffic struct {
	Bytes    uint64 `json:"bytes"`
	Messages uint64 `json:"msgs"`
}

// RequestInfo describes one tracked request in flight.
type RequestInfo struct {
	ID      uint64    `json:"id"`
	Command string    `json:"command"`
	Queued  time.Time `json:"queued"`
	Written time.Time `json:"written"` // zero while still queued
	AgeMs   float64   `json:"age_ms"`
	// TimeoutMs is how long the peer has to answer once the request is
	// written.
	TimeoutMs float64 `json:"timeout_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Snapshot copies the core's state at now.
func (c *Core) Snapshot(now time.Time) *Snapshot {
	s := &Snapshot{
		Peers:             make([]PeerInfo, 0, len(c.peers)),
		Bans:              c.bans.list(now),
		Network:           string(c.cfg.Network),
		StartedAt:         c.startedAt,
		UptimeS:           int64(now.Sub(c.startedAt) / time.Second),
		Discovery:         c.discovery.describe(now),
		Listen:            c.listenAddr,
		UserAgent:         c.cfg.UserAgent,
		ProtocolVersion:   protocol.ProtocolVersion,
		DisconnectsByKind: maps.Clone(c.disconnectsByKind),
		RequestTimeouts:   c.requestTimeouts,
		Capturing:         c.capturing,
	}
	s.AddrNew, s.AddrTried = c.addrs.Counts()
	for _, id := range c.order {
		p := c.peers[id]
		s.Peers = append(s.Peers, c.peerInfo(p, now))
		if p.inbound() {
			s.Inbound++
		} else {
			s.Outbound++
		}
	}
	s.AddedNodes = make([]AddedNode, 0, len(c.targets))
	for _, t := range c.targets {
		s.AddedNodes = append(s.AddedNodes, c.addedNode(t))
	}
	s.Disconnects = slices.Clone(c.disconnects)
	slices.Reverse(s.Disconnects)
	return s
}

func (c *Core) addedNode(t *target) AddedNode {
	a := AddedNode{Addr: t.addr, Source: t.source, Peer: t.peer, Attempts: t.attempts, Failures: t.failures,
		LastError: t.lastError, LastAttempt: t.lastAttempt, NextAttempt: t.nextAttempt, ConnectedAt: t.connectedAt, AddedAt: t.addedAt}
	_, dialing := c.dialing[t.addr]
	switch p := c.peers[t.peer]; {
	case p != nil && p.established():
		a.State = "connected"
	case p != nil || dialing:
		a.State = "connecting"
	default:
		a.State = "waiting"
	}
	return a
}

func (c *Core) peerInfo(p *peerState, now time.Time) PeerInfo {
	info := PeerInfo{
		ID: p.id, Addr: p.addr.String(), Inbound: p.inbound(), ConnType: p.connType,
		Established: p.established(),
		PingMs:      ms(p.lastPing), MinPingMs: ms(p.minPing),
		ConnectedAt: p.connectedAt,
		QueueBytes:  p.out.bytes, QueueMsgs: p.out.messages,
		Features: p.features, Misbehavior: p.misbehavior,
		AddrDropped: p.addrDropped, Ignored: p.ignored, Redundant: p.redundant,
		Inflight: []RequestInfo{}, Capture: p.capture,
		Unsolicited:   maps.Clone(p.unsolicited),
		Announcements: maps.Clone(p.announcements),
	}
	if v := p.version; v != nil {
		info.UserAgent = v.UserAgent
		info.Version = v.ProtocolVersion
		info.Services = uint64(v.Services)
		info.ServiceNames = protocol.ServiceNames(v.Services)
		info.StartHeight = v.LastBlock
	}
	for _, r := range p.reqs {
		ri := RequestInfo{ID: r.ID, Command: r.Command, Queued: r.Queued, Written: r.Written, AgeMs: ms(now.Sub(r.Queued)), TimeoutMs: ms(r.Timeout)}
		info.Inflight = append(info.Inflight, ri)
		if r.Command == wire.CmdPing && !r.Written.IsZero() {
			info.PingWaitMs = ms(now.Sub(r.Written))
		}
	}
	return info
}
