package engine

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/script"
	"github.com/watchnode/watchnode/node/utxo"
	"github.com/watchnode/watchnode/node/validate"
)

// openingStores are the block store and the UTXO set of the data folder,
// opening while the header chain loads (opening.go).
type openingStores struct {
	blocks *opening[*blockstore.Store]
	utxo   *opening[*utxo.Store]
}

// startOpeningStores starts opening the block store and the UTXO set.
func (e *Engine) startOpeningStores() *openingStores {
	return &openingStores{
		blocks: startOpening(func() (*blockstore.Store, error) {
			return blockstore.Open(blockstore.Options{Dir: e.cfg.DataDir, Magic: e.cfg.Network.Magic(),
				MaxFileSize: e.cfg.blockFileSize, Logger: e.log.With("component", "blockstore")})
		}),
		utxo: startOpening(func() (*utxo.Store, error) {
			return utxo.Open(utxo.Options{Dir: filepath.Join(e.cfg.DataDir, "chainstate"),
				CacheBytes: e.cfg.DBCacheMiB << 20, Logger: e.log.With("component", "utxo"), FailWrites: e.cfg.utxoFailWrites})
		}),
	}
}

// discard closes whichever of the stores opened: the start failed. A nil
// openingStores discards nothing.
func (o *openingStores) discard() error {
	if o == nil {
		return nil
	}
	return errors.Join(o.blocks.discard(), o.utxo.discard())
}

// finish waits for both stores and stores the genesis block if it is
// missing (Core writes it at its first start too, so it can be served and
// read like any other). On an error nothing stays open.
func (o *openingStores) finish(genesis *wire.MsgBlock) (*blockstore.Store, *utxo.Store, error) {
	store, err := o.blocks.wait()
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("block store: %w", err), o.utxo.discard())
	}
	if err := storeGenesis(store, genesis); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("block store: %w", err), store.Close(), o.utxo.discard())
	}
	set, err := o.utxo.wait()
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("UTXO set: %w", err), store.Close())
	}
	return store, set, nil
}

func storeGenesis(store *blockstore.Store, genesis *wire.MsgBlock) error {
	hash := genesis.BlockHash()
	if store.Has(hash) {
		return nil
	}
	var buf bytes.Buffer
	if err := genesis.Serialize(&buf); err != nil {
		return fmt.Errorf("serializing the genesis block: %w", err)
	}
	if _, err := store.WriteBlock(hash, 0, buf.Bytes()); err != nil {
		return err
	}
	return store.Sync()
}

// openBlocks takes the block store and the UTXO set once open and finds
// the core's start: how far the best header chain's blocks are stored, and
// where on that chain the set is.
func (e *Engine) openBlocks(ch *chain.Chain, stores *openingStores) (*netsync.BlockStart, error) {
	store, set, err := stores.finish(e.cfg.Network.Params().GenesisBlock)
	if err != nil {
		return nil, err
	}
	start := storedStart(ch, store)
	// The height on the best header chain of the block the set reflects,
	// or of the last block that block shares with the chain (the
	// connector disconnects the rest).
	best := set.Best()
	start.Validated = max(0, ch.CommonHeight(&best.Hash))
	e.attachStores(store, set)
	e.log.Info("block store opened", "stored", start.Connected, "stored_ahead", len(start.Stored),
		"headers", ch.Height(), "size_on_disk", store.SizeOnDisk())
	e.log.Info("UTXO set opened", "best", best.Height, "hash", best.Hash, "on_chain_at", start.Validated,
		"coins", set.Stats().Coins, "assumevalid", e.assumeValid, "signatures", e.connector.scripts.SignatureLibrary())
	return start, nil
}

// storedStart is the block download's start: the last block of the best
// header chain stored with every block below it, and the stored blocks of
// the window above it. Full validation is on (a data folder always keeps a
// UTXO set).
func storedStart(ch *chain.Chain, store *blockstore.Store) *netsync.BlockStart {
	start := &netsync.BlockStart{Stored: make(map[chainhash.Hash]int32), Validate: true}
	if store.HavePruned() {
		// Pruning deleted only blocks connected long before: the walk
		// starts above them.
		start.Connected = min(store.PruneHeight(), ch.Height())
	}
	for start.Connected < ch.Height() && store.Has(ch.HashAt(start.Connected+1)) {
		start.Connected++
	}
	for h := start.Connected + 2; h <= min(ch.Height(), start.Connected+netsync.BlockDownloadWindow); h++ {
		if hash := ch.HashAt(h); store.Has(hash) {
			start.Stored[hash] = h
		}
	}
	return start
}

