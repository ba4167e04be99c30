package engine

import (
	"net/netip"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/peer"
)

// PeerID identifies a connection for the life of the process; IDs are never
// reused, so a stale ID held by an observer simply finds no peer.
type PeerID uint64

// link is what the engine needs of a connection's I/O side. *peer.Conn
// provides it for sockets; tests provide an in-memory one.
type link interface {
	Close()
	Traffic() (sent, recv peer.Traffic)
}

// ConnType says why a connection exists.
type ConnType string

// Connection types, named as Bitcoin Core's getpeerinfo names them.
const (
	Inbound           ConnType = "inbound"
	OutboundFullRelay ConnType = "outbound-full-relay"
	Manual            ConnType = "manual" // --connect, --addnode or the API
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

// peerState is everything the engine knows about one connection. Only the
// engine goroutine touches it.
type peerState struct {
	id       PeerID
	addr     netip.AddrPort
	target   string // the dial target for outbound connections
	connType ConnType
	link     link
	in       *peer.InQueue
	out      *peer.OutQueue
	capture  *peer.Capture // nil when this connection is not captured

	connectedAt time.Time
	localNonce  uint64 // the nonce of the version we sent

	versionSent bool
	version     *wire.MsgVersion // nil until received
	verackRecv  bool             // the handshake is complete once both sides' veracks are in
	features    Features

	reqs        requests
	lastPing    time.Duration // round trip of the last answered ping; 0 if none
	minPing     time.Duration
	nextPing    time.Time
	getaddrDone bool // answered the peer's getaddr already (Core answers once)

	addrTokens  float64 // addr rate limit, as Core's token bucket
	addrTokenAt time.Time
	addrDropped uint64

	// Header sync: the highest of our main-chain heights the peer is known
	// to have, the tip we last announced to it, whether we asked it for its
	// tip after our sync, and its run of headers messages that did not
	// connect.
	bestKnown    int32
	bestHash     chainhash.Hash // the header at bestKnown when we learned it
	announced    chainhash.Hash
	tipAsked     bool
	unconnecting int
	lowWork      bool // its chain stayed below the minimum chain work
	syncDone     bool // we synced to the end of what it serves

	unsolicited map[string]uint64
	misbehavior int
	ignored     uint64 // messages ignored (before the handshake, unknown commands)
}

func (p *peerState) inbound() bool { return p.connType == Inbound }

// established reports whether version and verack have been exchanged.
func (p *peerState) established() bool { return p.version != nil && p.verackRecv }

// connLink adapts a socket connection to link.
type connLink struct{ c *peer.Conn }

func (l connLink) Close() { l.c.Close() }

func (l connLink) Traffic() (sent, recv peer.Traffic) { return l.c.Stats.Snapshot() }
