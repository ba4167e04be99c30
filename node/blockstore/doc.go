// Package blockstore keeps the node's blocks and undo data in Bitcoin
// Core's on-disk layout under <datadir>/blocks/, so Core's tools and the
// project's decoder read them as they read Core's.
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
package blockstore
