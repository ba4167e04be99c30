// Package p2p is the pure state machine of the node's peer-to-peer side:
// the peer table, the version handshake, pings, request tracking,
// misbehaviour and bans, the connection policy (outbound slots, the
// operator's targets, inbound eviction) and address gossip.
//
// # Sans I/O
//
// A Core does no I/O. It has no goroutines, locks, clock, files or
// sockets (a test holds it to that: the package imports neither net, os
// nor sync, and never calls time.Now). It takes events and returns
// actions:
//
//   - Events are method calls, each with the time as an argument:
//     Connected (the shell opened or accepted a socket), ServeRound (the
//     core takes the messages the peers' readers decoded from their
//     inbound queues, round-robin; Message hands in one directly, for
//     tests and benchmarks), Written (a peer's writer drained some of its
//     queue), Closed (a socket ended on its own), DialFailed,
//     SeedsResolved, Tick (timers), and the operator's commands (Connect,
//     Disconnect, Ban, Unban, SetCapture).
//   - Actions come out of TakeActions: send a frame to a peer, drop a peer,
//     dial an address, run a job (save the address book or the bans,
//     resolve DNS seeds, store headers), append an event, write a log line.
//
// The shell (package engine) owns the sockets and goroutines and carries
// the actions out; a simulator (internal/sim) drives the same Core over
// in-memory links with a fake clock, deterministically.
//
// # Who owns what
//
// The Core owns every peer's protocol state (peerState), keyed by a PeerID
// that is never reused: everything outside refers to a peer by its ID, and
// a lookup of a dropped peer simply misses. The shell owns the bytes: each
// connection's inbound queue of decoded messages and outbound queue of
// frames. The Core keeps an account of each outbound queue (bytes and
// messages queued, progress reported by the writer) and decides from it:
// HasRoom (make optional work?), paused (serve the peer's messages?), and
// the send-stall rule. The inbound queues' bound is AdmitInbound, applied
// by the shell's reader; ServeRound pulls messages from them round-robin.
//
// # One goroutine
//
// Exactly one goroutine calls a Core at a time: the engine's loop, or the
// simulator. Sync (package netsync, plugged in through the Sync interface)
// runs inside the Core's handling of an event and calls back into it
// (Send, SendFrame, Request, Drop, StartJob, Event, Logf); those
// calls emit actions into the same list. A request's Done callback also
// runs inside the event that ended the request.
//
// # Adding a message handler
//
// A message the Core handles itself (handshake, pings, addresses) gets a
// case in handleMessage (dispatch.go); everything else falls through to
// Sync.Message. If the message answers a request, add it to responseTo
// (requests.go) so it is matched; if it is only legitimate as an answer,
// add it to penalizedUnsolicited. Do the work with the time from c.now,
// send with c.send or c.request, and drop a misbehaving peer with
// c.drop(p, Violation(...)) — the one path for every reason, which keeps
// the first reason given.
//
// # Bounds
//
// limits.go states what a peer can make the node keep; CheckInvariants
// verifies the bookkeeping and the bounds, and the simulator runs it after
// every step.
package p2p
