package engine

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/addrman"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// tickInterval is how often timers (pings, request expiry, dialing) are
// checked; every deadline the engine keeps is far coarser than this.
const tickInterval = 250 * time.Millisecond

// saveInterval is how often the address book is written out.
const saveInterval = 5 * time.Minute

// Engine owns the node's protocol state. Create it with New and run it with
// Run; the other exported methods are safe to call from any goroutine.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	magic wire.BitcoinNet
	now   func() time.Time
	rng   *rand.Rand

	events chan event
	wake   chan struct{}
	quit   chan struct{} // closed when Run returns: event senders give up
	wg     sync.WaitGroup
	ctx    context.Context // Run's context, for dials and lookups

	snapshot atomic.Pointer[Snapshot]

	// Everything below is owned by the Run goroutine.
	startedAt         time.Time
	listenAddr        string
	peers             map[PeerID]*peerState
	order             []PeerID // round-robin order of service
	lastID            PeerID
	lastReq           uint64
	nonces            map[uint64]PeerID // our version nonces, to catch self-connections
	addrs             *addrman.Manager
	addrsPath         string
	bans              *banList
	disconnects       []Disconnect
	targets           []*target // --connect / --addnode / API connections
	dialing           map[string]bool
	discovery         discovery
	msgLog            *Ring[MessageRecord]
	eventLog          *Ring[Event]
	chain             *chain.Chain
	store             *chain.Store // the chain on disk; nil without a data folder
	sync              headerSync
	disconnectsByKind map[DropKind]uint64
	requestTimeouts   uint64
	closedSentCmd     map[string]peer.CommandTraffic // per command, connections already gone
	closedRecvCmd     map[string]peer.CommandTraffic
	closedSent        uint64 // bytes of connections already gone
	closedRecv        uint64
	lastSave          time.Time
	capturing         atomic.Bool   // new connections are captured
	payloads          *payloadStore // recent messages' bytes, for the decoder
}

// New validates cfg, loads the address book and bans from the data folder
// and returns an engine ready to Run.
func New(cfg Config) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("seeding random source: %w", err)
	}
	e := &Engine{
		cfg:               cfg,
		log:               cfg.Logger,
		magic:             cfg.Network.Magic(),
		now:               cfg.Now,
		rng:               rand.New(rand.NewChaCha8(seed)),
		events:            make(chan event, 256),
		wake:              make(chan struct{}, 1),
		quit:              make(chan struct{}),
		ctx:               context.Background(),
		peers:             make(map[PeerID]*peerState),
		nonces:            make(map[uint64]PeerID),
		dialing:           make(map[string]bool),
		msgLog:            NewRing[MessageRecord](messageLogSize),
		disconnectsByKind: make(map[DropKind]uint64),
		eventLog:          NewRing[Event](eventLogSize),
	}
	e.startedAt = e.now()
	e.capturing.Store(cfg.Capture && cfg.CaptureDir != "")
	e.payloads = newPayloadStore(payloadBudget)
	banPath := ""
	if cfg.DataDir != "" {
		e.addrsPath = filepath.Join(cfg.DataDir, "peers.json")
		banPath = filepath.Join(cfg.DataDir, "bans.json")
	}
	var err error
	if e.addrsPath != "" {
		e.addrs, err = addrman.Load(e.addrsPath, e.startedAt)
		if errors.Is(err, addrman.ErrCorrupt) {
			// Like Core with a bad peers.dat: keep the evidence, start afresh.
			aside := e.addrsPath + ".corrupt"
			e.log.Warn("address book is corrupt; starting a new one", "err", err, "moved_to", aside)
			if rerr := os.Rename(e.addrsPath, aside); rerr != nil {
				return nil, fmt.Errorf("moving corrupt address book aside: %w", rerr)
			}
			e.addrs, err = addrman.Load(e.addrsPath, e.startedAt)
		}
		if err != nil {
			return nil, fmt.Errorf("loading address book: %w", err)
		}
	} else {
		var key [32]byte
		crand.Read(key[:])
		e.addrs = addrman.New(key)
	}
	// Regtest and test setups run every node on loopback.
	e.addrs.AllowLocal = cfg.Network == protocol.Regtest
	if e.bans, err = loadBans(banPath); err != nil {
		return nil, err
	}
	var stored []consensus.Header
	if cfg.DataDir != "" {
		e.store, stored, err = chain.OpenStore(filepath.Join(cfg.DataDir, chain.StoreFile), cfg.Logger.With("component", "chain"), chain.StoreOptions{})
		if err != nil {
			return nil, err
		}
	}
	var writes []chain.Write
	if e.chain, writes, err = chain.New(cfg.Params, stored); err != nil {
		err = fmt.Errorf("header store in %s: %w", cfg.DataDir, err)
		return nil, errors.Join(err, e.closeStore())
	}
	e.storeWrites(writes)
	e.sync.state = SyncIdle
	for _, t := range cfg.Connect {
		e.targets = append(e.targets, &target{addr: t, persistent: true})
	}
	for _, t := range cfg.AddNode {
		e.targets = append(e.targets, &target{addr: t, persistent: true})
	}
	e.discovery = e.initialDiscovery()
	e.publish(e.startedAt)
	return e, nil
}

