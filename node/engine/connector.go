package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/script"
	"github.com/watchnode/watchnode/node/utxo"
	"github.com/watchnode/watchnode/node/validate"
)

// connector is the block connector: on its own goroutine it makes the UTXO
// set follow the target netsync sets (ConnectBlocks), disconnecting blocks
// a reorg left and connecting stored blocks in chain order through
// node/validate (Core's ActivateBestChain). It is the one writer of the
// UTXO set and of the block store's undo data.
//
// Durability order: a block's undo data is written when it connects; before
// the set is flushed past a block the block store is synced, so the undo
// data of every block the flushed set reflects is on disk and a crash can
// always go back. The set is flushed when its cache is full and at shutdown;
// after a crash the blocks after its flushed best block are connected again
// from the store.
type connector struct {
	e      *Engine
	blocks *blockstore.Store
	// headers is the header store, synced before each flush of the set:
	// the set's best block must still have its header after a power loss.
	headers *chain.Store
	set     *utxo.Store
	v       *validate.Validator
	scripts *script.Verifier
	params  *consensus.Params
	// assumeValid is the -assumevalid block; zero checks every script.
	assumeValid chainhash.Hash
	// pruneTarget is -prune in bytes (0: no pruning).
	pruneTarget int64
	// handoff holds blocks the store pipeline wrote, decoded.
	handoff *blockHandoff
	// stats are the set's figures as of the last block connected or
	// disconnected, for the engine goroutine's snapshots: reading the
	// set itself there would wait for a flush in progress.
	stats atomic.Pointer[setStats]
	// record keeps what connecting took, block by block and in total.
	record *connectRecorder

	mu     sync.Mutex
	target *netsync.ConnectBlocks // the newest target not yet taken
	// newest is the newest target, taken or not, for the read-ahead.
	newest atomic.Pointer[netsync.ConnectBlocks]
	sig    chan struct{}
}

// setStats are the UTXO set's figures the connector publishes.
type setStats struct {
	utxo.Stats
	DiskBytes int64 // as of the last flush or the start
}

// publishStats publishes the set's figures; disk says to measure the
// store's size on disk too (after a flush), else the last size is kept.
func (c *connector) publishStats(disk bool) {
	st := &setStats{Stats: c.set.Stats()}
	c.handoff.lend(st.CacheLimit - st.CacheBytes)
	if disk {
		st.DiskBytes = c.set.DiskBytes()
	} else if old := c.stats.Load(); old != nil {
		st.DiskBytes = old.DiskBytes
	}
	c.stats.Store(st)
}

// reportInterval and reportBlocks say how often the connector tells the
// core how far it got while it connects a run of blocks (and at the end of
// each run): the download window moves with the connected tip, so with
// small blocks a report per interval alone would hold the download back.
const (
	reportInterval = 200 * time.Millisecond
	reportBlocks   = 64
)

// idleFlush is how long the connector waits, caught up, before it flushes
// the set.
const idleFlush = time.Second

// setTarget hands the connector a new target; it never blocks.
func (c *connector) setTarget(j netsync.ConnectBlocks) {
	c.mu.Lock()
	c.target = &j
	c.mu.Unlock()
	c.newest.Store(&j)
	signal(c.sig)
	c.handoff.nudge()
}

func (c *connector) take() *netsync.ConnectBlocks {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.target
	c.target = nil
	return t
}

func (c *connector) newer() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.target != nil
}

// run follows targets until ctx ends, then flushes the set.
func (c *connector) run(ctx context.Context) {
	var reader sync.WaitGroup
	readCtx, stopReading := context.WithCancel(ctx)
	reader.Go(func() { c.readAhead(readCtx) })
	defer func() {
		stopReading()
		reader.Wait()
	}()
	defer func() {
		if err := c.flush(); err != nil {
			c.e.post(evStoreFailed{what: "UTXO set", err: err})
		}
	}()
	for {
		t := c.take()
		if t == nil {
			// Caught up: once no new block has come for idleFlush, the
			// set is flushed, so its MuHash and the disk reflect the tip
			// (during a download targets keep coming, and the set is
			// flushed only when its cache fills, as Core's).
			var idle <-chan time.Time
			var timer *time.Timer
			if st := c.set.Stats(); st.Best != st.Flushed {
				timer = time.NewTimer(idleFlush)
				idle = timer.C
			}
			flush := false
			select {
			case <-ctx.Done():
			case <-c.sig:
			case <-idle:
				flush = true
			}
			if timer != nil {
				timer.Stop()
			}
			if ctx.Err() != nil {
				return
			}
			if flush {
				if err := c.flush(); err != nil {
					c.e.post(evStoreFailed{what: "UTXO set", err: err})
					return
				}
			}
			continue
		}
		if err := c.follow(ctx, t); err != nil {
			c.e.post(evStoreFailed{what: "UTXO set", err: err})
			return
		}
	}
}

