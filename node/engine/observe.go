package engine

import (
	"fmt"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

// Sizes of the observers' logs.
const (
	messageLogSize = 4096
	eventLogSize   = 512
	// lazySummaryMax is the largest message kept in the log for its
	// summary to be made later, off the engine goroutine; larger ones
	// (blocks, full headers batches) are summarized at once and dropped.
	lazySummaryMax = 64 << 10
)

// MessageRecord is one message in the node's message log.
type MessageRecord struct {
	Time    time.Time
	Peer    PeerID
	Addr    string
	Inbound bool // received (true) or sent
	Command string
	Size    int // bytes on the wire
	summary string
	msg     wire.Message
}

// Summary returns the record's one-line summary. It is computed here, by
// the observer that asks, unless the message was too large to keep.
func (m *MessageRecord) Summary() string {
	if m.summary == "" && m.msg != nil {
		return protocol.Summary(m.msg)
	}
	return m.summary
}

// Event kinds.
const (
	EventConnect    = "connect"
	EventDisconnect = "disconnect"
	EventBan        = "ban"
	EventUnban      = "unban"
	EventReorg      = "reorg"
	EventSync       = "sync"
	EventDiscovery  = "discovery"
	EventCapture    = "capture"
)

// Event is one thing that happened, for the dashboard's recent events.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	Peer PeerID    `json:"peer,omitempty"`
	Addr string    `json:"addr,omitempty"`
	Text string    `json:"text"`
}

// Messages is the log of messages sent and received, for observers.
func (e *Engine) Messages() *Ring[MessageRecord] { return e.msgLog }

// Events is the log of notable events, for observers.
func (e *Engine) Events() *Ring[Event] { return e.eventLog }

func (e *Engine) event(now time.Time, kind string, p *peerState, format string, args ...any) {
	ev := Event{Time: now, Kind: kind, Text: fmt.Sprintf(format, args...)}
	if p != nil {
		ev.Peer, ev.Addr = p.id, p.addr.String()
	}
	e.eventLog.Append(ev)
}

// logMessage records a message sent to or received from p.
// payload, when not nil, is kept within the payload budget for the decoder.
func (e *Engine) logMessage(p *peerState, inbound bool, command string, size int, msg wire.Message, payload []byte, at time.Time) {
	rec := MessageRecord{Time: at, Peer: p.id, Addr: p.addr.String(), Inbound: inbound, Command: command, Size: size}
	if size <= lazySummaryMax {
		rec.msg = msg
	} else if msg != nil {
		rec.summary = protocol.Summary(msg)
	}
	e.payloads.put(e.msgLog.Append(rec), payload)
}

// logInbound records a received message once the engine has handled it.
// A headers message from the fast path carries its content in m.Headers,
// not m.Msg, so its summary is made from that.
func (e *Engine) logInbound(p *peerState, command string, size int, msg wire.Message, payload []byte, headers int, first, last string, at time.Time) {
	if headers > 0 {
		rec := MessageRecord{Time: at, Peer: p.id, Addr: p.addr.String(), Inbound: true, Command: command, Size: size,
			summary: protocol.HeadersSummary(headers, first, last)}
		e.payloads.put(e.msgLog.Append(rec), payload)
		return
	}
	e.logMessage(p, true, command, size, msg, payload, at)
}