// event is something that happened off the engine goroutine.
type event interface{}

type (
	evConnected struct {
		nc      net.Conn
		target  string // "" for inbound
		manual  bool
		inbound bool
	}
	evDialFailed struct {
		target string
		err    error
	}
	evClosed struct {
		id  PeerID
		err error
	}
	evWritten struct {
		id  PeerID
		req uint64
		at  time.Time
	}
	evSeeds struct {
		addrs []netip.AddrPort
		errs  []error
	}
	evCommand struct {
		fn func(now time.Time)
	}
)

// post hands ev to the engine goroutine, or drops it once the engine stopped.
func (e *Engine) post(ev event) {
	select {
	case e.events <- ev:
	case <-e.quit:
	}
}

// notify wakes the engine after a peer's inbound queue got a message.
func (e *Engine) notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Snapshot returns the latest published state. It never blocks.
func (e *Engine) Snapshot() *Snapshot { return e.snapshot.Load() }

// Run runs the engine until ctx is cancelled, then closes every connection,
// waits for every goroutine it started and saves the address book.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.ctx = ctx
	defer close(e.quit)

	if e.cfg.Listen != "" {
		ln, err := net.Listen("tcp", e.cfg.Listen)
		if err != nil {
			// The store's writer goroutine and file lock go with the engine.
			return errors.Join(fmt.Errorf("listening for peers on %s: %w", e.cfg.Listen, err), e.closeStore())
		}
		e.listenAddr = ln.Addr().String()
		e.log.Info("listening for peers", "addr", e.listenAddr)
		e.wg.Go(func() { e.acceptLoop(ctx, ln) })
	}
	e.startDiscovery(e.now())

	ticker := time.NewTicker(tickInterval)
	defer ticker.Stop()
	for {
		now := e.now()
		e.drainEvents(now)
		if e.serveRound(now) {
			// More may be waiting, so do not block; but do not let a busy
			// stretch starve the timers either, or a flood from a few peers
			// would stop pings, timeouts and snapshots for its duration.
			select {
			case <-ctx.Done():
				return e.shutdown()
			case <-ticker.C:
				e.tick(e.now())
			default:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return e.shutdown()
		case ev := <-e.events:
			e.handleEvent(ev, e.now())
		case <-e.wake:
		case <-ticker.C:
			e.tick(e.now())
		}
	}
}

// drainEvents handles the events already waiting, without blocking.
func (e *Engine) drainEvents(now time.Time) {
	for {
		select {
		case ev := <-e.events:
			e.handleEvent(ev, now)
		default:
			return
		}
	}
}

func (e *Engine) handleEvent(ev event, now time.Time) {
	switch ev := ev.(type) {
	case evConnected:
		e.connected(ev, now)
	case evDialFailed:
		e.dialFailed(ev, now)
	case evClosed:
		if p, ok := e.peers[ev.id]; ok {
			e.drop(p, classifyConnError(ev.err), now)
		}
	case evWritten:
		e.requestWritten(ev.id, ev.req, ev.at)
	case evSeeds:
		e.seedsResolved(ev, now)
	case evCommand:
		ev.fn(now)
	}
}

