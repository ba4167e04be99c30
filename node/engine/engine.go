package engine

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/addrman"
	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/utxo"
)

// tickInterval is how often the core's timers run (pings, request expiry,
// dialing); every deadline the core keeps is far coarser than this.
const tickInterval = 250 * time.Millisecond

// publishInterval is how often a snapshot is published for observers.
const publishInterval = 250 * time.Millisecond

// minPublishGap is the least time between two snapshots the core asked for
// (a block connected, the header sync caught up), twenty a second: more
// than any eye follows. Without it a node downloading blocks built one per
// connected block, each reading the 1,024 cells of the download window,
// the status of every peer and the UTXO set's counters: 638 snapshots and
// 0.21 s of the engine goroutine in a 5.5 s download of 200 MB. The
// operator's commands still publish at once (do).
const minPublishGap = 50 * time.Millisecond

// Engine is the shell around the node's pure cores. See the package
// documentation. Create it with New and run it with Run; the other
// exported methods are safe to call from any goroutine.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	core *p2p.Core
	sync *netsync.Sync

	store *chain.Store // nil when the node keeps no data folder
	// blocks is the block store and pipeline its writer; both nil when the
	// node keeps no data folder (it then syncs headers only).
	blocks   *blockstore.Store
	pipeline *blockPipeline
	// utxo is the UTXO set and connector its one writer; both nil without
	// a data folder.
	utxo      *utxo.Store
	connector *connector
	// late is a fresh start's stores while they open after the first
	// dial (stores.go); nil once attached, and on any other start.
	late        *lateStores
	assumeValid chainhash.Hash // the block -assumevalid names, or zero
	// blocksMu guards blocksClosed against the API's readers.
	blocksMu     sync.RWMutex
	blocksClosed bool
	addrsPath    string
	bansPath     string
	pool         *peer.Pool
	conns        map[p2p.PeerID]*connection

	events chan event
	wake   chan struct{}
	quit   chan struct{} // closed when Run returns: event senders give up
	wg     sync.WaitGroup
	jobs   jobRunner
	ctx    context.Context    // Run's context, for dials and lookups
	cancel context.CancelFunc // ends ctx: the accept loop, dials and lookups stop

	snapshot  atomic.Pointer[Snapshot]
	msgLog    *Ring[MessageRecord]
	eventLog  *Ring[Event]
	linkLog   *Ring[RequestLink]
	payloads  *payloadStore
	closed    closedTraffic // counters of connections already gone
	keyLog    *keyLog       // -v2keylog; nil without one
	publishAt time.Time     // when the next snapshot is due
	// publishDue: an action asked for a snapshot; apply publishes it once
	// the event is handled (never from the core's flusher), or, within
	// minPublishGap of the last one, when publishTimer fires.
	publishDue   bool
	published    time.Time   // when the last snapshot was built
	publishTimer *time.Timer // armed while a due snapshot waits out the gap
	publishArmed bool
	publishes    atomic.Int64 // snapshots built, for tests
	capturing    atomic.Bool  // mirrors the core's switch, for readers
	// fatal is set when the node must stop (a header store write failed).
	fatal error
}

