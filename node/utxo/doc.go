// Package utxo is the node's UTXO set and the formats that go with it.
//
// Store (store.go) keeps the unspent outputs in a pebble database under
// Bitcoin Core's chainstate keys ('C', txid, VARINT(vout)) and values
// (Core's Coin serialization, coin.go and compress.go), with a write-back
// cache in front bounded by -dbcache, as Core's CCoinsViewCache over
// CCoinsViewDB. Coins created and spent between two flushes never reach
// the disk. The cache holds no pointer (arena.go keeps its scripts in
// large blocks), so the garbage collector does not scan it. A Flush writes every change, the block the set reflects, the
// coin count and the MuHash accumulator in one synced batch, so the disk
// always holds a set consistent with exactly one block; Close without a
// Flush drops the cache, and the next Open starts from the flushed block.
// The first failed write is kept: every later write is refused, so a set
// the disk could not take is never half kept.
//
// MuHash (muhash.go) is Core's MuHash3072, the set hash of gettxoutsetinfo
// muhash: the flush updates it with the coins it writes and deletes, so
// two nodes with the same set report the same hash whatever their history.
//
// BlockUndo (undo.go) is Core's CBlockUndo, the coins a block's inputs
// spent, as the block store's rev files hold it; VARINT and the amount and
// script compression (varint.go, compress.go) are Core's too, so these
// files read the same as Core's.
//
// Who runs what: node/validate, on the engine's connector goroutine, is the
// only writer of a Store; readers (the API) may call Get and Stats from any
// goroutine. A mutex guards the cache, held for one lookup or update, and
// for the whole of a Flush.
package utxo