// serveRound takes up to perTurn messages from each peer's inbound queue in
// turn, so a flooding peer delays the others by at most perTurn messages. It
// reports whether it handled anything.
//
// A peer whose outbound queue is past its hard limit is not served until the
// writer drains it, as Bitcoin Core pauses a peer whose send buffer is full:
// otherwise a peer that sends pings and never reads could make us queue
// pongs (control messages, which the queue always accepts) without bound.
// Its inbound queue then fills, its reader blocks, and TCP pushes back on it
// alone; if it never reads again, the write timeout drops it.
func (e *Engine) serveRound(now time.Time) bool {
	worked := false
	for _, id := range slices.Clone(e.order) {
		for range perTurn {
			p, ok := e.peers[id]
			if !ok || p.out.Bytes() >= 2*outQueueLimit {
				break
			}
			m, ok := p.in.Pop()
			if !ok {
				break
			}
			worked = true
			e.handleMessage(p, m, now)
			if len(m.Headers) > 0 {
				// handleMessage waited for the reader's hashes.
				e.logInbound(p, m.Command, m.Size, nil, m.Payload, len(m.Headers),
					protocol.ShortHash(m.HeaderHashes[0]), protocol.ShortHash(m.HeaderHashes[len(m.HeaderHashes)-1]), m.Received)
			} else {
				e.logInbound(p, m.Command, m.Size, m.Msg, m.Payload, 0, "", "", m.Received)
			}
		}
	}
	return worked
}

// tick runs the timers: handshake and ping deadlines, request expiry,
// connection upkeep, snapshots and periodic saves.
func (e *Engine) tick(now time.Time) {
	for _, id := range slices.Clone(e.order) {
		p, ok := e.peers[id]
		if !ok {
			continue
		}
		if !p.established() && now.Sub(p.connectedAt) >= e.cfg.HandshakeTimeout {
			e.drop(p, dropReason(DropTimeout, "handshake timeout: no version/verack within %s", e.cfg.HandshakeTimeout), now)
			continue
		}
		// Every expired request is reported, even when an earlier one's
		// owner drops the peer (a ping timeout): they are already off
		// p.reqs, so drop cannot release them.
		for _, r := range p.reqs.expire(now) {
			e.finish(r, Expired)
		}
		if _, alive := e.peers[id]; !alive {
			continue
		}
		if p.established() && !now.Before(p.nextPing) && !p.reqs.outstanding(wire.CmdPing) {
			e.sendPing(p, now)
		}
	}
	e.maintainConnections(now)
	e.maintainSync(now)
	e.publish(now)
	if now.Sub(e.lastSave) >= saveInterval {
		e.saveAddrs(now)
	}
}

func (e *Engine) saveAddrs(now time.Time) {
	e.lastSave = now
	if e.addrsPath == "" {
		return
	}
	if err := e.addrs.Save(e.addrsPath); err != nil {
		e.log.Error("saving address book", "err", err)
	}
}

// shutdown closes every connection with reason "shutdown", waits for the
// goroutines and saves state. It runs on the engine goroutine.
func (e *Engine) shutdown() error {
	now := e.now()
	for _, id := range slices.Clone(e.order) {
		if p, ok := e.peers[id]; ok {
			e.drop(p, dropReason(DropShutdown, "node shutting down"), now)
		}
	}
	// Connections accepted or dialled while we were stopping are closed by
	// their owners: the accept loop and dialers watch ctx.
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			e.saveAddrs(now)
			e.publish(now)
			if err := e.closeStore(); err != nil {
				return fmt.Errorf("closing header store: %w", err)
			}
			return nil
		case ev := <-e.events:
			if c, ok := ev.(evConnected); ok {
				c.nc.Close()
			}
		}
	}
}

// storeWrites hands the chain's writes to the store, in order.
func (e *Engine) storeWrites(ws []chain.Write) {
	if e.store == nil {
		return
	}
	for _, w := range ws {
		e.store.Write(w)
	}
}

// closeStore flushes and closes the header store, if there is one.
func (e *Engine) closeStore() error {
	if e.store == nil {
		return nil
	}
	return e.store.Close()
}