// genesisStart is what openBlocks finds on a header chain of the genesis
// block alone, whatever the stores hold: nothing above height 0 to walk,
// no window, and a set at height 0 (its best block is genesis, or on no
// chain we know). So a node starting afresh needs no store to start its
// core, and dials its peers while the stores open (lateStores).
func genesisStart() *netsync.BlockStart {
	return &netsync.BlockStart{Stored: make(map[chainhash.Hash]int32), Validate: true}
}

// attachStores makes the opened stores the engine's, with the block
// pipeline that writes blocks and the connector that writes the set. The
// API's readers see them from here on (blocksMu).
func (e *Engine) attachStores(store *blockstore.Store, set *utxo.Store) {
	e.blocksMu.Lock()
	e.blocks, e.utxo = store, set
	e.blocksMu.Unlock()
	scripts := script.NewVerifier(0, scriptCacheEntries)
	e.connector = &connector{e: e, blocks: store, headers: e.store, set: set, scripts: scripts, record: newConnectRecorder(),
		v: &validate.Validator{Params: e.cfg.Params, Scripts: scripts}, params: e.cfg.Params,
		assumeValid: e.assumeValid, pruneTarget: e.cfg.PruneMiB << 20, handoff: newBlockHandoff(), sig: make(chan struct{}, 1)}
	e.connector.publishStats(true)
	e.pipeline = newBlockPipeline(e, store)
}

// lateStores is a fresh node's start: the core starts at genesisStart and
// the engine dials its first peers while the block store and the UTXO set
// open: waiting for them took 4–12 ms of the 60–75 ms from process start
// to synced with btcd's 40,000 headers (BENCHMARKS.md). Until they are attached, the block jobs the
// core asks for wait in order (held): the core bounds them as it bounds
// every job, by the bytes and requests it has outstanding.
type lateStores struct {
	opening *openingStores
	held    []p2p.Job
}

// evStoresOpened: the stores of a fresh start opened (or failed to).
type evStoresOpened struct {
	blocks *blockstore.Store
	utxo   *utxo.Store
	err    error
}

// close closes what opened: the engine stopped before it took them.
func (ev evStoresOpened) close() {
	if ev.err == nil {
		ev.utxo.Close()
		ev.blocks.Close()
	}
}

// finishOpening waits for a fresh start's stores on a goroutine of its own
// and hands them to the engine goroutine.
func (e *Engine) finishOpening(late *lateStores) {
	store, set, err := late.opening.finish(e.cfg.Network.Params().GenesisBlock)
	ev := evStoresOpened{blocks: store, utxo: set, err: err}
	if e.cfg.storesHeld != nil {
		select {
		case <-e.cfg.storesHeld:
		case <-e.ctx.Done():
		}
	}
	select {
	case e.events <- ev:
	case <-e.ctx.Done():
		ev.close()
	}
}

// storesOpened attaches a fresh start's stores, starts their workers and
// runs the jobs held for them. A store that failed to open stops the node,
// as it would have stopped New.
func (e *Engine) storesOpened(ev evStoresOpened) {
	held := e.late.held
	e.late = nil
	if ev.err != nil {
		e.fatal = fmt.Errorf("opening the stores in %s: %w", e.cfg.DataDir, ev.err)
		e.log.Error("fatal: could not open the stores; stopping", "err", ev.err)
		return
	}
	e.attachStores(ev.blocks, ev.utxo)
	e.log.Info("block store and UTXO set opened after the first dial", "size_on_disk", ev.blocks.SizeOnDisk(),
		"utxo_best", ev.utxo.Best().Height, "coins", ev.utxo.Stats().Coins, "held_jobs", len(held),
		"assumevalid", e.assumeValid, "signatures", e.connector.scripts.SignatureLibrary())
	e.pipeline.start(e.ctx, &e.wg)
	e.wg.Go(func() { e.connector.run(e.ctx) })
	for _, j := range held {
		e.runJob(j)
	}
}

// noStoreReason says why a reader found no store (what), under blocksMu:
// the node keeps none, it stopped, or a fresh start's stores are still
// opening.
func (e *Engine) noStoreReason(what string) string {
	switch {
	case e.cfg.DataDir == "":
		return "the node keeps no " + what
	case e.blocksClosed:
		return "the node stopped"
	}
	return "the node's stores are still opening"
}
