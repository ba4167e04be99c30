// Package blockstore keeps the node's blocks in Bitcoin Core's on-disk
// layout under <datadir>/blocks/, so Core's tools and the project's decoder
// read them as they read Core's: blocks, their undo data and pruning. The
// engine writes it from its block pipeline (checked blocks, then one Sync
// per batch), reads it for peers and the API, and prunes it in the
// background. Per-block status (connected, failed) is not kept here: the
// node derives it at start from the header chain (a stored block of the
// best chain was checked before it was written) and keeps failures in
// memory.
//
// # Files
//
// scan.go holds ScanBlockFile, the parser of Core-format block files that
// someone hands us (import-blocks, Core's -loadblock, bootstrap.dat). Every
// byte of such a file is untrusted: a wrong magic, a size of 0 or above
// wire.MaxBlockPayload, or a truncated record is an error naming its
// offset, never a panic; the zero padding Core leaves between and after
// records (it preallocates files in 16 MiB chunks) is skipped. It is
// fuzzed (FuzzScanBlockFile) and tested on btcd's real file of the first
// 14,132 mainnet blocks.
//
// ScanBlockFile keeps no state: any goroutine may call it.
//
// store.go holds the Store: blkNNNNN.dat files of records (magic, size as
// uint32 little-endian, block), a new file begun when the next record would
// pass Options.MaxFileSize (Core's 128 MiB by default), and an index in
// pebble under blocks/index/. index.go holds its keys and encodings: per
// block (hash -> height, file, offset, size, and the undo record's offset
// and size once it has one), per file (records, blk and rev bytes used,
// lowest and highest height of its blocks as Core's nHeightFirst and
// nHeightLast, pruned flag), per file the list of its blocks (so pruning a
// file finds its entries without walking the chain), the last file
// number, the prune height and the format version. Format 2 is current; an
// index of format 1 (before undo and pruning) is upgraded in place at Open,
// by one walk of the block entries.
//
// undo.go holds WriteUndo and ReadUndo: revNNNNN.dat beside each
// blkNNNNN.dat holds the undo data of the blocks in it, in Core's records
// (magic, size, data, then a 32-byte checksum: SHA256d of the parent
// block's hash and the data, as Core's UndoWriteToDisk). The parent's hash
// is read from the stored block's header, so callers name only the block.
// Rev files have no size limit (Core's neither): a block's undo data goes
// with its block, whichever blk file that is.
//
// prune.go holds Prune: while the blk and rev bytes are above a target, the
// oldest pair whose blocks are all below the caller's keepFrom is deleted
// (never the file being written), as Core's FindFilesToPrune does. The
// store keeps no trace of a pruned block but the prune height (no
// tombstone per hash), so ReadBlock says ErrNotFound; ReadBlockAt, given
// the height from the caller's headers, says ErrPruned for a missing block
// at or below it.
//
// Why pebble and not a hand-written log: it gives atomic batches behind a
// synced write-ahead log, point lookups without holding 900,000 entries in
// memory, and ordered iteration, and the UTXO set will use it too; a
// hand-written log would have to reinvent compaction and recovery.
//
// Crash safety: block and undo bytes are appended (pwrite at the file's
// recorded end) and fsynced, with the directory, before the index batch
// that points at them is committed with pebble.Sync. So a committed entry
// never points at missing or torn data, and anything in a blk or rev file
// past its recorded "bytes used" is the tail of a write the index never
// committed: Open cuts it off (logged at INFO) and deletes files beyond the
// last file number. A file shorter than the index says cannot come from a
// crash (its bytes were durable before the index said so); it is outside
// damage and Open reports it as ErrCorrupt naming the file rather than
// guess. Prune commits first (the staged writes, then one synced batch
// removing the pruned pairs' block entries and marking the pairs pruned)
// and deletes the files after: a crash in between leaves files of pairs
// the index calls pruned, and Open deletes them. crash_test.go kills a
// writing child 20 times; TestPruneCrash kills one that writes blocks and
// undo data and prunes, with the window between Prune's commit and its
// deletes widened so kills land in it.
//
// Concurrency: every method is safe for concurrent use (the engine calls it
// from job goroutines). Writers (WriteBlock, WriteUndo, Sync, Prune, Close)
// are serialized by one lock; readers (ReadBlock, ReadBlockAt, ReadUndo,
// Has, Lookup, Entries, SizeOnDisk, HavePruned, PruneHeight) take only a
// short lock on the in-memory state, so they do not wait for a write's
// disk I/O. WriteBlock and WriteUndo stage their entry; Sync commits every
// staged entry in one synced batch. Readers in this process see staged
// entries too (the bytes are already in the file, and validation reads a
// block right after storing it); Entries walks only committed ones. A
// reader racing Prune gets the data (a file open before its deletion still
// reads) or ErrNotFound.
package blockstore
