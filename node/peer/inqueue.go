package peer

import (
	"sync"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// Inbound is one decoded message waiting for the engine.
type Inbound struct {
	Msg      wire.Message
	Command  string
	Size     int // bytes on the wire, header included
	Received time.Time
	// Payload is the message's bytes as received (a buffer of its own,
	// never reused), kept by the engine's message log for the decoder.
	Payload []byte
	// For a headers message: the headers in compact form and their hashes,
	// computed on the reader goroutine so the engine only validates. Msg is
	// then an empty *wire.MsgHeaders: Headers holds the content.
	//
	// The reader hands the message over as soon as it has hashed the last
	// header (the engine's next getheaders needs only that one) and hashes
	// the rest while the engine sends that request; Hashed, when not nil,
	// is closed once HeaderHashes is complete.
	Headers      []consensus.Header
	HeaderHashes []chainhash.Hash
	Hashed       chan struct{}
}

// InQueue is a peer's inbound queue, bounded in bytes. The reader goroutine
// pushes and blocks while the queue is full, so it stops reading the socket
// and TCP pushes back on that peer alone; the engine pops from every peer's
// queue in turn. It is safe for concurrent use.
type InQueue struct {
	mu     sync.Mutex
	space  *sync.Cond
	items  []Inbound
	bytes  int
	limit  int
	closed bool
	notify func()
}

// NewInQueue returns an empty queue holding at most limit bytes (a single
// message larger than limit is still accepted into an empty queue). notify is
// called after every push, to wake the engine; it must not block.
func NewInQueue(limit int, notify func()) *InQueue {
	q := &InQueue{limit: limit, notify: notify}
	q.space = sync.NewCond(&q.mu)
	return q
}

// Push appends m, waiting while the queue is full. It returns false when the
// queue has been closed.
func (q *InQueue) Push(m Inbound) bool {
	q.mu.Lock()
	for !q.closed && len(q.items) > 0 && q.bytes+m.Size > q.limit {
		q.space.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, m)
	q.bytes += m.Size
	q.mu.Unlock()
	if q.notify != nil {
		q.notify()
	}
	return true
}

// Pop removes and returns the oldest message without waiting.
func (q *InQueue) Pop() (Inbound, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return Inbound{}, false
	}
	m := q.items[0]
	q.items[0] = Inbound{}
	q.items = q.items[1:]
	q.bytes -= m.Size
	q.space.Broadcast()
	return m, true
}

// Len returns the number of queued messages.
func (q *InQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Bytes returns the number of queued bytes.
func (q *InQueue) Bytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// Close discards the queue and releases a blocked Push.
func (q *InQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.items, q.bytes = nil, 0
	q.space.Broadcast()
}