// follow moves the set toward t until it gets there, a newer target
// arrives, a block fails (reported, then the connector waits for the
// target that leaves it) or ctx ends. An error is a store failure: the
// node stops.
//
// Blocks are pipelined: block h+1 is begun (read, its inputs fetched and
// every rule but its scripts checked, on the view block h will leave)
// while the workers still verify block h's scripts, and block h is
// finished (its scripts awaited, its changes written to the set) only
// then. So the workers always have the next block queued and the fetch of
// inputs is off the critical path, as Core's -par checks run while
// ConnectBlock goes on. At most one block waits this way (its decoded
// block, overlay and prevouts: one block's worth of memory); nothing of it
// reaches the set or the disk before its scripts pass.
func (c *connector) follow(ctx context.Context, t *netsync.ConnectBlocks) error {
	lastReport := time.Now()
	report := func() {
		best := c.set.Best()
		c.e.post(evJobsDone{results: []p2p.Job{netsync.BlocksValidated{Height: best.Height, Hash: best.Hash}}})
		lastReport = time.Now()
	}
	defer report()
	// pend is the block begun and not finished yet.
	var pend *pendingBlock
	defer func() {
		if pend != nil {
			pend.p.Abandon()
		}
	}()
	connected := 0
	finish := func() (bool, error) {
		p := pend
		pend = nil
		ok, err := c.finish(p)
		if err != nil || !ok {
			return ok, err
		}
		c.publishStats(false)
		if c.set.NeedsFlush() || c.flushForPrune() {
			if err := c.flush(); err != nil {
				return false, err
			}
		}
		if connected++; connected%reportBlocks == 0 || time.Since(lastReport) >= reportInterval {
			report()
		}
		return true, nil
	}
	for ctx.Err() == nil && !c.newer() {
		best := c.set.Best()
		if best.Height < 0 {
			// A new set reflects the genesis block, whose outputs are
			// not spendable (Core never adds them).
			c.set.SetBest(utxo.Best{Hash: c.params.GenesisHash, Height: 0, ChainTx: 1})
			c.publishStats(false)
			continue
		}
		tipHash, tipHeight := best.Hash, best.Height
		if pend != nil {
			tipHash, tipHeight = pend.hash, pend.height
		}
		if tipHash == t.Hash {
			break
		}
		if h, ok := t.View.MainHeight(&tipHash); !ok || h != tipHeight || tipHeight > t.Height {
			if pend != nil {
				// The block being verified left the target's chain:
				// finish it (it may still be valid), then take it off.
				if ok, err := finish(); err != nil || !ok {
					return err
				}
				continue
			}
			if err := c.disconnect(best); err != nil {
				return err
			}
			c.publishStats(false)
			continue
		}
		height := tipHeight + 1
		var base validate.View = c.set
		if pend != nil {
			base = pend.p.View()
		}
		next, broken, err := c.begin(t.View, t.View.HashAt(height), height, base)
		if err != nil {
			return err
		}
		if pend != nil {
			ok, err := finish()
			if err != nil || !ok {
				// The block before next failed, or the store did:
				// next, begun on it, goes too.
				if next != nil {
					next.p.Abandon()
				}
				return err
			}
		}
		if broken != nil {
			c.e.post(evJobsDone{results: []p2p.Job{netsync.BlockInvalid{Height: height, Hash: broken.Hash, Err: broken}}})
			return nil
		}
		pend = next
	}
	if pend != nil && ctx.Err() == nil {
		// Caught up, or a newer target: the block begun is finished, not
		// thrown away (a newer target usually extends this one).
		if _, err := finish(); err != nil {
			return err
		}
	}
	return nil
}

