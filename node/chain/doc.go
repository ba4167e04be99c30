// Package chain keeps the header tree: the main chain as a flat array
// indexed by height, and the forks near the tip as a small set of nodes. It
// validates every header it accepts with node/consensus, follows the branch
// with the most work (the first seen wins ties), reorganizes cleanly, builds
// locators and answers getheaders.
//
// A Chain is pure: it holds no file, starts no goroutine and takes no lock.
// One goroutine owns it (the core's, the engine goroutine in the node) and
// is the only one to call its methods. What is to be stored comes back from
// New and Accept as Writes, in order, for the owner to hand to the Store.
//
// Other goroutines (the web layer) read the chain through Views: View
// returns an immutable view of the chain as it is at that moment, which may
// be read from any goroutine while the owner goes on accepting headers. A
// View copies only the newest few hundred headers and shares the rest of
// the Chain's arrays, which the Chain never writes in place again (a reorg
// deeper than that moves the main chain to new arrays first); hash lookups
// probe the Chain's append-only index through atomic loads and check every
// candidate against the View's own headers; the forks are a value copy
// shared by Views until they change. See View for the details.
//
// The Store is the shell's part: the main chain on disk, an append-only
// file of checksummed records that survives kill -9 at any moment. Its own
// writer goroutine applies the Writes in the order they were queued and
// fsyncs when it has caught up; the first failure stops it and is reported
// (StoreOptions.OnError, Err, Flush, Close). Only one process opens a store
// for writing (it is locked); ReadStore and OpenReadOnly read it without
// the lock and without changing it, while it is being written, and get the
// main chain as it was at some moment (see Store).
//
// Memory: a main-chain header costs its 80 bytes plus a slot in a hash
// index keyed by the first 8 bytes of its hash (4 bytes a slot, at most
// half full). Hashes are not stored: the hash of header h is the PrevBlock
// of header h+1 (only the tip's is kept). Cumulative work is kept once
// every 64 headers and summed from there.
package chain
