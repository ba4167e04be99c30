package p2p

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/addrman"
)

// Core is the pure state machine of the node's peer-to-peer side. See the
// package documentation.
type Core struct {
	cfg   Config
	magic wire.BitcoinNet
	rng   *rand.Rand
	sync  Sync
	// now is the time of the event being handled: every method that takes
	// an event sets it first, and everything below reads it.
	now     time.Time
	actions []Action
	flusher func([]Action)

	startedAt  time.Time
	listenAddr string
	peers      map[PeerID]*peerState
	order      []PeerID // round-robin order of service
	serving    []PeerID // ServeRound's copy of order, reused
	lastID     PeerID
	lastReq    uint64
	nonces     map[uint64]PeerID // our version nonces, to catch self-connections
	addrs      *addrman.Manager
	bans       *banList
	targets    []*target       // -connect / -addnode / API connections
	dialing    map[string]bool // addresses being dialled; true for the operator's targets
	v1Only     map[string]bool // dial targets that refused BIP324 (bounded by maxV1Only)
	discovery  discovery
	capturing  bool
	lastSave   time.Time

	disconnects       []Disconnect
	disconnectsByKind map[DropKind]uint64
	requestTimeouts   uint64
	requestsStarted   uint64
	requestsEnded     uint64
	// onRequestEnd, when set (by tests), hears of every request's end.
	onRequestEnd func(*Request, Outcome)
}

// Sync is the part of the protocol the core hands on: header sync (and
// later the block download), implemented by package netsync. Its methods
// run inside the core's handling of an event and may call back into the
// core (Send, Request, Drop, ...).
type Sync interface {
	// Height is our best header height, for our version message.
	Height() int32
	// PeerEstablished is told when a peer completes the handshake.
	PeerEstablished(id PeerID)
	// PeerDropped is told when a peer is gone; its requests have already
	// been released.
	PeerDropped(id PeerID)
	// Message takes the messages the core does not handle itself
	// (headers, inventory, data requests, blocks); answered is the tracked
	// request it answers, if any.
	Message(id PeerID, m *Message, answered *Request)
	// Tick runs sync's timers.
	Tick()
	// JobDone takes the result of a job sync started (a block stored, a
	// block read for a peer), handed back by the shell with Core.JobDone.
	JobDone(result Job)
	// Writable is told that peer id's send queue has room again after a
	// write, so work held back for it (blocks to serve) can go on.
	Writable(id PeerID)
}

// New returns a core configured by cfg, started at now. newSync builds the
// sync plug-in around the core (nil for none: headers and data messages
// are then counted as ignored).
func New(cfg Config, now time.Time, newSync func(*Core) Sync) (*Core, error) {
	if err := cfg.SetDefaults(); err != nil {
		return nil, err
	}
	c := &Core{
		cfg:               cfg,
		magic:             cfg.Network.Magic(),
		rng:               rand.New(rand.NewChaCha8(cfg.Seed)),
		now:               now,
		startedAt:         now,
		lastSave:          now,
		peers:             make(map[PeerID]*peerState),
		nonces:            make(map[uint64]PeerID),
		dialing:           make(map[string]bool),
		v1Only:            make(map[string]bool),
		disconnectsByKind: make(map[DropKind]uint64),
		addrs:             cfg.Addrs,
		capturing:         cfg.Capture && cfg.CaptureAvailable,
	}
	if c.addrs == nil {
		// A fresh book: its selection randomness comes from the core's
		// too, so a simulation replays exactly from its seed.
		// NewWithRand, not New: New reads crypto/rand.
		var seed [32]byte
		for i := range 4 {
			binary.LittleEndian.PutUint64(seed[8*i:], c.rng.Uint64())
		}
		c.addrs = addrman.NewWithRand(cfg.Seed, rand.New(rand.NewChaCha8(seed)))
	}
	c.addrs.AllowLocal = cfg.AllowLocal
	var err error
	if c.bans, err = newBanList(cfg.Bans); err != nil {
		return nil, err
	}
	for _, t := range cfg.Connect {
		c.addTarget(t, SourceConnect, time.Time{})
	}
	for _, t := range cfg.AddNode {
		c.addTarget(t, SourceAddNode, time.Time{})
	}
	if len(c.targets) > MaxAddedNodes {
		return nil, fmt.Errorf("%d peers given with -connect and -addnode; at most %d", len(c.targets), MaxAddedNodes)
	}
	c.discovery = c.initialDiscovery()
	c.sync = noSync{c}
	if newSync != nil {
		c.sync = newSync(c)
	}
	return c, nil
}

