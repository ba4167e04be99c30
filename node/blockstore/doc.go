// Package blockstore keeps the node's blocks in Bitcoin Core's on-disk
// layout under <datadir>/blocks/, so Core's tools and the project's decoder
// read them as they read Core's. Not built yet: undo files (revNNNNN.dat),
// pruning and per-block status flags; the node does not use the store yet.
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
// pebble under blocks/index/: per block (hash -> file, offset, size,
// height), per file (records, bytes used) and the last file number.
//
// Why pebble and not a hand-written log: it gives atomic batches behind a
// synced write-ahead log, point lookups without holding 900,000 entries in
// memory, and ordered iteration, and the UTXO set will use it too; a
// hand-written log would have to reinvent compaction and recovery.
//
// Crash safety: block bytes are appended (pwrite at the file's recorded
// end) and fsynced, with the directory, before the index batch that points
// at them is committed with pebble.Sync. So a committed entry never points
// at missing or torn data, and anything in a file past its recorded "bytes
// used" is the tail of a write the index never committed: Open cuts it off
// (logged at INFO) and deletes files beyond the last file number. A file
// shorter than the index says cannot come from a crash (its bytes were
// durable before the index said so); it is outside damage and Open reports
// it as ErrCorrupt naming the file rather than guess.
//
// Concurrency: every method is safe for concurrent use (the engine calls it
// from job goroutines). Writers (WriteBlock, Sync, Close) are serialized by
// one lock; readers (ReadBlock, Has, Lookup, Entries, SizeOnDisk) take only
// a short lock on the in-memory state, so they do not wait for a write's
// disk I/O. WriteBlock stages its entry; Sync commits every staged entry
// in one synced batch. Readers in this process see staged entries too (the
// bytes are already in the file, and validation reads a block right after
// storing it); Entries walks only committed ones.
package blockstore
