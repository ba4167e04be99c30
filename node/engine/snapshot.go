package engine

import (
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// Snapshot is an immutable copy of the engine's state for observers. The
// JSON API serves its parts as they are.
type Snapshot struct {
	Time        time.Time    `json:"time"`
	Status      Status       `json:"status"`
	Peers       []PeerInfo   `json:"peers"`
	Disconnects []Disconnect `json:"disconnects"`
	Bans        []Ban        `json:"bans"`
}

// Status summarises the node.
type Status struct {
	Network     string     `json:"network"`
	Height      int32      `json:"height"`
	BestHash    string     `json:"best_hash"`
	ChainWork   string     `json:"chain_work"` // hex, as Core's chainwork
	TipTime     time.Time  `json:"tip_time"`
	Sync        SyncStatus `json:"sync"`
	ForkHeaders int        `json:"fork_headers"`
	Peers       int        `json:"peers"`
	Inbound     int        `json:"peers_in"`
	Outbound    int        `json:"peers_out"`
	UptimeS     int64      `json:"uptime_s"`
	// Discovery says what peer discovery is doing, or plainly why it found
	// nothing.
	Discovery string `json:"discovery"`
	Listen    string `json:"listen"` // the bound address, empty if not listening
	AddrNew   int    `json:"addr_new"`
	AddrTried int    `json:"addr_tried"`
	BytesSent uint64 `json:"bytes_sent"` // all connections, closed ones included
	BytesRecv uint64 `json:"bytes_recv"`
	UserAgent string `json:"user_agent"`
	ProtocolV uint32 `json:"protocol_version"`
	// Counters since start, for metrics: disconnects by kind, requests
	// that expired unanswered, messages and bytes per command (connections
	// already closed included).
	DisconnectsByKind map[DropKind]uint64            `json:"disconnects_by_kind"`
	RequestTimeouts   uint64                         `json:"request_timeouts"`
	MsgsSent          map[string]peer.CommandTraffic `json:"msgs_sent"`
	MsgsRecv          map[string]peer.CommandTraffic `json:"msgs_recv"`
	StartedAt         time.Time                      `json:"started_at"`
}

// PeerInfo describes one connected peer.
type PeerInfo struct {
	ID           PeerID                         `json:"id"`
	Addr         string                         `json:"addr"`
	Inbound      bool                           `json:"inbound"`
	ConnType     ConnType                       `json:"conn_type"`
	Established  bool                           `json:"established"`
	UserAgent    string                         `json:"user_agent"`
	Version      int32                          `json:"version"`
	Services     uint64                         `json:"services"`
	ServiceNames []string                       `json:"service_names"`
	StartHeight  int32                          `json:"start_height"`
	SyncedHeight int32                          `json:"synced_height"` // highest main-chain header it is known to have
	Transport    string                         `json:"transport"`     // "v1" (plaintext); BIP324 v2 is not spoken yet
	PingMs       float64                        `json:"ping_ms"`       // last round trip; 0 before the first pong
	MinPingMs    float64                        `json:"min_ping_ms"`   // 0 before the first pong
	PingWaitMs   float64                        `json:"ping_wait_ms"`
	BytesSent    uint64                         `json:"bytes_sent"`
	BytesRecv    uint64                         `json:"bytes_recv"`
	MsgsSent     map[string]peer.CommandTraffic `json:"msgs_sent"`
	MsgsRecv     map[string]peer.CommandTraffic `json:"msgs_recv"`
	ConnectedAt  time.Time                      `json:"connected_at"`
	LastSend     time.Time                      `json:"last_send"`
	LastRecv     time.Time                      `json:"last_recv"`
	QueueBytes   int                            `json:"queue_bytes"`
	InQueueBytes int                            `json:"in_queue_bytes"`
	Inflight     []RequestInfo                  `json:"inflight"`
	Features     Features                       `json:"features"`
	Misbehavior  int                            `json:"misbehavior"`
	Unsolicited  map[string]uint64              `json:"unsolicited"`
	AddrDropped  uint64                         `json:"addr_rate_limited"`
	Ignored      uint64                         `json:"ignored"`
}

// RequestInfo describes one tracked request in flight.
type RequestInfo struct {
	ID      uint64    `json:"id"`
	Command string    `json:"command"`
	Queued  time.Time `json:"queued"`
	Written time.Time `json:"written"` // zero while still queued
	AgeMs   float64   `json:"age_ms"`
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (e *Engine) peerInfo(p *peerState, now time.Time) PeerInfo {
	sent, recv := p.link.Traffic()
	info := PeerInfo{
		ID: p.id, Addr: p.addr.String(), Inbound: p.inbound(), ConnType: p.connType,
		Established: p.established(),
		PingMs:      ms(p.lastPing), MinPingMs: ms(p.minPing),
		BytesSent: sent.Bytes, BytesRecv: recv.Bytes,
		MsgsSent: sent.ByCommand, MsgsRecv: recv.ByCommand,
		ConnectedAt: p.connectedAt, LastSend: sent.Last, LastRecv: recv.Last,
		QueueBytes: p.out.Bytes(), InQueueBytes: p.in.Bytes(),
		Features: p.features, Misbehavior: p.misbehavior,
		AddrDropped: p.addrDropped, Ignored: p.ignored,
		Inflight: []RequestInfo{}, SyncedHeight: p.bestKnown, Transport: "v1",
	}
	if len(p.unsolicited) > 0 {
		info.Unsolicited = make(map[string]uint64, len(p.unsolicited))
		for k, v := range p.unsolicited {
			info.Unsolicited[k] = v
		}
	}
	if v := p.version; v != nil {
		info.UserAgent = v.UserAgent
		info.Version = v.ProtocolVersion
		info.Services = uint64(v.Services)
		info.ServiceNames = protocol.ServiceNames(v.Services)
		info.StartHeight = v.LastBlock
	}
	for _, r := range p.reqs {
		written := r.WrittenAt()
		ri := RequestInfo{ID: r.ID, Command: r.Command, Queued: r.Queued, Written: written, AgeMs: ms(now.Sub(r.Queued))}
		info.Inflight = append(info.Inflight, ri)
		if r.Command == wire.CmdPing && !written.IsZero() {
			info.PingWaitMs = ms(now.Sub(written))
		}
	}
	return info
}
