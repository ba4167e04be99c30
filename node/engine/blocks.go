package engine

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
)

// blockPipeline runs the StoreBlock jobs: check workers (one per core) run
// the block rules, then one writer appends the blocks that passed to the
// block store and syncs it at most every syncInterval, so the blocks
// written meanwhile share one fsync. Each block's result goes back to the
// core once it is written (its memory is then free), and a BlocksSynced
// once the sync made it durable: only a durable block connects. Queues are slices under a lock, not
// channels, so handing a job over never blocks the engine goroutine; their
// length is bounded by the core (netsync.MaxBlockBytesPending).
type blockPipeline struct {
	e     *Engine
	store *blockstore.Store

	mu       sync.Mutex
	toCheck  []netsync.StoreBlock
	toWrite  []checkedBlock
	checkSig chan struct{}
	writeSig chan struct{}
}

type checkedBlock struct {
	job netsync.StoreBlock
	err error // the rule it broke; nil: to be written
}

func newBlockPipeline(e *Engine, store *blockstore.Store) *blockPipeline {
	return &blockPipeline{e: e, store: store, checkSig: make(chan struct{}, 1), writeSig: make(chan struct{}, 1)}
}

// start runs the workers until ctx ends; jobs still queued then are
// dropped (their blocks were never durable and are fetched again at the
// next start).
func (bp *blockPipeline) start(ctx context.Context, wg *sync.WaitGroup) {
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() { bp.checkLoop(ctx) })
	}
	wg.Go(func() { bp.writeLoop(ctx) })
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// submit queues a job; it never blocks.
func (bp *blockPipeline) submit(j netsync.StoreBlock) {
	bp.mu.Lock()
	bp.toCheck = append(bp.toCheck, j)
	bp.mu.Unlock()
	signal(bp.checkSig)
}

func (bp *blockPipeline) checkLoop(ctx context.Context) {
	for {
		bp.mu.Lock()
		var j netsync.StoreBlock
		have := len(bp.toCheck) > 0
		if have {
			j = bp.toCheck[0]
			bp.toCheck[0] = netsync.StoreBlock{}
			bp.toCheck = bp.toCheck[1:]
			if len(bp.toCheck) > 0 {
				signal(bp.checkSig) // wake another worker for the rest
			}
		}
		bp.mu.Unlock()
		if !have {
			select {
			case <-ctx.Done():
				return
			case <-bp.checkSig:
			}
			continue
		}
		err := j.Check()
		bp.mu.Lock()
		bp.toWrite = append(bp.toWrite, checkedBlock{job: j, err: err})
		bp.mu.Unlock()
		signal(bp.writeSig)
	}
}

// syncInterval is the shortest time between two syncs of the block store
// while blocks keep coming: each sync waits for the disk, and blocks
// written meanwhile share the next one. Memory is released as each block
// is written; a block connects once it is synced.
const syncInterval = 100 * time.Millisecond

func (bp *blockPipeline) writeLoop(ctx context.Context) {
	var unsynced []chainhash.Hash
	var lastSync time.Time
	sync := func() bool {
		if err := bp.store.Sync(); err != nil {
			bp.e.post(evStoreFailed{what: "block store", err: err})
			return false
		}
		lastSync = time.Now()
		bp.e.post(evJobsDone{results: []p2p.Job{netsync.BlocksSynced{Hashes: unsynced}}})
		unsynced = nil
		return true
	}
	for {
		if len(unsynced) > 0 {
			wait := syncInterval - time.Since(lastSync)
			if wait <= 0 {
				if !sync() {
					return
				}
				continue
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-bp.writeSig:
				t.Stop()
			case <-t.C:
				continue
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-bp.writeSig:
			}
		}
		bp.mu.Lock()
		batch := bp.toWrite
		bp.toWrite = nil
		bp.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		results := make([]p2p.Job, 0, len(batch))
		for _, c := range batch {
			if c.err == nil {
				if _, err := bp.store.WriteBlock(c.job.Block.Hash, c.job.Context.Height, c.job.Raw); err != nil {
					bp.e.post(evStoreFailed{what: "block store", err: err})
					return
				}
				unsynced = append(unsynced, c.job.Block.Hash)
				if bp.e.connector != nil {
					bp.e.connector.handoff.put(c.job.Block, c.job.Context.Height, c.job.Cost)
				}
			}
			results = append(results, c.job.Result(c.err))
		}
		bp.e.post(evJobsDone{results: results})
	}
}

// readBlocks runs a ReadBlocks job on its own goroutine: the core keeps at
// most a few in flight.
func (e *Engine) readBlocks(j netsync.ReadBlocks) {
	e.wg.Go(func() {
		res := j.Read(func(hash chainhash.Hash) ([]byte, error) {
			raw, err := e.blocks.ReadBlock(hash)
			if err != nil && !errors.Is(err, blockstore.ErrNotFound) {
				e.log.Warn("reading a block to serve", "hash", hash, "peer", j.Peer, "err", err)
			}
			return raw, err
		})
		e.post(evJobsDone{results: []p2p.Job{res}})
	})
}

// scriptCacheEntries sizes the signature cache: Core's default
// -maxsigcachesize of 32 MiB holds about this many entries.
const scriptCacheEntries = 100_000

// maybePrune starts a prune in the background when pruning is on, the
// block files are above the target and no prune runs: the oldest files
// whose blocks are all at least MinBlocksToKeep below the last connected
// block go (Core's FindFilesToPrune).
func (e *Engine) maybePrune() {
	target := e.cfg.PruneMiB << 20
	if target == 0 || e.blocks == nil || e.blocks.SizeOnDisk() <= target {
		return
	}
	// Only blocks the flushed UTXO set is past may go: after a crash the
	// set replays the stored blocks after its flushed best block, so those
	// must stay (Core prunes in FlushStateToDisk, after the chainstate is
	// written, for the same reason).
	tip := e.sync.Connected()
	if e.utxo != nil {
		tip = min(tip, e.connector.stats.Load().Flushed.Height)
	}
	keepFrom := tip - blockstore.MinBlocksToKeep + 1
	if keepFrom <= 1 {
		return
	}
	e.jobs.prune.latest(func() error {
		res, err := e.blocks.Prune(target, keepFrom)
		if err != nil {
			return err
		}
		if len(res.Files) > 0 {
			e.log.Info("pruned block files", "files", res.Files, "blocks", res.Blocks, "bytes", res.Bytes, "keep_from", keepFrom)
		}
		return nil
	})
}

// closeBlocks closes the block store. The pointer stays (readers on other
// goroutines look at it under blocksMu); blocksClosed turns them away.
func (e *Engine) closeBlocks() error {
	e.blocksMu.Lock()
	defer e.blocksMu.Unlock()
	if e.blocks == nil || e.blocksClosed {
		return nil
	}
	e.blocksClosed = true
	var err error
	if e.connector != nil {
		e.connector.scripts.Close()
	}
	if e.utxo != nil {
		err = e.utxo.Close()
	}
	return errors.Join(err, e.blocks.Close())
}
