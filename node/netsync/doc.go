// Package netsync is the pure state machine of header sync and block
// download: which peer to download headers from, the pipelined
// getheaders/headers exchange, presync of low-work chains, stalls, tip
// checks of every other peer, serving getheaders, announcing new tips, and
// the block download window over every peer, connecting blocks in order
// and serving them.
//
// # Place in the node
//
// A Sync is plugged into a p2p.Core (it implements p2p.Sync) and runs only
// inside the Core's handling of an event, on the Core's goroutine. It
// imports neither net, os nor sync and never reads the clock: the time is
// Core.Now(). It owns the header chain (*chain.Chain), which it validates
// and extends with every headers message; the chain returns the disk
// writes each change needs, and Sync hands them to the shell as
// StoreHeaders jobs, in order. Observers read the chain through
// immutable views (chain.View) taken in Snapshot.
//
// # Per peer
//
// Sync keeps a syncPeer for every established peer (created by
// PeerEstablished, forgotten by PeerDropped): the highest of our
// main-chain headers the peer is known to have, the tip we announced to
// it, whether we asked it for its tip, its run of unconnecting headers
// messages. It never holds a peer's state past PeerDropped, and
// CheckInvariants says so.
//
// # The sync
//
// With no sync peer and a peer announcing more than we have, Sync picks
// one (outbound first, highest announced height) and asks it for headers
// from our locator; each full batch is answered by asking for the next
// before validating this one (pipelining). Below the network's minimum
// chain work the headers go through a Presync first and nothing is stored
// until the chain proves its work. A short batch ends the sync: we are
// caught up, and ask every other peer for its tip, so no single peer
// decides our chain. Each getheaders has its timeout (headersTimeoutBase
// plus headersTimeoutPerHeader for each header expected), and
// the whole sync its deadline (synctimeout.go, Core's
// HEADERS_DOWNLOAD_TIMEOUT): Tick drops a sync peer past it, when another
// outbound peer can take over, until our best header is under a day old.
//
// # Blocks (window.go, blocks.go, blockserve.go)
//
// A Sync made with a BlockStart (what the block store held at start)
// downloads, connects and serves blocks; one made without keeps headers
// only.
//
// blockWindow is the scheduler, as Bitcoin Core's: the blocks of the best
// header chain from the last connected one up to BlockDownloadWindow past
// it, each asked of one peer at a time and at most MaxBlocksInFlightPerPeer
// per peer; a global index says which peer was asked for which block, when
// and why; a notfound sends the block to another peer; the peer holding
// the window's first block while the rest is done is dropped as a staller
// after an adaptive timeout, and a peer whose oldest block is late beyond
// BlockTimeoutBase plus BlockTimeoutPerPeer for every other downloading
// peer is dropped too. It bounds block memory: blocks pending plus blocks
// in flight at the mean block cost stay under MaxBlockBytesPending.
//
// requestBlocks (after new headers, a block, a drop, and every tick) asks
// each block peer with room, outbound peers first, for its next blocks in
// one getdata, tracked by the core. The header sync peer is asked for none
// until its headers caught up (headers first; requestBlocks says why). A block answering our request goes to
// a StoreBlock job (the rules run there, off the core); its BlockStored
// result comes back through JobDone once the block is written (its memory
// is free then), and a BlocksSynced once the store made it durable: a
// durable block joins the stored set and connectBlocks moves the last
// connected block over every stored block that follows it on the best
// chain; a mutated block drops its peer only; a block that broke a rule
// is marked failed, and the chain's Invalidate makes the header chain
// leave it. A
// reorg of the header chain below the last connected block moves it back
// to the fork point.
//
// Full validation (BlockStart.Validate, connect.go): "stored" and
// "connected" come apart. A written block joins the stored set at once
// (BlockStored; the shell's connector reads written blocks and syncs the
// store before it flushes the UTXO set past them), and whenever the
// stored run grows or a reorg moves it, askConnect hands the connector a
// ConnectBlocks target (the best chain up to the last stored block, with
// a view of the header chain). Its BlocksValidated reports move the
// validated height, which is what the window, serving, announcements and
// pruning go by (tip), as Core's active chain; a BlockInvalid marks the
// block failed as a block-rule failure does. InvalidateBlock and
// ReconsiderBlock (operator.go) are Core's invalidateblock and
// reconsiderblock.
//
// Serving: a getdata's block items that we have connected go to the
// peer's serveQueue and are read in batches, one job per peer at a time
// (ReadBlocks jobs, their BlockRead results through JobDone), the next
// when the core reports the peer's send queue has room again (Writable);
// everything else is answered with notfound.
//
// Watching (timeline.go, watch.go): every block's life is kept in a
// timeline (who announced it, whom we asked and why, how each request
// ended, when it was received, stored, validated and connected) for the
// last MaxTimelines blocks begun, copied on write so a snapshot shares
// them; the snapshot also carries the window cell by cell, the last
// stalls with what came of them, and each peer's bytes, delivery time and
// busy time. A header accepted on the best chain asks for its block at
// once (Core's direct fetch), not at the next tick.
//
// Every piece of block state is bounded (the window by its size and the
// per-peer limit, pending memory by MaxBlockBytesPending, serve queues by
// maxServeQueue, reads by maxServeReads, failures by maxFailed, timelines
// by MaxTimelines, stalls by maxStallRecords), forgotten with its peer,
// and checked by CheckInvariants.
package netsync
