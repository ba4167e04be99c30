package peer

import (
	"maps"
	"sync"
	"time"

	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// OtherCommand is the counter key for commands the node does not know.
// Bitcoin Core folds them the same way: a peer inventing commands must not
// grow the counter maps without bound.
const OtherCommand = "*other*"

// Traffic counts one direction of a connection.
type Traffic struct {
	Bytes    uint64
	Messages uint64
	// ByCommand maps a command (as CounterKey folds it) to its bytes and
	// message count.
	ByCommand map[string]p2p.CommandTraffic
	Last      time.Time
}

// Stats holds a connection's traffic counters. The reader and writer
// goroutines update them; the engine copies them into snapshots. It is safe
// for concurrent use.
type Stats struct {
	mu   sync.Mutex
	sent Traffic
	recv Traffic
}

// CounterKey returns the key command is counted under.
func CounterKey(command string) string {
	if protocol.KnownCommand(command) {
		return command
	}
	return OtherCommand
}

// AddSent counts a message written to the socket.
func (s *Stats) AddSent(command string, size int, at time.Time) {
	s.mu.Lock()
	add(&s.sent, command, size, at)
	s.mu.Unlock()
}

// addSentBatch counts the messages of a completed write, each its size on
// the wire.
func (s *Stats) addSentBatch(batch []Outbound, sizes []int, at time.Time) {
	s.mu.Lock()
	for i, o := range batch {
		add(&s.sent, CounterKey(o.Frame.Command), sizes[i], at)
	}
	s.mu.Unlock()
}

// addRaw counts bytes that carry no message (BIP324's keys, garbage,
// terminators, version packets and decoys) in a direction's total only.
func (s *Stats) addRaw(t *Traffic, n int) {
	s.mu.Lock()
	t.Bytes += uint64(n)
	s.mu.Unlock()
}

// AddRecv counts a message read from the socket.
func (s *Stats) AddRecv(command string, size int, at time.Time) {
	s.mu.Lock()
	add(&s.recv, command, size, at)
	s.mu.Unlock()
}

func add(t *Traffic, command string, size int, at time.Time) {
	if t.ByCommand == nil {
		t.ByCommand = make(map[string]p2p.CommandTraffic)
	}
	t.Bytes += uint64(size)
	t.Messages++
	c := t.ByCommand[command]
	c.Bytes += uint64(size)
	c.Messages++
	t.ByCommand[command] = c
	t.Last = at
}

// Snapshot returns copies of the sent and received counters.
func (s *Stats) Snapshot() (sent, recv Traffic) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sent, recv = s.sent, s.recv
	sent.ByCommand = maps.Clone(s.sent.ByCommand)
	recv.ByCommand = maps.Clone(s.recv.ByCommand)
	return sent, recv
}
