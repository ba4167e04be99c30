package p2p

import (
	"log/slog"
	"time"

	"github.com/watchnode/watchnode/node/addrman"
)

// ActionKind says what an Action asks the shell to do.
type ActionKind uint8

// The actions the core returns.
const (
	// ActSend: queue Frame for Peer (Request is the tracked request it
	// carries, 0 if none).
	ActSend ActionKind = iota + 1
	// ActDrop: close Peer's connection; the core has already forgotten it
	// and recorded Reason.
	ActDrop
	// ActDial: connect to Addr (Manual: an operator's target; V2: try
	// BIP324 first).
	ActDial
	// ActJob: run Job off the core (disk, DNS) and report its result.
	ActJob
	// ActEvent: append Event to the event log.
	ActEvent
	// ActLog: write Log to the node's log.
	ActLog
	// ActStopCaptures: stop recording every connection's messages.
	ActStopCaptures
	// ActPublish: publish a snapshot now rather than at the next tick
	// (something observers wait for happened).
	ActPublish
	// ActLink: keep Link, which joins a request to how it ended, for
	// observers (links.go).
	ActLink
)

// Action is one effect the core asks its shell to carry out. The core
// appends actions as it handles an event; the shell takes them with
// TakeActions and carries them out in order.
type Action struct {
	Kind    ActionKind
	Peer    PeerID
	Frame   *Frame
	Request uint64
	Reason  Reason
	Addr    string
	Manual  bool
	V2      bool // ActDial: start with BIP324's handshake
	Job     Job
	Event   Event
	Log     LogRecord
	Link    Link
}

// LogRecord is a line for the node's log: the core has no logger, it asks
// the shell to write.
type LogRecord struct {
	Level slog.Level
	Msg   string
	Attrs []any
}

// Job is slow work the core hands to the shell: every disk write, DNS
// lookup or file the node needs. Each job type is plain data; the shell
// knows how to run it and reports back through the Core method the job's
// documentation names.
type Job interface{ JobName() string }

// SaveAddrs asks for the address book to be written (encoded off the
// core: a full book takes about 150 ms to encode).
type SaveAddrs struct{ Book *addrman.Snapshot }

// SaveBans asks for the operator's bans to be written.
type SaveBans struct{ Bans []Ban }

// ResolveSeeds asks for the DNS seeds to be resolved; the shell reports
// with SeedsResolved.
type ResolveSeeds struct {
	Hosts []string
	Port  uint16
}

// JobName implements Job.
func (SaveAddrs) JobName() string { return "save-addrs" }

// JobName implements Job.
func (SaveBans) JobName() string { return "save-bans" }

// JobName implements Job.
func (ResolveSeeds) JobName() string { return "resolve-seeds" }

// emit appends an action.
func (c *Core) emit(a Action) { c.actions = append(c.actions, a) }

// SetFlusher registers fn to carry out actions in the middle of an event,
// when the core or a plug-in calls Flush. The shell sets it to the same
// code that carries out TakeActions' actions; fn must not call the core.
func (c *Core) SetFlusher(fn func([]Action)) { c.flusher = fn }

// Flush hands the actions produced so far to the flusher at once, rather
// than when the event ends: header sync asks for the next batch before it
// validates the one it has, and that request must be on its way while the
// validation runs, or pipelining gains nothing. Without a flusher it does
// nothing (the actions wait for TakeActions).
func (c *Core) Flush() {
	if c.flusher == nil || len(c.actions) == 0 {
		return
	}
	a := c.actions
	c.actions = c.actions[:0]
	c.flusher(a)
}

// TakeActions returns the actions produced since the last call, oldest
// first. The slice is reused by the next event: carry them out before
// handing the core another event.
func (c *Core) TakeActions() []Action {
	out := c.actions
	c.actions = c.actions[:0]
	return out
}

// Logf asks the shell to log msg at level with attrs (slog's key-value
// pairs).
func (c *Core) Logf(level slog.Level, msg string, attrs ...any) {
	c.emit(Action{Kind: ActLog, Log: LogRecord{Level: level, Msg: msg, Attrs: attrs}})
}

// Event records a notable event for the dashboard; peer may be 0.
func (c *Core) Event(kind string, peer PeerID, text string) {
	c.peerEvent(kind, c.peers[peer], text)
}

// peerEvent records an event about p (nil for none).
func (c *Core) peerEvent(kind string, p *peerState, text string) {
	ev := Event{Time: c.now, Kind: kind, Text: text}
	if p != nil {
		ev.Peer, ev.Addr = p.id, p.addr.String()
	}
	c.emitEvent(ev)
}

func (c *Core) emitEvent(ev Event) { c.emit(Action{Kind: ActEvent, Event: ev}) }

// PublishSoon asks the shell to publish a snapshot when it has carried out
// this event's actions.
func (c *Core) PublishSoon() { c.emit(Action{Kind: ActPublish}) }

// CountTimeout counts a request that expired unanswered, for metrics (the
// owners of requests that time out report them).
func (c *Core) CountTimeout() { c.requestTimeouts++ }

// StartJob hands job to the shell.
func (c *Core) StartJob(job Job) { c.emit(Action{Kind: ActJob, Job: job}) }

// Now is the time of the event being handled.
func (c *Core) Now() time.Time { return c.now }
