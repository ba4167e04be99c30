// Package netsync is the pure state machine of header sync (and, next,
// the block download window): which peer to download headers from, the
// pipelined getheaders/headers exchange, presync of low-work chains,
// stalls, tip checks of every other peer, serving getheaders, and
// announcing new tips.
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
// decides our chain.
//
// # The block download window (window.go)
//
// blockWindow is the scheduler block download is built on, as Bitcoin
// Core's: the blocks of the best header chain from the last connected one
// up to BlockDownloadWindow past it, each asked of one peer at a time and
// at most MaxBlocksInFlightPerPeer per peer; a global index says which peer
// was asked for which block, when and why; a notfound sends the block to
// another peer; the peer holding the window's first block while the rest
// is done is dropped as a staller after an adaptive timeout, and a peer
// whose oldest block is late beyond BlockTimeoutBase plus BlockTimeoutPerPeer
// for every other downloading peer is dropped too. It is pure and tested
// on its own (window_test.go); Sync does not drive it yet: the node still
// stops at headers until block storage and the reader's block decoding are
// wired in.
package netsync
