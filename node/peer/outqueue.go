package peer

import (
	"sync"

	"github.com/watchnode/watchnode/node/p2p"
)

// Outbound is one framed message waiting to be written. The Frame is
// shared read-only by every queue it goes to: it is serialized, framed and
// summarized once, by the core.
type Outbound struct {
	Frame *p2p.Frame
	// Request is the id of the tracked request the frame carries, 0 if
	// none. The writer stamps it when it starts writing the frame.
	Request uint64
}

// OutQueue is one connection's queue of frames to write: two FIFOs, control
// frames (Frame.Control: handshake, pings, pongs, getheaders) written ahead
// of bulk ones, so a peer busy downloading still answers pings in time. The
// engine pushes; the connection's writer pops. It is safe for concurrent
// use.
//
// The queue has no limit of its own: the core keeps an account of every
// frame it queues for a peer, and bounds it (p2p.OutQueueLimit).
type OutQueue struct {
	mu      sync.Mutex
	control []Outbound
	bulk    []Outbound
	closed  bool
	ready   chan struct{}
}

// NewOutQueue returns an empty queue.
func NewOutQueue() *OutQueue {
	return &OutQueue{ready: make(chan struct{}, 1)}
}

// Push appends m and wakes the writer. It returns false, queueing nothing,
// only once the queue is closed.
func (q *OutQueue) Push(m Outbound) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if m.Frame.Control {
		q.control = append(q.control, m)
	} else {
		q.bulk = append(q.bulk, m)
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// PopBatch removes frames in writing order (control first, then bulk, each
// in the order pushed) and appends them to dst, while their summed length
// stays within maxBytes; the first frame is taken whatever its size, so a
// batch holds at least one frame whenever the queue is not empty. It stops
// at the first frame that does not fit: no frame overtakes another of its
// class, and no bulk frame a control one.
func (q *OutQueue) PopBatch(dst []Outbound, maxBytes int) []Outbound {
	q.mu.Lock()
	defer q.mu.Unlock()
	total, first := 0, len(dst)
	take := func(fifo *[]Outbound) bool {
		s := *fifo
		i := 0
		for ; i < len(s); i++ {
			n := len(s[i].Frame.Bytes)
			if len(dst) > first && total+n > maxBytes {
				break
			}
			total += n
			dst = append(dst, s[i])
			s[i] = Outbound{}
		}
		*fifo = s[i:]
		return i == len(s)
	}
	if take(&q.control) {
		take(&q.bulk)
	}
	return dst
}

// Ready is signalled after a Push; the writer waits on it when PopBatch
// finds nothing.
func (q *OutQueue) Ready() <-chan struct{} { return q.ready }

// Len returns the number of queued frames.
func (q *OutQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.control) + len(q.bulk)
}

// Close discards everything queued and refuses further pushes. It is
// idempotent.
func (q *OutQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.control, q.bulk = nil, nil
}
