// Package chain keeps the header tree: the main chain as a flat array
// indexed by height, and the forks near the tip as a small set of nodes. It
// validates every header it accepts with node/consensus, follows the branch
// with the most work (the first seen wins ties), reorganizes cleanly, builds
// locators and answers getheaders, and persists the main chain in an
// append-only store that survives kill -9 at any moment.
//
// Memory: a main-chain header costs its 80 bytes plus a slot in a hash
// index keyed by the first 8 bytes of its hash. Hashes are not stored: the
// hash of header h is the PrevBlock of header h+1 (only the tip's is kept).
// Cumulative work is kept once every 64 headers and summed from there.
//
// A Chain is not safe for concurrent use: the engine goroutine owns it.
package chain