// publish stores a fresh snapshot for observers.
func (e *Engine) publish(now time.Time) {
	s := &Snapshot{Time: now, Peers: make([]PeerInfo, 0, len(e.peers))}
	st := &s.Status
	st.Network = string(e.cfg.Network)
	height, tip, work := e.chain.Tip()
	st.Height = height
	st.BestHash = tip.String()
	st.ChainWork = work.Hex()
	st.TipTime = time.Unix(int64(e.chain.TipHeader().Timestamp), 0).UTC()
	st.Sync = e.syncStatus(now)
	st.ForkHeaders = e.chain.ForkCount()
	st.UptimeS = int64(now.Sub(e.startedAt) / time.Second)
	st.Discovery = e.discovery.describe()
	st.Listen = e.listenAddr
	st.AddrNew, st.AddrTried = e.addrs.Counts()
	st.UserAgent = e.cfg.UserAgent
	st.ProtocolV = protocol.ProtocolVersion
	st.StartedAt = e.startedAt
	st.BytesSent, st.BytesRecv = e.closedSent, e.closedRecv
	st.DisconnectsByKind = maps.Clone(e.disconnectsByKind)
	st.RequestTimeouts = e.requestTimeouts
	st.MsgsSent = addTraffic(nil, e.closedSentCmd)
	st.MsgsRecv = addTraffic(nil, e.closedRecvCmd)
	for _, id := range e.order {
		p := e.peers[id]
		info := e.peerInfo(p, now)
		s.Peers = append(s.Peers, info)
		st.BytesSent += info.BytesSent
		st.BytesRecv += info.BytesRecv
		st.MsgsSent = addTraffic(st.MsgsSent, info.MsgsSent)
		st.MsgsRecv = addTraffic(st.MsgsRecv, info.MsgsRecv)
		if p.inbound() {
			st.Inbound++
		} else {
			st.Outbound++
		}
	}
	st.Peers = len(s.Peers)
	s.Disconnects = slices.Clone(e.disconnects)
	slices.Reverse(s.Disconnects) // newest first
	s.Bans = e.bans.list(now)
	e.snapshot.Store(s)
}

// do runs fn on the engine goroutine and waits for it, for the API methods.
func (e *Engine) do(ctx context.Context, fn func(now time.Time) error) error {
	errc := make(chan error, 1)
	ev := evCommand{fn: func(now time.Time) {
		err := fn(now)
		// Publish before answering, so a caller that reads the snapshot
		// after the call returns sees its own change.
		e.publish(now)
		errc <- err
	}}
	select {
	case e.events <- ev:
	case <-e.quit:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-e.quit:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errStopped = errors.New("engine stopped")

// ErrNoSuchPeer is returned for a PeerID that is not connected.
var ErrNoSuchPeer = errors.New("no such peer")

// Connect opens a manual outbound connection to addr (host:port) and keeps
// it, reconnecting with backoff, like Bitcoin Core's addnode.
func (e *Engine) Connect(ctx context.Context, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	return e.do(ctx, func(now time.Time) error {
		for _, t := range e.targets {
			if t.addr == addr {
				t.nextAttempt = now
				return nil
			}
		}
		e.targets = append(e.targets, &target{addr: addr, persistent: true, nextAttempt: now})
		e.maintainConnections(now)
		return nil
	})
}

// Disconnect drops peer id with reason "operator". A manual target's
// connection is not re-established.
func (e *Engine) Disconnect(ctx context.Context, id PeerID) error {
	return e.do(ctx, func(now time.Time) error {
		p, ok := e.peers[id]
		if !ok {
			return fmt.Errorf("%w: %d", ErrNoSuchPeer, id)
		}
		if p.target != "" {
			e.targets = slices.DeleteFunc(e.targets, func(t *target) bool { return t.addr == p.target })
		}
		e.drop(p, dropReason(DropOperator, "disconnected by the operator"), now)
		return nil
	})
}

// Ban refuses addr (an IP, with or without port) for d, persists the ban and
// drops every peer at that IP.
func (e *Engine) Ban(ctx context.Context, addr, reason string, d time.Duration) (Ban, error) {
	ip, err := ParseBanAddr(addr)
	if err != nil {
		return Ban{}, err
	}
	if reason == "" {
		reason = "banned by the operator"
	}
	if d <= 0 {
		d = 24 * time.Hour
	}
	var ban Ban
	err = e.do(ctx, func(now time.Time) error {
		var err error
		ban, err = e.bans.add(ip, reason, true, now, d)
		e.eventLog.Append(Event{Time: now, Kind: EventBan, Addr: ip.String(), Text: "banned by the operator: " + reason})
		for _, id := range slices.Clone(e.order) {
			if p, ok := e.peers[id]; ok && p.addr.Addr().Unmap() == ip {
				e.drop(p, dropReason(DropBan, "banned: %s", reason), now)
			}
		}
		return err
	})
	return ban, err
}

// Unban lifts a ban or discouragement on addr; it reports whether there was
// one.
func (e *Engine) Unban(ctx context.Context, addr string) (bool, error) {
	ip, err := ParseBanAddr(addr)
	if err != nil {
		return false, err
	}
	var found bool
	err = e.do(ctx, func(time.Time) error {
		var err error
		found, err = e.bans.remove(ip)
		if found {
			e.eventLog.Append(Event{Time: e.now(), Kind: EventUnban, Addr: ip.String(), Text: "unbanned by the operator"})
		}
		return err
	})
	return found, err
}