// pendingBlock is a block begun by the connector whose scripts the workers
// verify, with what finishing it needs.
type pendingBlock struct {
	p      *validate.Pending
	view   *chain.View
	hash   chainhash.Hash
	height int32
	txs    int
	size   int
	// start, read and inputs time the stages so far; scripts is set when
	// the scripts have passed.
	start, read, inputs, scripts time.Time
}

// begin reads the stored block hash at height and begins connecting it on
// base (validate.Begin). broken is the rule it broke, when it did (nothing
// is begun then).
func (c *connector) begin(view *chain.View, hash chainhash.Hash, height int32, base validate.View) (pb *pendingBlock, broken *validate.RuleError, err error) {
	pb = &pendingBlock{view: view, hash: hash, height: height, start: time.Now()}
	b := c.handoff.take(hash, height)
	if b == nil {
		raw, err := c.blocks.ReadBlock(hash)
		if err != nil {
			return nil, nil, fmt.Errorf("reading block %d %s to connect it: %w", height, hash, err)
		}
		if b, err = consensus.DecodeBlock(raw); err != nil {
			return nil, nil, fmt.Errorf("%w: stored block %d %s does not decode: %v", blockstore.ErrCorrupt, height, hash, err)
		}
	}
	pb.read = time.Now()
	pb.txs, pb.size = len(b.TxIDs), b.Size
	vb := &validate.Block{Block: b, Height: height, Branch: viewBranch{view}, SkipScripts: c.assumedValid(view, height),
		Passed: func(s validate.Stage) {
			switch s {
			case validate.StageInputs:
				pb.inputs = time.Now()
			case validate.StageScripts:
				pb.scripts = time.Now()
			}
		}}
	p, err := c.v.Begin(base, vb)
	if errors.As(err, &broken) {
		return nil, broken, nil
	}
	if err != nil {
		return nil, nil, err
	}
	pb.p = p
	return pb, nil, nil
}

