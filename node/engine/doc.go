// Package engine is the single owner of the node's protocol state: the peer
// table, the handshake, request tracking, misbehaviour and bans, the address
// manager and the connection policy.
//
// One goroutine runs the engine (Engine.Run). Connections have their own
// reader and writer goroutines (package peer); they talk to the engine only
// through per-peer bounded queues and an event channel, and everything
// outside the engine refers to a peer by its PeerID, never by pointer.
// Observers (the web layer) read immutable snapshots that the engine
// publishes a few times a second; nothing they do can block it.
//
// The protocol logic is written against small seams rather than sockets and
// clocks: a peer is a pair of queues plus a link that can be closed, and every
// handler takes the current time as an argument. Tests drive the same code
// with in-memory queues and a fake clock, deterministically.
package engine