// noSync stands in for a missing sync plug-in.
type noSync struct{ c *Core }

func (noSync) Height() int32          { return 0 }
func (noSync) PeerEstablished(PeerID) {}
func (noSync) PeerDropped(PeerID)     {}
func (s noSync) Message(id PeerID, _ *Message, _ *Request) {
	if p, ok := s.c.peers[id]; ok {
		p.ignored++
	}
}
func (noSync) Tick()           {}
func (noSync) JobDone(Job)     {}
func (noSync) Writable(PeerID) {}

// JobDone hands sync the result of a job it started, at now.
func (c *Core) JobDone(now time.Time, result Job) {
	c.now = now
	c.sync.JobDone(result)
}

// Start begins the core's work at now: it dials the operator's targets and
// fills the outbound slots at once rather than at the first tick, and
// queries the DNS seeds if the address book is empty.
func (c *Core) Start(now time.Time) {
	c.now = now
	c.startDiscovery()
	c.maintainConnections()
}

// SetListening records the address the shell listens on, for the status.
func (c *Core) SetListening(addr string) { c.listenAddr = addr }

// ConnInfo describes a new connection the shell has opened or accepted.
type ConnInfo struct {
	Addr    netip.AddrPort
	Inbound bool
	Target  string // the dial target of an outbound connection
	Manual  bool   // an operator's target (dialled even if banned)
}

// Admission is the core's answer to a new connection.
type Admission struct {
	ID      PeerID // 0 when refused
	Refused bool
	Reason  Reason
	// Capture says whether the connection's messages are to be recorded
	// from its first byte.
	Capture bool
}

// Connected admits a new connection: it refuses banned addresses, makes
// room for inbound ones by eviction when full, enters the peer and, for an
// outbound connection, queues our version.
func (c *Core) Connected(now time.Time, ci ConnInfo) Admission {
	c.now = now
	if ci.Target != "" {
		delete(c.dialing, ci.Target)
	}
	refuse := func(r Reason) Admission {
		c.recordDisconnect(Disconnect{Addr: ci.Addr.String(), Inbound: ci.Inbound, Kind: r.Kind, Reason: r.Text, Time: now})
		if t := c.findTarget(ci.Target); t != nil && ci.Target != "" {
			c.targetFailed(t, r.Text, false)
		}
		return Admission{Refused: true, Reason: r}
	}
	if ban, banned := c.bans.banned(ci.Addr.Addr(), now); banned && !ci.Manual {
		return refuse(Because(DropRefused, "refused: address is banned (%s)", ban.Reason))
	}
	if ci.Inbound && !c.makeInboundRoom() {
		return refuse(Because(DropRefused, "refused: inbound slots full (%d) and no peer evictable", c.maxInbound()))
	}
	connType := OutboundFullRelay
	switch {
	case ci.Inbound:
		connType = Inbound
	case ci.Manual:
		connType = Manual
	}
	c.lastID++
	p := &peerState{id: c.lastID, addr: ci.Addr, connType: connType, connectedAt: now,
		addrTokens: 1, addrTokenAt: now, capture: c.capturing}
	c.peers[p.id] = p
	c.order = append(c.order, p.id)
	if ci.Manual {
		p.target = ci.Target
		if t := c.findTarget(ci.Target); t != nil {
			t.peer = p.id
		}
	}
	c.Logf(slog.LevelDebug, "connection opened", "peer", p.id, "addr", ci.Addr, "type", connType)
	if !ci.Inbound {
		c.sendVersion(p)
	}
	return Admission{ID: p.id, Capture: p.capture}
}

// Closed is told that peer id's connection ended on its own (the reader or
// writer failed, or the remote closed it): the peer is dropped for r.
func (c *Core) Closed(now time.Time, id PeerID, r Reason) {
	c.now = now
	c.Drop(id, r)
}

// Peer returns a view of peer id.
func (c *Core) Peer(id PeerID) (Peer, bool) {
	p, ok := c.peers[id]
	return Peer{p}, ok
}

// Peers calls fn for every peer in the order they are served; fn may drop
// peers (they are then skipped).
func (c *Core) Peers(fn func(Peer)) {
	for _, id := range append([]PeerID(nil), c.order...) {
		if p, ok := c.peers[id]; ok {
			fn(Peer{p})
		}
	}
}

// Params returns the core's configuration, defaults filled in.
func (c *Core) Params() Config { return c.cfg }

func (c *Core) maxInbound() int { return c.cfg.MaxPeers - c.cfg.MaxOutbound }