// finish waits for pb's scripts and, if they pass, writes its changes to
// the set and its undo data to the store; ok is false when a script failed
// (reported to the core as BlockInvalid). It times each stage for the
// block's timeline and the metrics; the scripts stage runs from the end of
// the inputs to the scripts' end, so it holds the next block's begin.
func (c *connector) finish(pb *pendingBlock) (ok bool, err error) {
	res, err := pb.p.Finish()
	var rerr *validate.RuleError
	if errors.As(err, &rerr) {
		c.e.post(evJobsDone{results: []p2p.Job{netsync.BlockInvalid{Height: pb.height, Hash: pb.hash, Err: rerr}}})
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := c.blocks.WriteUndo(pb.hash, utxo.AppendBlockUndo(nil, res.Undo)); err != nil {
		return false, err
	}
	prev := c.set.Best()
	next := utxo.Best{Hash: pb.hash, Height: pb.height}
	if prev.ChainTx > 0 {
		next.ChainTx = prev.ChainTx + uint64(pb.txs)
	}
	c.set.SetBest(next)
	done := time.Now()
	stages := ConnectStages{Start: pb.start, Read: pb.read.Sub(pb.start), Inputs: pb.inputs.Sub(pb.read), Scripts: pb.scripts.Sub(pb.inputs),
		Write: done.Sub(pb.scripts), Txs: pb.txs, InputCount: res.Inputs, ScriptsChecked: res.ScriptsChecked}
	c.record.connected(pb.hash, pb.height, pb.size, stages)
	if tip, _, _ := pb.view.Tip(); pb.height >= tip-nearTipBlocks {
		c.e.post(evBlockConnected{hash: pb.hash, height: pb.height, stages: stages})
	}
	return true, nil
}

// nearTipBlocks: blocks this near the best header get a "block connected"
// event each.
const nearTipBlocks = 8

// disconnect takes best, the block the set reflects, back off.
func (c *connector) disconnect(best utxo.Best) error {
	raw, err := c.blocks.ReadBlock(best.Hash)
	if err != nil {
		return fmt.Errorf("reading block %d %s to disconnect it: %w", best.Height, best.Hash, err)
	}
	b, err := consensus.DecodeBlock(raw)
	if err != nil {
		return fmt.Errorf("%w: stored block %d %s does not decode: %v", blockstore.ErrCorrupt, best.Height, best.Hash, err)
	}
	rawUndo, err := c.blocks.ReadUndo(best.Hash)
	if err != nil {
		return fmt.Errorf("reading the undo data of block %d %s: %w", best.Height, best.Hash, err)
	}
	undo, err := utxo.DecodeBlockUndo(rawUndo)
	if err != nil {
		return fmt.Errorf("%w: undo data of block %d %s: %v", blockstore.ErrCorrupt, best.Height, best.Hash, err)
	}
	clean, err := c.v.Disconnect(c.set, &validate.Block{Block: b, Height: best.Height}, undo)
	if err != nil {
		return err
	}
	if !clean {
		c.e.log.Warn("disconnected a block uncleanly (BIP30 repeat)", "height", best.Height, "hash", best.Hash)
	}
	prev := utxo.Best{Hash: b.Header.PrevBlock, Height: best.Height - 1}
	if best.ChainTx > uint64(len(b.TxIDs)) {
		prev.ChainTx = best.ChainTx - uint64(len(b.TxIDs))
	}
	c.set.SetBest(prev)
	c.record.disconnected()
	return nil
}

// assumedValid reports whether the block at height on view's main chain
// may skip its scripts (Core's ConnectBlock with -assumevalid): it is an
// ancestor of the assumed-valid block on the best header chain, that chain
// has at least the network's minimum chain work, and the best header is
// at least two weeks of blocks past it (Core measures the two weeks in
// proof-equivalent time; two weeks of target spacing is the same at a
// steady difficulty).
func (c *connector) assumedValid(view *chain.View, height int32) bool {
	if c.e.cfg.skipScripts {
		return true
	}
	var zero chainhash.Hash
	if c.assumeValid == zero {
		return false
	}
	avHeight, ok := view.MainHeight(&c.assumeValid)
	if !ok || height > avHeight {
		return false
	}
	tipHeight, _, work := view.Tip()
	if work.Cmp(c.params.MinimumChainWork) < 0 {
		return false
	}
	twoWeeks := int32(14 * 24 * 60 * 60 / c.params.TargetSpacing)
	return tipHeight-height >= twoWeeks
}

// flushForPrune reports whether the set should be flushed so that block
// files can be pruned (Core's fFlushForPrune): pruning is on, the files
// are above the target, and the set is pruneFlushBlocks or more past its
// last flush (only blocks the flushed set is past may be pruned).
func (c *connector) flushForPrune() bool {
	if c.pruneTarget == 0 || c.blocks.SizeOnDisk() <= c.pruneTarget {
		return false
	}
	st := c.set.Stats()
	return st.Best.Height-st.Flushed.Height >= pruneFlushBlocks
}

// pruneFlushBlocks is how far the set runs ahead of its last flush, at
// most, while block files wait for pruning.
const pruneFlushBlocks = 100

// flush makes the headers and the undo data durable, then flushes the
// set (Core's FlushStateToDisk writes its block index before the chain
// state too), and tells the engine, which may prune block files the set is
// now past.
func (c *connector) flush() error {
	if c.headers != nil {
		if err := c.headers.Flush(); err != nil {
			return err
		}
	}
	if err := c.blocks.Sync(); err != nil {
		return err
	}
	if err := c.set.Flush(); err != nil {
		return err
	}
	c.record.flushed()
	c.publishStats(true)
	c.e.post(evJobsDone{})
	return nil
}

// viewBranch serves a chain view as node/validate's Branch.
type viewBranch struct{ v *chain.View }

func (b viewBranch) HeaderAt(h int32) *consensus.Header {
	hdr := b.v.HeaderAt(h)
	return &hdr
}

func (b viewBranch) HashAt(h int32) chainhash.Hash { return b.v.HashAt(h) }

func (b viewBranch) MedianTimePastAt(h int32) uint32 { return consensus.MedianTimePast(b, h) }
