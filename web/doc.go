// Package web serves the node to people and programs: the dashboard pages
// (templ), the JSON API under /api/, the Prometheus metrics, the decoder's
// WebAssembly and the live WebSocket feed. It only reads the engine's
// published snapshots and immutable chain views and calls its thread-safe
// methods, so nothing a client does can block the engine.
//
// Who runs what:
//
//   - net/http's goroutines accept connections. Static files and the feed
//     are served on them directly; every page and API call is handed to the
//     Server's workerPool (workers.go): half the cores, at most 4, as Core's
//     RPC threads, each locked to an OS thread at a low scheduling
//     priority (nice 10) and resting after each call as long as it worked,
//     on a timerfd read through the network poller, not a Go timer
//     (rest_linux.go says why). A flood of calls then takes the CPU the node
//     leaves idle and at most half of a worker's time.
//   - The Hub's Run goroutine ticks a few times a second: it reads the newest
//     snapshot, computes each client's deltas, samples and log lines, and
//     wakes the clients' writers. Each WebSocket client has a writer and a
//     reader goroutine and a bounded backlog: state coalesces (latest wins),
//     log lines beyond the bound are dropped and counted, and a client whose
//     socket accepts nothing for 10 s is closed; none can hold the hub.
//   - Mutating calls (connect, disconnect, ban, invalidate) need the token
//     and reach the engine through its command methods, which run a closure
//     on the engine goroutine and wait for its answer or the request's end.
//
// To add an API call: a handler method on Server that reads a snapshot (or
// calls one engine method), registered in New's mux; it runs on a worker,
// so it may take its time, but it must not hold anything the engine waits
// for.
package web
