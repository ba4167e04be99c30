package engine

import (
	"sync"

	"github.com/watchnode/watchnode/node/protocol"
)

// payloadBudget bounds the bytes of recent messages the engine keeps so the
// dashboard can open a logged message in the decoder. 4 MiB holds the whole
// 4,096-line log of ordinary traffic (pings, invs, transactions of a few
// hundred bytes), or the last 25 batches of 2,000 headers, or a block;
// older messages keep their log line but lose their bytes. It is small
// because it counts against the node's memory per header during sync (a
// 16 MiB budget measured 165 bytes per header at 1M, over the 150 target).
const payloadBudget = 4 << 20

// payloadStore keeps the payloads of the newest logged messages, by log
// sequence number, within a byte budget, dropping the oldest first. The
// engine goroutine adds; observers read. Payloads are never copied: a
// received payload is a buffer of its own and a sent one is an immutable
// frame.
type payloadStore struct {
	mu     sync.Mutex
	budget int
	bytes  int
	bySeq  map[uint64][]byte
	order  []uint64 // oldest first; order[head:] are live
	head   int
}

func newPayloadStore(budget int) *payloadStore {
	return &payloadStore{budget: budget, bySeq: make(map[uint64][]byte)}
}

// put keeps payload as message seq's, unless it alone would take more than
// half the budget.
func (s *payloadStore) put(seq uint64, payload []byte) {
	if payload == nil || len(payload) > s.budget/2 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bySeq[seq] = payload
	s.order = append(s.order, seq)
	s.bytes += len(payload)
	for s.bytes > s.budget {
		old := s.order[s.head]
		s.head++
		s.bytes -= len(s.bySeq[old])
		delete(s.bySeq, old)
	}
	// Compact the queue once its dead prefix dominates, so it stays
	// proportional to what is kept.
	if s.head > 1024 && s.head > len(s.order)/2 {
		s.order = append(s.order[:0], s.order[s.head:]...)
		s.head = 0
	}
}

func (s *payloadStore) get(seq uint64) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bySeq[seq]
	return b, ok
}

// MessageFrame returns logged message seq framed as on the wire (header and
// payload), for the decoder, if its bytes are still kept.
func (e *Engine) MessageFrame(seq uint64) ([]byte, bool) {
	payload, ok := e.payloads.get(seq)
	if !ok {
		return nil, false
	}
	_, recs, _ := e.msgLog.Since(seq-1, 1)
	if len(recs) != 1 {
		return nil, false
	}
	frame, err := protocol.AppendFrame(make([]byte, 0, protocol.HeaderSize+len(payload)), e.magic, recs[0].Command, payload)
	return frame, err == nil
}
