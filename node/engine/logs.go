package engine

import (
	"sync"

	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// Sizes of the observers' logs.
const (
	messageLogSize = 4096
	eventLogSize   = 512
	// linkLogSize: a request link names one logged message of its own (the
	// answer, or the request that expired or was released), so a ring as
	// long as the message log keeps the links of the messages still in it.
	// Its 4,096 links of 48 bytes (192 KiB, allocated at start) are the
	// whole cost of the links for all peers (p2p/limits.go).
	linkLogSize = messageLogSize
)

// MessageRecord is one message in the node's message log, with the
// one-line summary its reader (received) or the core (sent) made.
type MessageRecord = peer.Record

// Messages is the log of messages sent and received, for observers. The
// peers' reader and writer goroutines append to it; the engine goroutine
// never touches it.
func (e *Engine) Messages() *Ring[MessageRecord] { return e.msgLog }

// Events is the log of notable events, for observers.
func (e *Engine) Events() *Ring[Event] { return e.eventLog }

// RequestLink joins a logged request to the logged message that answered
// it, or marks it expired or released, by their numbers in the message log
// (see p2p.Link).
type RequestLink = p2p.Link

// Links is the log of request links, for observers: the engine goroutine
// appends what the core emits, after the answer's record is in the message
// log (a link never names a record not yet appended).
func (e *Engine) Links() *Ring[RequestLink] { return e.linkLog }

// recorder is the message log as the connections see it: each record goes
// into the ring and its payload into the payload window.
type recorder struct{ e *Engine }

func (r recorder) Record(rec peer.Record, payload []byte) uint64 {
	seq := r.e.msgLog.Append(rec)
	r.e.payloads.put(seq, rec.Command, payload)
	return seq
}

// payloadBudget bounds the bytes of recent messages the engine keeps so the
// dashboard can open a logged message in the decoder. 4 MiB holds the whole
// 4,096-line log of ordinary traffic (pings, invs, transactions of a few
// hundred bytes), or the last 25 batches of 2,000 headers, or a block;
// older messages keep their log line but lose their bytes. It is small
// because it counts against the node's memory per header during sync (a
// 16 MiB budget measured 165 bytes per header at 1M, over the 150 target).
const payloadBudget = 4 << 20

// payloadOverhead is what one kept payload costs besides its bytes: its
// map entry, its place in the eviction queue, its slice and command
// headers. Counting it keeps a flood of empty messages within the budget.
const payloadOverhead = 128

// payloadStore keeps the payloads of the newest logged messages, by log
// sequence number, within a byte budget, dropping the oldest first. The
// peers' goroutines add; observers read. Payloads are never copied: a
// received payload is a buffer of its own and a sent one is an immutable
// frame. Each entry keeps its own command, so a payload is always framed
// under the command it came with, whatever the log ring has overwritten.
type payloadStore struct {
	mu     sync.Mutex
	budget int
	bytes  int
	bySeq  map[uint64]keptPayload
	order  []uint64 // oldest first; order[head:] are live
	head   int
}

type keptPayload struct {
	command string
	payload []byte
}

func (k keptPayload) cost() int { return len(k.payload) + payloadOverhead }

func newPayloadStore(budget int) *payloadStore {
	return &payloadStore{budget: budget, bySeq: make(map[uint64]keptPayload)}
}

// put keeps payload as message seq's, unless it alone would take more than
// half the budget.
func (s *payloadStore) put(seq uint64, command string, payload []byte) {
	k := keptPayload{command: command, payload: payload}
	if payload == nil || k.cost() > s.budget/2 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bySeq[seq] = k
	s.order = append(s.order, seq)
	s.bytes += k.cost()
	for s.bytes > s.budget {
		old := s.order[s.head]
		s.head++
		s.bytes -= s.bySeq[old].cost()
		delete(s.bySeq, old)
	}
	// Compact the queue once its dead prefix dominates, so it stays
	// proportional to what is kept.
	if s.head > 1024 && s.head > len(s.order)/2 {
		s.order = append(s.order[:0], s.order[s.head:]...)
		s.head = 0
	}
}

func (s *payloadStore) get(seq uint64) (keptPayload, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.bySeq[seq]
	return k, ok
}

// MessageFrame returns logged message seq framed as on the wire (header and
// payload), for the decoder, if its bytes are still kept.
func (e *Engine) MessageFrame(seq uint64) ([]byte, bool) {
	k, ok := e.payloads.get(seq)
	if !ok {
		return nil, false
	}
	frame, err := protocol.AppendFrame(make([]byte, 0, protocol.HeaderSize+len(k.payload)), e.cfg.Network.Magic(), k.command, k.payload)
	return frame, err == nil
}
