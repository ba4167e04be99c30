package peer

import (
	"runtime"
	"sync"
	"time"

	"github.com/watchnode/watchnode/node/p2p"
)

// Pool is the inbound budget shared by all of an engine's connections, and
// the lock their inbound queues share. Each queue may hold p2p.InQueueFloor
// of message cost on its own; a single message larger than that (a block)
// is admitted into an empty queue only while the pool has room for the part
// above the floor (p2p.AdmitInbound). In all, the inbound queues hold at
// most peers*p2p.InQueueFloor + p2p.InQueuePool.
//
// One mutex and one condition variable serve every queue of the pool: a
// Pop or Close on any queue, or a Resize giving back its charge, may make
// room for a Reserve or Resize waiting on another, so each broadcasts and every waiter
// rechecks its own admission.
type Pool struct {
	mu   sync.Mutex
	cond *sync.Cond
	used int // pool charge held by queued messages, guarded by mu
	// decoding limits how many transactions and blocks are decoded at
	// once: wire lends each such decode a 4 MiB script buffer from a free
	// list that keeps up to 125 of them, so a burst of peers decoding at
	// once would leave hundreds of MiB behind. One decode per core keeps
	// at most that many buffers alive, and costs nothing in speed.
	decoding chan struct{}
}

// NewPool returns an empty pool; an engine makes one.
func NewPool() *Pool {
	p := &Pool{decoding: make(chan struct{}, runtime.GOMAXPROCS(0))}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// decode runs fn holding one of the pool's decode slots.
func (p *Pool) decode(fn func()) {
	p.decoding <- struct{}{}
	defer func() { <-p.decoding }()
	fn()
}

// Used returns how much of the pool queued messages hold.
func (p *Pool) Used() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// InQueue is one connection's queue of decoded messages waiting for the
// engine, bounded by their p2p.Message.Cost. The connection's reader pushes
// and blocks while its message is not admitted, so it stops reading the
// socket and TCP pushes back on that peer alone; the engine pops, never
// blocking. It is safe for concurrent use.
type InQueue struct {
	pool   *Pool
	notify func()

	// Guarded by pool.mu.
	items  []queued
	cost   int // of the queued messages and the reservation
	closed bool
	// A reservation the reader holds for the message it is decoding.
	held       bool
	heldCost   int
	heldCharge int
}

// queued is a message and the pool charge it holds.
type queued struct {
	m      *p2p.Message
	charge int
}

// NewQueue returns an empty inbound queue drawing on p. notify, when not
// nil, is called after every successful Commit (to wake the engine); it
// must not block.
func (p *Pool) NewQueue(notify func()) *InQueue {
	return &InQueue{pool: p, notify: notify}
}

// Reserve waits until a message of cost is admitted (p2p.AdmitInbound)
// and holds its place, so that the reader accounts for a message's memory
// before decoding it; the reader then hands the message over with Commit.
// It returns false, holding nothing, once the queue is closed. One reader
// reserves at a time.
func (q *InQueue) Reserve(cost int) bool {
	p := q.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if q.closed {
			return false
		}
		if charge, ok := p2p.AdmitInbound(q.cost, len(q.items), cost, p.used); ok {
			q.held, q.heldCost, q.heldCharge = true, cost, charge
			q.cost += cost
			p.used += charge
			return true
		}
		p.cond.Wait()
	}
}

// Resize changes the reservation the reader holds to cost, waiting while
// the bound refuses it (a payload's reservation grows to the message's
// decoded cost). It returns false once the queue is closed.
//
// When the new cost is not admitted at once, the reservation is given
// back before waiting and the whole cost is then admitted afresh, as
// Reserve admits it: a reader that waited holding its payload's charge
// could wait forever for room that another reader, waiting the same way,
// holds.
func (q *InQueue) Resize(cost int) bool {
	p := q.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	for released := false; ; {
		if q.closed || !q.held {
			return false
		}
		others, otherPool := q.cost-q.heldCost, p.used-q.heldCharge
		if charge, ok := p2p.AdmitInbound(others, len(q.items), cost, otherPool); ok {
			p.used = otherPool + charge
			q.cost = others + cost
			q.heldCost, q.heldCharge = cost, charge
			return true
		}
		if !released {
			// Still held (Commit needs it), but at no cost.
			released = true
			p.used, q.cost = otherPool, others
			q.heldCost, q.heldCharge = 0, 0
			p.cond.Broadcast()
		}
		p.cond.Wait()
	}
}

// Commit queues m in the place Reserve held for it (m.Cost is the cost
// reserved). Nothing may write to m after it. It reports false when the
// queue was closed meanwhile (the message is dropped).
func (q *InQueue) Commit(m *p2p.Message) bool {
	p := q.pool
	p.mu.Lock()
	if q.closed || !q.held {
		p.mu.Unlock()
		return false
	}
	// The reservation's cost stays in q.cost as the message's: m.Cost is
	// what was reserved.
	q.items = append(q.items, queued{m: m, charge: q.heldCharge})
	q.held, q.heldCost, q.heldCharge = false, 0, 0
	p.mu.Unlock()
	if q.notify != nil {
		q.notify()
	}
	return true
}

// Push is Reserve for m's cost, then Commit: it appends m, waiting while
// the bound refuses it, and returns false once the queue is closed.
func (q *InQueue) Push(m *p2p.Message) bool {
	return q.Reserve(m.Cost) && q.Commit(m)
}

// Pop removes and returns the oldest message without waiting, releasing
// its cost and pool charge.
func (q *InQueue) Pop() (*p2p.Message, bool) {
	p := q.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(q.items) == 0 {
		return nil, false
	}
	it := q.items[0]
	q.items[0] = queued{}
	q.items = q.items[1:]
	q.cost -= it.m.Cost
	p.used -= it.charge
	p.cond.Broadcast()
	return it.m, true
}

// Oldest returns when the message at the head of the queue was received:
// the engine's backlog for request expiry (p2p.Core.Tick).
func (q *InQueue) Oldest() (time.Time, bool) {
	q.pool.mu.Lock()
	defer q.pool.mu.Unlock()
	if len(q.items) == 0 {
		return time.Time{}, false
	}
	return q.items[0].m.Received, true
}

// Len returns the number of queued messages.
func (q *InQueue) Len() int {
	q.pool.mu.Lock()
	defer q.pool.mu.Unlock()
	return len(q.items)
}

// Cost returns the summed cost of the queued messages.
func (q *InQueue) Cost() int {
	q.pool.mu.Lock()
	defer q.pool.mu.Unlock()
	return q.cost
}

// Close discards everything queued, gives its pool charge back and
// releases a blocked Reserve or Resize; later ones fail. It is idempotent.
func (q *InQueue) Close() {
	p := q.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	for _, it := range q.items {
		p.used -= it.charge
	}
	p.used -= q.heldCharge
	q.items, q.cost, q.held, q.heldCost, q.heldCharge = nil, 0, false, 0, 0
	p.cond.Broadcast()
}
