package p2p

import (
	"net/netip"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
)

// peerState is everything the core knows about one connection.
type peerState struct {
	id       PeerID
	addr     netip.AddrPort
	target   string // the dial target of an operator's connection
	connType ConnType
	capture  bool // its messages are being recorded

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

	out outQueue

	// unsolicited counts, per command, the responses that came without a
	// request and were penalized; announcements counts the ones the
	// protocol allows unasked (headers, addr, block), which are normal.
	unsolicited   map[string]uint64
	announcements map[string]uint64
	misbehavior   int
	ignored       uint64 // messages ignored (before the handshake, unknown commands)
	redundant     uint64 // repeated one-time messages (penalized)
}

// outQueue is the core's account of a peer's outbound queue: the shell
// holds the frames, the core counts them and hears from the writer
// (Written) as they drain.
type outQueue struct {
	bytes    int // queued frames' Cost
	messages int
	// progressAt is when the queue last made progress (a message or
	// progressUnit bytes written), or when it went from empty to busy.
	progressAt time.Time
	// partial counts bytes written since progressAt that did not finish a
	// message.
	partial int
}

func (p *peerState) inbound() bool { return p.connType == Inbound }

// established reports whether version and verack have been exchanged.
func (p *peerState) established() bool { return p.version != nil && p.verackRecv }

// hasRoom reports whether the core may make optional work for the peer.
func (p *peerState) hasRoom() bool { return p.out.bytes < OutQueueLimit }

// paused reports whether the peer's outbound queue is so full that its
// messages wait until the writer drains it, as Bitcoin Core pauses a peer
// whose send buffer is full: otherwise a peer that sends pings and never
// reads could make us queue pongs (control messages, which are always
// queued) without bound.
func (p *peerState) paused() bool { return p.out.bytes >= 2*OutQueueLimit }

// Peer is a read-only view of one connection for the core's plug-ins
// (header sync). It is valid while the event that produced it is handled.
type Peer struct{ p *peerState }

// ID returns the peer's id.
func (v Peer) ID() PeerID { return v.p.id }

// Addr returns the peer's address.
func (v Peer) Addr() netip.AddrPort { return v.p.addr }

// Inbound reports whether the peer connected to us.
func (v Peer) Inbound() bool { return v.p.inbound() }

// Established reports whether the handshake is complete.
func (v Peer) Established() bool { return v.p.established() }

// Version returns the peer's version message (nil before it arrived). It
// must not be modified.
func (v Peer) Version() *wire.MsgVersion { return v.p.version }

// StartHeight is the height the peer announced in its version message.
func (v Peer) StartHeight() int32 {
	if v.p.version == nil {
		return 0
	}
	return v.p.version.LastBlock
}

// Features returns what the peer negotiated.
func (v Peer) Features() Features { return v.p.features }

// HasRoom reports whether optional work (serving, relaying) may be queued
// for the peer.
func (v Peer) HasRoom() bool { return v.p.hasRoom() }

// Outstanding reports whether a request with command is in flight.
func (v Peer) Outstanding(command string) bool { return v.p.reqs.outstanding(command) }

// Ignore counts a message the peer sent that had no effect.
func (v Peer) Ignore() { v.p.ignored++ }