// New validates cfg, loads the header chain, the address book and the bans
// from the data folder and returns an engine ready to Run.
func New(cfg Config) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		log:      cfg.Logger,
		conns:    make(map[p2p.PeerID]*connection),
		pool:     peer.NewPool(),
		events:   make(chan event, 1024),
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		ctx:      context.Background(),
		msgLog:   NewRing[MessageRecord](messageLogSize),
		eventLog: NewRing[Event](eventLogSize),
		linkLog:  NewRing[RequestLink](linkLogSize),
		payloads: newPayloadStore(payloadBudget),
		// Stopped until a snapshot waits out minPublishGap.
		publishTimer: time.NewTimer(time.Hour),
	}
	e.publishTimer.Stop()
	e.jobs.init(e)
	now := cfg.Now()
	pc := cfg.p2pConfig()
	if _, err := crand.Read(pc.Seed[:]); err != nil {
		return nil, fmt.Errorf("seeding random source: %w", err)
	}
	var err error
	if e.assumeValid, err = cfg.assumeValid(); err != nil {
		return nil, err
	}
	if cfg.DataDir != "" {
		e.addrsPath = filepath.Join(cfg.DataDir, "peers.json")
		e.bansPath = filepath.Join(cfg.DataDir, "bans.json")
		if pc.Addrs, err = e.loadAddrs(now); err != nil {
			return nil, err
		}
		if pc.Bans, err = loadBans(e.bansPath); err != nil {
			return nil, err
		}
	}
	var stores *openingStores
	if cfg.DataDir != "" {
		stores = e.startOpeningStores()
	}
	ch, err := e.openChain()
	if err != nil {
		return nil, errors.Join(err, stores.discard())
	}
	var blocks *netsync.BlockStart
	switch {
	case cfg.DataDir == "":
	case ch.Height() == 0:
		blocks = genesisStart()
		e.late = &lateStores{opening: stores}
	default:
		if blocks, err = e.openBlocks(ch, stores); err != nil {
			return nil, errors.Join(fmt.Errorf("stores in %s: %w", cfg.DataDir, err), e.closeStore())
		}
	}
	e.core, err = p2p.New(pc, now, func(c *p2p.Core) p2p.Sync {
		e.sync = netsync.New(c, ch, blocks)
		return e.sync
	})
	if err != nil {
		var late error
		if e.late != nil {
			late = e.late.opening.discard()
		}
		return nil, errors.Join(err, e.closeBlocks(), e.closeStore(), late)
	}
	e.core.SetFlusher(e.flushEarly)
	e.capturing.Store(e.core.Capturing())
	e.publish(now)
	return e, nil
}

// loadAddrs reads the address book; a corrupt one is moved aside, as Core
// does with a bad peers.dat, and the node starts afresh.
func (e *Engine) loadAddrs(now time.Time) (*addrman.Manager, error) {
	m, err := addrman.Load(e.addrsPath, now)
	if errors.Is(err, addrman.ErrCorrupt) {
		aside := e.addrsPath + ".corrupt"
		e.log.Warn("address book is corrupt; starting a new one", "err", err, "moved_to", aside)
		if rerr := os.Rename(e.addrsPath, aside); rerr != nil {
			return nil, fmt.Errorf("moving corrupt address book aside: %w", rerr)
		}
		m, err = addrman.Load(e.addrsPath, now)
	}
	if err != nil {
		return nil, fmt.Errorf("loading address book: %w", err)
	}
	return m, nil
}

// openChain loads the header store (when there is a data folder) and
// builds the chain from it.
func (e *Engine) openChain() (*chain.Chain, error) {
	var stored []consensus.Header
	if e.cfg.DataDir != "" {
		path := filepath.Join(e.cfg.DataDir, chain.StoreFile)
		s, headers, err := e.openStore(path)
		if err != nil {
			return nil, err
		}
		e.store, stored = s, headers
	}
	ch, writes, err := chain.New(e.cfg.Params, stored)
	if err != nil {
		e.closeStore()
		return nil, fmt.Errorf("header store in %s: %w", e.cfg.DataDir, err)
	}
	for _, w := range writes {
		e.storeHeaders(w)
	}
	return ch, nil
}

// openStore opens the header store; a write failure is posted to the
// engine, which stops the node.
func (e *Engine) openStore(path string) (*chain.Store, []consensus.Header, error) {
	return chain.OpenStore(path, e.log.With("component", "chain"), chain.StoreOptions{
		OnError:  func(err error) { e.post(evStoreFailed{what: "header store", err: err}) },
		WrapFile: e.cfg.storeFile,
	})
}

func (e *Engine) closeStore() error {
	if e.store == nil {
		return nil
	}
	err := e.store.Close()
	e.store = nil
	return err
}

// Snapshot returns the latest published state. It never blocks.
func (e *Engine) Snapshot() *Snapshot { return e.snapshot.Load() }

