package peer

import (
	"sync"
	"sync/atomic"
)

// Outbound is one framed message waiting to be written. Frame is shared
// read-only between every peer the message goes to: it is serialized and
// framed once.
type Outbound struct {
	Frame   []byte
	Command string
	// Control messages (verack, pong, ping, ...) are written ahead of bulk
	// data so a peer busy downloading still answers pings in time.
	Control bool
	// Request, when non-zero, identifies a tracked request; the writer
	// reports it through Conn's onWritten callback once its bytes are on the
	// socket, which is when the request's timeout starts.
	Request uint64
	// Written, when not nil, receives the time (Unix nanoseconds) the
	// writer hands the message to the socket. The engine reads it to time a
	// reply that arrives before the OnWritten event has reached it.
	Written *atomic.Int64
}

// OutQueue is a peer's outbound queue, bounded in bytes. The engine pushes;
// the connection's writer goroutine pops. It is safe for concurrent use.
//
// The bound is soft for the engine's own discipline: HasRoom tells producers
// of optional work (serving headers, relaying addresses) to make none, while
// messages the protocol requires (pong, verack) are always accepted. A hard
// limit of twice the soft one catches a producer that ignores HasRoom.
type OutQueue struct {
	mu      sync.Mutex
	control []Outbound
	bulk    []Outbound
	bytes   int
	limit   int
	closed  bool
	ready   chan struct{}
}

// NewOutQueue returns an empty queue whose soft limit is limit bytes.
func NewOutQueue(limit int) *OutQueue {
	return &OutQueue{limit: limit, ready: make(chan struct{}, 1)}
}

// Push appends m and wakes the writer. It returns false, and queues nothing,
// when the queue is closed or when m is bulk data and the queue already holds
// twice its limit.
func (q *OutQueue) Push(m Outbound) bool {
	q.mu.Lock()
	if q.closed || (!m.Control && q.bytes >= 2*q.limit) {
		q.mu.Unlock()
		return false
	}
	if m.Control {
		q.control = append(q.control, m)
	} else {
		q.bulk = append(q.bulk, m)
	}
	q.bytes += len(m.Frame)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// Pop removes and returns the next message, control messages first.
func (q *OutQueue) Pop() (Outbound, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var m Outbound
	switch {
	case len(q.control) > 0:
		m = q.control[0]
		q.control[0] = Outbound{}
		q.control = q.control[1:]
	case len(q.bulk) > 0:
		m = q.bulk[0]
		q.bulk[0] = Outbound{}
		q.bulk = q.bulk[1:]
	default:
		return Outbound{}, false
	}
	q.bytes -= len(m.Frame)
	return m, true
}

// Ready is signalled after a Push; the writer waits on it when Pop finds
// nothing.
func (q *OutQueue) Ready() <-chan struct{} { return q.ready }

// HasRoom reports whether the queue is below its soft limit, i.e. whether
// the engine may make optional work for this peer.
func (q *OutQueue) HasRoom() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.closed && q.bytes < q.limit
}

// Bytes returns the number of queued bytes.
func (q *OutQueue) Bytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// Close discards everything queued and refuses further pushes.
func (q *OutQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.control, q.bulk, q.bytes = nil, nil, 0
}
