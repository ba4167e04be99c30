package peer

import (
	"testing"
	"time"

	"github.com/watchnode/watchnode/node/p2p"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// guard is how long a test waits for something that should happen at once.
const guard = 5 * time.Second

// settle is how long a test waits to see that something does not happen.
const settle = 20 * time.Millisecond

func testFrame(cmd string, n int, ctl bool) *p2p.Frame {
	return &p2p.Frame{Bytes: make([]byte, n), Command: cmd, Control: ctl}
}
func bulk(cmd string, n int) Outbound    { return Outbound{Frame: testFrame(cmd, n, false)} }
func control(cmd string, n int) Outbound { return Outbound{Frame: testFrame(cmd, n, true)} }

func commands(batch []Outbound) []string {
	var out []string
	for _, o := range batch {
		out = append(out, o.Frame.Command)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOutQueueControlBeforeBulk(t *testing.T) {
	q := NewOutQueue()
	q.Push(bulk("headers1", 10))
	q.Push(control("pong1", 10))
	q.Push(bulk("headers2", 10))
	q.Push(control("pong2", 10))
	if q.Len() != 4 {
		t.Errorf("Len = %d, want 4", q.Len())
	}
	got := commands(q.PopBatch(nil, 1<<20))
	if want := []string{"pong1", "pong2", "headers1", "headers2"}; !equal(got, want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	if q.Len() != 0 || len(q.PopBatch(nil, 1<<20)) != 0 {
		t.Error("queue not empty after draining")
	}
}

func TestOutQueuePopBatchLimit(t *testing.T) {
	q := NewOutQueue()
	q.Push(control("ping", 40))
	q.Push(bulk("a", 50))
	q.Push(bulk("b", 20))
	q.Push(bulk("huge", 500))
	q.Push(bulk("c", 10))
	q.Push(control("pong", 40))
	for _, want := range [][]string{
		{"ping", "pong"}, // a would make 130
		{"a", "b"},       // huge does not fit, and c may not overtake it
		{"huge"},         // larger than the limit: alone
		{"c"},
		nil,
	} {
		if got := commands(q.PopBatch(nil, 100)); !equal(got, want) {
			t.Fatalf("batch %v, want %v", got, want)
		}
	}
	// Control and bulk share a batch when both fit; a batch appends to dst.
	q.Push(bulk("y", 10))
	q.Push(control("x", 10))
	dst := []Outbound{bulk("already", 1)}
	if got := commands(q.PopBatch(dst, 100)); !equal(got, []string{"already", "x", "y"}) {
		t.Errorf("PopBatch onto dst: %v", got)
	}
}

func TestOutQueueReady(t *testing.T) {
	q := NewOutQueue()
	select {
	case <-q.Ready():
		t.Fatal("ready before any push")
	default:
	}
	q.Push(bulk("a", 1))
	q.Push(bulk("b", 1)) // coalesced, never blocks
	select {
	case <-q.Ready():
	default:
		t.Fatal("not ready after a push")
	}
}

func TestOutQueueClose(t *testing.T) {
	q := NewOutQueue()
	q.Push(bulk("a", 10))
	q.Push(control("b", 10))
	q.Close()
	if got := q.PopBatch(nil, 1<<20); len(got) != 0 || q.Len() != 0 {
		t.Errorf("after Close: popped %v, Len %d", commands(got), q.Len())
	}
	if q.Push(control("c", 1)) || q.Push(bulk("d", 1)) {
		t.Error("push accepted after close")
	}
	q.Close() // idempotent
}

// msg is a queued message of the given cost.
func msg(cmd string, cost int) *p2p.Message { return &p2p.Message{Command: cmd, Cost: cost} }

// pushAsync pushes m on its own goroutine; the channel says how it ended.
func pushAsync(q *InQueue, m *p2p.Message) <-chan bool {
	done := make(chan bool, 1)
	go func() { done <- q.Push(m) }()
	return done
}

func blocked(t *testing.T, done <-chan bool, what string) {
	t.Helper()
	select {
	case ok := <-done:
		t.Fatalf("%s: push returned %v, want it blocked", what, ok)
	case <-time.After(settle):
	}
}

func released(t *testing.T, done <-chan bool, want bool, what string) {
	t.Helper()
	select {
	case ok := <-done:
		if ok != want {
			t.Fatalf("%s: push returned %v, want %v", what, ok, want)
		}
	case <-time.After(guard):
		t.Fatalf("%s: push still blocked", what)
	}
}

func TestInQueueFIFOAndAccounting(t *testing.T) {
	notified := 0
	q := NewPool().NewQueue(func() { notified++ })
	if _, ok := q.Oldest(); ok {
		t.Error("empty queue has an oldest message")
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := msg("a", 100), msg("b", 200)
	a.Received, b.Received = t0, t0.Add(time.Second)
	q.Push(a)
	q.Push(b)
	if q.Len() != 2 || q.Cost() != 300 || notified != 2 {
		t.Fatalf("Len %d Cost %d notified %d", q.Len(), q.Cost(), notified)
	}
	if at, ok := q.Oldest(); !ok || !at.Equal(t0) {
		t.Errorf("Oldest = %v %v, want %v", at, ok, t0)
	}
	if m, ok := q.Pop(); !ok || m != a {
		t.Fatal("first pop is not a")
	}
	if at, _ := q.Oldest(); !at.Equal(t0.Add(time.Second)) {
		t.Errorf("Oldest after a pop = %v", at)
	}
	if m, ok := q.Pop(); !ok || m != b {
		t.Fatal("second pop is not b")
	}
	if _, ok := q.Pop(); ok || q.Cost() != 0 || q.Len() != 0 {
		t.Fatal("queue not empty")
	}
}

func TestInQueueFloor(t *testing.T) {
	pool := NewPool()
	q := pool.NewQueue(nil)
	// Up to the floor, by cost, not count.
	q.Push(msg("a", p2p.InQueueFloor/2))
	q.Push(msg("b", p2p.InQueueFloor/2))
	if pool.Used() != 0 {
		t.Errorf("messages within the floor took %d of the pool", pool.Used())
	}
	done := pushAsync(q, msg("c", 1))
	blocked(t, done, "past the floor")
	q.Pop()
	released(t, done, true, "after a pop")
	if q.Cost() != p2p.InQueueFloor/2+1 || pool.Used() != 0 {
		t.Errorf("Cost %d, pool %d", q.Cost(), pool.Used())
	}
}

func TestInQueueBigMessageUsesPool(t *testing.T) {
	pool := NewPool()
	q := pool.NewQueue(nil)
	big := msg("block", p2p.InQueueFloor+1000)
	// Into an empty queue with pool room: admitted, charging the excess.
	released(t, pushAsync(q, big), true, "big message into an empty queue")
	if pool.Used() != 1000 || q.Cost() != big.Cost {
		t.Fatalf("pool %d, cost %d", pool.Used(), q.Cost())
	}
	// Nothing joins it, however small.
	done := pushAsync(q, msg("ping", 1))
	blocked(t, done, "behind a big message")
	if m, _ := q.Pop(); m != big {
		t.Fatal("popped something else")
	}
	released(t, done, true, "after the big message was popped")
	if pool.Used() != 0 {
		t.Errorf("pool charge not given back: %d", pool.Used())
	}
	// Into a non-empty queue a big message waits for it to empty.
	done = pushAsync(q, msg("block2", p2p.InQueueFloor+1))
	blocked(t, done, "big message into a non-empty queue")
	q.Pop()
	released(t, done, true, "big message after the queue emptied")
}

func TestInQueuePoolExhaustion(t *testing.T) {
	pool := NewPool()
	a, b := pool.NewQueue(nil), pool.NewQueue(nil)
	// a's block takes the whole pool.
	if !a.Push(msg("block", p2p.InQueueFloor+p2p.InQueuePool)) {
		t.Fatal("push refused")
	}
	if pool.Used() != p2p.InQueuePool {
		t.Fatalf("pool %d", pool.Used())
	}
	// b may still fill its floor, but not take from the pool.
	if !b.Push(msg("small", p2p.InQueueFloor)) {
		t.Fatal("push refused")
	}
	b.Pop()
	done := pushAsync(b, msg("block", p2p.InQueueFloor+1))
	blocked(t, done, "pool exhausted")
	// Another queue's Pop gives the charge back and wakes b.
	a.Pop()
	released(t, done, true, "after the other queue's pop")
	if pool.Used() != 1 {
		t.Errorf("pool %d, want 1", pool.Used())
	}
}

func TestInQueueCloseReleasesPush(t *testing.T) {
	pool := NewPool()
	a, b := pool.NewQueue(nil), pool.NewQueue(nil)
	a.Push(msg("block", p2p.InQueueFloor+p2p.InQueuePool))
	onA := pushAsync(a, msg("ping", 1))
	onB := pushAsync(b, msg("block", p2p.InQueueFloor+10))
	blocked(t, onA, "behind a big message")
	blocked(t, onB, "pool exhausted")
	a.Close()
	released(t, onA, false, "after Close")
	// Close gave a's charge back, which lets b's block in.
	released(t, onB, true, "after the other queue closed")
	if pool.Used() != 10 {
		t.Errorf("pool %d, want 10", pool.Used())
	}
	if a.Len() != 0 || a.Cost() != 0 {
		t.Error("closed queue not discarded")
	}
	if a.Push(msg("x", 1)) {
		t.Error("push after close succeeded")
	}
	if _, ok := a.Pop(); ok {
		t.Error("pop after close returned a message")
	}
	a.Close() // idempotent
	b.Close()
	if pool.Used() != 0 {
		t.Errorf("pool %d after every queue closed", pool.Used())
	}
}

func TestStats(t *testing.T) {
	var s Stats
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.AddSent("ping", 32, at)
	s.AddSent("ping", 32, at.Add(time.Second))
	s.AddRecv(CounterKey("madeup"), 24, at)
	sent, recv := s.Snapshot()
	if sent.Bytes != 64 || sent.Messages != 2 || sent.ByCommand["ping"].Messages != 2 || !sent.Last.Equal(at.Add(time.Second)) {
		t.Errorf("sent %+v", sent)
	}
	if recv.ByCommand[OtherCommand].Bytes != 24 {
		t.Errorf("unknown command not folded: %+v", recv.ByCommand)
	}
	// Snapshots are copies.
	sent.ByCommand["ping"] = p2p.CommandTraffic{}
	if again, _ := s.Snapshot(); again.ByCommand["ping"].Messages != 2 {
		t.Error("snapshot shares its map with the counters")
	}
	if CounterKey("headers") != "headers" {
		t.Error("known command folded")
	}
}

// Two readers whose reservations grow past what the pool has left for
// both must not each wait, holding their payload's charge, for room the
// other holds: one is admitted, and the other once the first is popped.
func TestInQueueResizeGivesBackWhileWaiting(t *testing.T) {
	pool := NewPool()
	a, b := pool.NewQueue(nil), pool.NewQueue(nil)
	payload, decoded := p2p.PayloadCost(4_000_000), 30<<20
	if !a.Reserve(payload) || !b.Reserve(payload) {
		t.Fatal("reserve refused")
	}
	resize := func(q *InQueue) <-chan bool {
		done := make(chan bool, 1)
		go func() { done <- q.Resize(decoded) && q.Commit(msg("block", decoded)) }()
		return done
	}
	onA, onB := resize(a), resize(b)
	var second <-chan bool
	var firstQ *InQueue
	select {
	case ok := <-onA:
		second, firstQ = onB, a
		if !ok {
			t.Fatal("a's resize failed")
		}
	case ok := <-onB:
		second, firstQ = onA, b
		if !ok {
			t.Fatal("b's resize failed")
		}
	case <-time.After(guard):
		t.Fatal("both resizes still blocked: the pool locked up")
	}
	blocked(t, second, "the other resize, pool exhausted")
	if want := decoded - p2p.InQueueFloor; pool.Used() != want {
		t.Errorf("pool %d while one waits, want %d", pool.Used(), want)
	}
	firstQ.Pop()
	released(t, second, true, "after the first block was popped")
	a.Close()
	b.Close()
	if pool.Used() != 0 {
		t.Errorf("pool %d after every queue closed", pool.Used())
	}
}
