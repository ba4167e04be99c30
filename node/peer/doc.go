// Package peer is the socket side of one connection to a Bitcoin peer: a
// reader goroutine that frames, checksums and decodes what arrives, a writer
// goroutine that drains the connection's outbound queue, and the bounded
// queues and counters they share with the engine.
//
// The package holds no protocol state: the handshake, request tracking and
// every decision about the peer belong to the engine. That keeps the work
// that needs no shared state (framing, hashing, decoding) on the peer's own
// goroutines, in parallel, and the engine free of locks.
package peer