// Run runs the engine until ctx is cancelled (or a fatal error, such as a
// failed header store write, stops it), then closes every connection,
// waits for every goroutine it started and saves the address book.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.ctx, e.cancel = ctx, cancel
	defer close(e.quit)

	if e.cfg.V2KeyLog != "" {
		kl, err := openKeyLog(e.cfg.V2KeyLog, e.log)
		if err != nil {
			return errors.Join(err, e.closeStore())
		}
		e.keyLog = kl
		defer kl.close()
	}
	if e.cfg.Listen != "" {
		ln, err := net.Listen("tcp", e.cfg.Listen)
		if err != nil {
			return errors.Join(fmt.Errorf("listening for peers on %s: %w", e.cfg.Listen, err), e.closeStore())
		}
		e.core.SetListening(ln.Addr().String())
		e.log.Info("listening for peers", "addr", ln.Addr().String())
		e.wg.Go(func() { e.acceptLoop(ctx, ln) })
	}
	if e.pipeline != nil {
		e.pipeline.start(ctx, &e.wg)
	}
	if e.connector != nil {
		e.wg.Go(func() { e.connector.run(ctx) })
	}
	if late := e.late; late != nil {
		e.wg.Go(func() { e.finishOpening(late) })
	}
	e.core.Start(e.cfg.Now())
	e.apply()

	ticker := time.NewTicker(tickInterval)
	defer ticker.Stop()
	for {
		e.drainEvents()
		if e.fatal != nil {
			return e.shutdown()
		}
		if e.serveRound() {
			// More may be waiting, so do not block; but do not let a busy
			// stretch starve the timers either, or a flood from a few peers
			// would stop pings, timeouts and snapshots for its duration.
			select {
			case <-ctx.Done():
				return e.shutdown()
			case <-ticker.C:
				e.tick()
			case <-e.publishTimer.C:
				e.publishWaited()
			default:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return e.shutdown()
		case ev := <-e.events:
			e.handle(ev)
		case <-e.wake:
		case <-ticker.C:
			e.tick()
		case <-e.publishTimer.C:
			e.publishWaited()
		}
	}
}

// drainEvents handles the events already waiting, without blocking.
func (e *Engine) drainEvents() {
	for {
		select {
		case ev := <-e.events:
			e.handle(ev)
		default:
			return
		}
	}
}

// serveRound lets the core take one round of messages from the peers'
// inbound queues.
func (e *Engine) serveRound() bool {
	worked := e.core.ServeRound(e.cfg.Now(), func(id p2p.PeerID) (*p2p.Message, bool) {
		if c, ok := e.conns[id]; ok {
			return c.in.Pop()
		}
		return nil, false
	})
	e.apply()
	return worked
}

// tick runs the core's timers and publishes a snapshot when one is due.
func (e *Engine) tick() {
	now := e.cfg.Now()
	backlog := make(map[p2p.PeerID]time.Time)
	for id, c := range e.conns {
		if t, ok := c.in.Oldest(); ok {
			backlog[id] = t
		}
	}
	e.core.Tick(now, backlog)
	e.apply()
	if !now.Before(e.publishAt) {
		e.publish(now)
	}
}

// shutdown closes every connection with reason "shutdown", saves the
// address book, waits for the goroutines and jobs, and closes the store.
// It runs on the engine goroutine.
func (e *Engine) shutdown() error {
	e.cancel()
	now := e.cfg.Now()
	e.core.Shutdown(now)
	e.apply()
	// Connections accepted or dialled while we were stopping are closed by
	// their owners: the accept loop and dialers watch ctx.
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			// Events posted before the goroutines ended may still wait.
			for drained := false; !drained; {
				select {
				case ev := <-e.events:
					discardEvent(ev)
				default:
					drained = true
				}
			}
			e.jobs.wait()
			e.publish(now)
			err := e.fatal
			if cerr := e.closeStore(); cerr != nil && err == nil {
				err = fmt.Errorf("closing header store: %w", cerr)
			}
			if cerr := e.closeBlocks(); cerr != nil && err == nil {
				err = fmt.Errorf("closing block store: %w", cerr)
			}
			return err
		case ev := <-e.events:
			discardEvent(ev)
		}
	}
}

// discardEvent closes what an event that comes during shutdown holds.
func discardEvent(ev event) {
	switch ev := ev.(type) {
	case evConnected:
		ev.nc.Close()
	case evCaptureOpened:
		// Its connection never started: nothing else will close its
		// files (Stop would only stop writing to them).
		if ev.capture != nil {
			ev.capture.Close()
		}
		ev.nc.Close()
	case evStoresOpened:
		ev.close()
	}
}
