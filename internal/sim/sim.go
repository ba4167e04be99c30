// Package sim is a deterministic simulator of the node's pure cores: it
// runs several nodes' p2p.Core and netsync.Sync, connected by in-memory
// links, with scripted peers that send whatever a test (or a hostile peer)
// wants, on a fake clock.
//
// Nothing runs concurrently and nothing is random but the Sim's own
// seeded source, so a run replays exactly from its seed. Every byte still
// goes the way it goes in the node: what reaches a node is framed and
// decoded with the functions node/peer's reader calls, in its order
// (protocol.ReadFrameHeader, p2p.PayloadCost reserved, then
// protocol.ReadFramePayload, p2p.MessageCost and p2p.DecodeMessageCosting);
// the inbound queue bound is p2p.AdmitInbound; the writer reports progress
// and request stamps exactly when the node's writer would. A scripted
// remote decodes what the node sent with protocol.ReadFrame and
// protocol.Decode.
//
// Tests drive it step by step (a remote sends, the node serves, the remote
// reads what it was sent) or let it run (Run advances the clock, ticking
// every node and delivering every link).
package sim

import (
	"container/heap"
	"math/rand/v2"
	"net/netip"
	"time"
)

// TickInterval is how often Run ticks each node, as the engine's ticker.
const TickInterval = 250 * time.Millisecond

// Start is the simulated clock's first instant.
var Start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Sim is one simulated world.
type Sim struct {
	now     time.Time
	rng     *rand.Rand
	nodes   []*Node
	remotes []*Remote
	byAddr  map[netip.AddrPort]*Node // listening nodes
	queue   eventQueue
	seq     uint64
	nextIP  int
	// Latency is the one-way delay of every link (0: delivered at once).
	Latency time.Duration
	// Check, when set, is called after every step with the invariants'
	// verdict (see CheckInvariants).
	Check func(error)
}

// New returns an empty world whose randomness comes from seed.
func New(seed uint64) *Sim {
	return &Sim{now: Start, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), byAddr: make(map[netip.AddrPort]*Node)}
}

// Now returns the simulated time.
func (s *Sim) Now() time.Time { return s.now }

// Rand returns the world's random source, for tests that make up traffic.
func (s *Sim) Rand() *rand.Rand { return s.rng }

// Advance moves the clock by d without ticking anyone; events scheduled
// before the new time are delivered in order.
func (s *Sim) Advance(d time.Duration) time.Time {
	s.runUntil(s.now.Add(d), false)
	return s.now
}

// Skip moves the clock by d as if every node were busy meanwhile: nothing
// is delivered or served (what is queued stays queued).
func (s *Sim) Skip(d time.Duration) time.Time {
	s.now = s.now.Add(d)
	return s.now
}

// Run lets the world run for d: every node ticks every TickInterval, links
// deliver, and every node serves its inbound queues.
func (s *Sim) Run(d time.Duration) {
	s.runUntil(s.now.Add(d), true)
}

func (s *Sim) runUntil(end time.Time, ticking bool) {
	nextTick := s.now.Add(TickInterval)
	for {
		s.Settle()
		at, ok := s.queue.next()
		if ticking && (!ok || nextTick.Before(at)) && !nextTick.After(end) {
			s.now = nextTick
			for _, n := range s.nodes {
				n.Tick()
			}
			nextTick = nextTick.Add(TickInterval)
			continue
		}
		if !ok || at.After(end) {
			break
		}
		s.now = at
		s.pop().fn()
	}
	s.now = end
	s.Settle()
}

// Settle delivers what is due now and serves every node until nothing
// moves at this instant.
func (s *Sim) Settle() {
	for i := 0; ; i++ {
		moved := false
		for at, ok := s.queue.next(); ok && !at.After(s.now); at, ok = s.queue.next() {
			s.pop().fn()
			moved = true
		}
		for _, n := range s.nodes {
			if n.transfer() {
				moved = true
			}
			for n.ServeRound() {
				moved = true
			}
		}
		s.check()
		if !moved {
			return
		}
		if i > 1_000_000 {
			panic("sim: the world does not settle")
		}
	}
}

func (s *Sim) check() {
	if s.Check == nil {
		return
	}
	s.Check(s.CheckInvariants())
}

// after schedules fn at now+d.
func (s *Sim) after(d time.Duration, fn func()) {
	s.seq++
	heap.Push(&s.queue, &event{at: s.now.Add(d), seq: s.seq, fn: fn})
}

func (s *Sim) pop() *event { return heap.Pop(&s.queue).(*event) }

// newAddr returns a fresh address for a node or a remote.
func (s *Sim) newAddr() netip.AddrPort {
	s.nextIP++
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(s.nextIP >> 8), byte(s.nextIP), 1}), 18444)
}

type event struct {
	at  time.Time
	seq uint64
	fn  func()
}

// eventQueue orders events by time, then by scheduling order.
type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

func (q eventQueue) next() (time.Time, bool) {
	if len(q) == 0 {
		return time.Time{}, false
	}
	return q[0].at, true
}
