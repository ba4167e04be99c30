package peer

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// guard is how long a test waits for something that should happen at once.
const guard = 5 * time.Second

func bulk(cmd string, n int) Outbound { return Outbound{Frame: make([]byte, n), Command: cmd} }
func control(cmd string, n int) Outbound {
	return Outbound{Frame: make([]byte, n), Command: cmd, Control: true}
}

func popAll(q *OutQueue) []string {
	var out []string
	for {
		m, ok := q.Pop()
		if !ok {
			return out
		}
		out = append(out, m.Command)
	}
}

func TestOutQueueControlBeforeBulk(t *testing.T) {
	q := NewOutQueue(1000)
	q.Push(bulk("headers1", 10))
	q.Push(control("pong1", 10))
	q.Push(bulk("headers2", 10))
	q.Push(control("pong2", 10))
	if q.Bytes() != 40 {
		t.Errorf("Bytes = %d, want 40", q.Bytes())
	}
	got := popAll(q)
	want := []string{"pong1", "pong2", "headers1", "headers2"}
	if len(got) != len(want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("popped %v, want %v", got, want)
		}
	}
	if q.Bytes() != 0 {
		t.Errorf("Bytes after draining = %d", q.Bytes())
	}
}

func TestOutQueueHardLimit(t *testing.T) {
	q := NewOutQueue(100)
	if !q.Push(bulk("a", 150)) {
		t.Fatal("first bulk refused")
	}
	// Past the soft limit, below the hard one: still accepted.
	if !q.Push(bulk("b", 60)) {
		t.Fatal("bulk below the hard limit refused")
	}
	if q.Push(bulk("c", 1)) {
		t.Fatal("bulk accepted at twice the limit")
	}
	if !q.Push(control("pong", 32)) {
		t.Fatal("control refused past the hard limit")
	}
	if q.Bytes() != 242 {
		t.Errorf("Bytes = %d, want 242 (the refused push must not count)", q.Bytes())
	}
	if got := popAll(q); len(got) != 3 || got[0] != "pong" {
		t.Errorf("popped %v", got)
	}
}

func TestOutQueueHasRoom(t *testing.T) {
	q := NewOutQueue(100)
	if !q.HasRoom() {
		t.Fatal("empty queue has no room")
	}
	q.Push(bulk("a", 99))
	if !q.HasRoom() {
		t.Fatal("no room below the limit")
	}
	q.Push(control("b", 1))
	if q.HasRoom() {
		t.Fatal("room at the limit")
	}
	q.Pop()
	if !q.HasRoom() {
		t.Fatal("no room after a pop")
	}
	q.Close()
	if q.HasRoom() {
		t.Fatal("closed queue has room")
	}
}

func TestOutQueueReady(t *testing.T) {
	q := NewOutQueue(100)
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
	q := NewOutQueue(100)
	q.Push(bulk("a", 10))
	q.Push(control("b", 10))
	q.Close()
	if _, ok := q.Pop(); ok {
		t.Error("pop after close returned a message")
	}
	if q.Bytes() != 0 {
		t.Errorf("Bytes after close = %d", q.Bytes())
	}
	if q.Push(control("c", 1)) || q.Push(bulk("d", 1)) {
		t.Error("push accepted after close")
	}
	q.Close() // idempotent
}

func TestInQueueFIFOAndAccounting(t *testing.T) {
	notified := 0
	q := NewInQueue(100, func() { notified++ })
	q.Push(Inbound{Command: "a", Size: 10})
	q.Push(Inbound{Command: "b", Size: 20})
	if q.Len() != 2 || q.Bytes() != 30 || notified != 2 {
		t.Fatalf("Len %d Bytes %d notified %d", q.Len(), q.Bytes(), notified)
	}
	for _, want := range []string{"a", "b"} {
		m, ok := q.Pop()
		if !ok || m.Command != want {
			t.Fatalf("popped %q %v, want %q", m.Command, ok, want)
		}
	}
	if _, ok := q.Pop(); ok || q.Bytes() != 0 {
		t.Fatal("queue not empty")
	}
	// One message larger than the limit still fits an empty queue.
	done := make(chan bool, 1)
	go func() { done <- q.Push(Inbound{Command: "block", Size: 1000}) }()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("oversized message refused")
		}
	case <-time.After(guard):
		t.Fatal("oversized message blocked on an empty queue")
	}
}

func TestInQueuePushBlocksWhenFull(t *testing.T) {
	q := NewInQueue(100, nil)
	q.Push(Inbound{Command: "a", Size: 60})
	started := make(chan struct{})
	done := make(chan bool, 1)
	go func() {
		close(started)
		done <- q.Push(Inbound{Command: "b", Size: 60})
	}()
	<-started
	// The push must not complete while the queue is full. A short wait is
	// enough to catch a queue that does not block at all.
	select {
	case <-done:
		t.Fatal("push into a full queue did not block")
	case <-time.After(20 * time.Millisecond):
	}
	if m, ok := q.Pop(); !ok || m.Command != "a" {
		t.Fatal("pop failed")
	}
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("blocked push failed after room was made")
		}
	case <-time.After(guard):
		t.Fatal("blocked push not released by Pop")
	}
	if m, _ := q.Pop(); m.Command != "b" {
		t.Errorf("popped %q, want b", m.Command)
	}
}

func TestInQueueCloseReleasesPush(t *testing.T) {
	q := NewInQueue(10, nil)
	q.Push(Inbound{Size: 10})
	done := make(chan bool, 1)
	go func() { done <- q.Push(Inbound{Size: 10}) }()
	q.Close()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("push into a closed queue succeeded")
		}
	case <-time.After(guard):
		t.Fatal("Close did not release the blocked push")
	}
	if q.Len() != 0 || q.Bytes() != 0 {
		t.Error("closed queue not discarded")
	}
	if q.Push(Inbound{Size: 1}) {
		t.Error("push after close succeeded")
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
	sent.ByCommand["ping"] = CommandTraffic{}
	if again, _ := s.Snapshot(); again.ByCommand["ping"].Messages != 2 {
		t.Error("snapshot shares its map with the counters")
	}
	if CounterKey("headers") != "headers" {
		t.Error("known command folded")
	}
}
