// Package engine is the shell around the node's pure cores: it owns the
// sockets, the goroutines, the files and the clock, feeds events to the
// p2p.Core (with netsync.Sync plugged in) and carries out the actions it
// returns. All protocol decisions are the cores'; the engine only does what
// they decide, and reports back what happened.
//
// # Who owns what
//
//   - The Core owns every peer's protocol state, the request tracker, the
//     bans and the address book; netsync owns the header chain and the
//     block download window. Both are touched only by the engine goroutine.
//   - The block store (node/blockstore, blocks.go) is safe for concurrent
//     use: the block pipeline writes blocks, the connector writes undo
//     data, ReadBlocks jobs and the API read it, the prune lane prunes it.
//     blocksMu only guards its closing (and the UTXO set's) at shutdown
//     against the API's readers.
//   - The UTXO set (node/utxo) is the connector's to write (connector.go);
//     the API reads it (gettxout) under the set's own short lock.
//   - Both stores open on goroutines of their own while the header chain
//     loads (opening.go). A restart waits for them in New, because the
//     core's start depends on what they hold. A fresh start (a header
//     chain of the genesis block alone) does not: its start is known
//     (genesisStart), so the core starts and dials at once, and the stores
//     are attached on the engine goroutine when they open (stores.go).
//     Until then the block jobs the core asks for are held in order, and
//     the API's readers are told the stores are still opening.
//   - The engine owns one connection per admitted peer (connection in
//     conns.go): the socket, its peer.Conn goroutines, the inbound queue
//     (decoded messages, bounded by their cost through a peer.Pool shared
//     by all peers) and the outbound queue (frames; the core keeps the
//     account that bounds it).
//   - Observers (the web layer) get immutable Snapshots, published a few
//     times a second and after every operator command, with an immutable
//     view of the header chain in them; and two logs, the message log
//     (appended by the peers' goroutines) and the event log (appended by
//     the engine goroutine), read by sequence number. A read never reaches
//     the engine goroutine and never publishes.
//
// # Which goroutine runs what
//
//   - The engine goroutine (Run) is the loop: it handles events from its
//     channel (a socket connected or accepted, a dial failed, a writer's
//     progress report, a connection that ended, a job's result, an
//     operator's command), serves the inbound queues round-robin
//     (Core.ServeRound, PerTurn messages a peer at a time), runs the timers
//     every 250 ms (Core.Tick), publishes snapshots, and carries out the
//     cores' actions (apply.go). It never blocks on the network, a disk or
//     an observer.
//   - Each connection's reader goroutine first settles its transport (the
//     engine picks the mode in conns.go: BIP324 for a dial the core marked
//     v2, detection for an inbound socket when -v2transport is on, v1
//     otherwise) and runs a BIP324 handshake, appending the connection's
//     line to the -v2keylog file when there is one (keylog.go). Then it
//     frames, checksums, reserves the message's cost in the inbound bound,
//     decodes and hashes it, logs it and queues it: what it hands over is
//     complete and never written to again. Its writer goroutine drains the outbound queue in batches,
//     logging and stamping each message as its write starts, and reports
//     progress after each write call; the core judges stalls from those
//     reports.
//   - Jobs run the slow work off the loop (jobs.go): header records go to
//     the store's own writer goroutine, in order; address-book and ban
//     saves and pruning run on lanes (one at a time, the newest state
//     replacing one still waiting); DNS lookups, dials and capture-file
//     opens on their own goroutines. Each reports back as an event.
//   - The block pipeline (blocks.go) runs the StoreBlock jobs: one check
//     goroutine per core runs the block rules, one writer appends the
//     blocks that passed and posts their results (evJobsDone: the blocks'
//     memory is free), and syncs the store at most every syncInterval,
//     posting a BlocksSynced after each sync. Each block written is also
//     handed to the connector decoded (handoff.go, bounded).
//   - The block connector (connector.go) is one goroutine: netsync's
//     ConnectBlocks job sets its target (the best header chain up to the
//     last stored block, with a view of the chain), and it disconnects and
//     connects blocks through node/validate until the UTXO set reflects the
//     target, reporting BlocksValidated as it goes and BlockInvalid for a
//     block that breaks a rule. It pipelines: the next block is begun
//     (read, inputs fetched and checked on the pending block's view) while
//     the script workers verify the one before, which is finished (written
//     to the set) only after its scripts pass; at most one block is
//     pending, and a failed one takes the block begun on it along. It syncs the block store before every flush
//     of the set, so the set never reflects a block a crash could lose; it
//     flushes when the cache is full, when pruning waits for it, a second
//     after catching up, and at shutdown. It times each block's stages
//     (read, inputs, scripts, write; connectstats.go, under its own lock,
//     which snapshots take only to copy) and posts a "block connected"
//     event for blocks near the best header. Its read-ahead goroutine
//     (readahead.go, as long-lived as the connector) reads and decodes the
//     stored blocks of the newest target that the handoff does not hold, at
//     most readAheadBlocks above the block the connector asked for last,
//     and puts them in the handoff: the connector reads a block itself only
//     when it gets there first. ReadBlocks jobs (blocks to serve) each
//     run on a goroutine of their own; the core keeps at most a few in
//     flight.
//
// # Stopping
//
// Run returns when its context ends, when a fresh start's stores fail to
// open, or when a header store, block store or UTXO set write fails: the node's state in memory would run ahead of the disk, so it
// stops with an error that says so, as Bitcoin Core stops when it cannot
// write. Either way it drops every peer ("shutdown"), saves the address
// book, waits for every goroutine and job it started (blocks still queued
// in the pipeline are dropped: they were never durable and are fetched
// again), flushes the UTXO set, and closes the stores.
//
// # Adding an effect
//
// A new kind of slow work is a new p2p.Job type (plain data, in the core
// that asks for it) and a case in runJob that does the I/O and posts the
// result as an event, handled in handle (events.go) by calling the core.
package engine
