package p2p

import "time"

// Link joins a tracked request to how it ended, by the numbers the shell's
// message log gave the messages (Request.LogSeq, Message.LogSeq), so that
// an observer can draw a peer's conversation with each answer tied to its
// question: a ping to its pong, a getheaders to its headers, a getdata to
// each block or notfound that answers part of it, a getaddr to its addr.
//
// The core matches a response after the reader has logged it, and the log's
// records are immutable once appended, so links travel apart from the
// records: the core emits each one as an ActLink action and the shell keeps
// the newest in a bounded ring (limits.go). A request with no link yet is
// pending.
type Link struct {
	Peer PeerID
	// Request is the request's log number.
	Request uint64
	// Response is the answer's log number when Outcome is Answered (0 for
	// a message handed in unlogged, as tests may do), else 0.
	Response uint64
	Outcome  Outcome
	// Done says the request is over: no later link names it. A getdata
	// answered item by item gets a link per answer, the last one Done; a
	// ping, getheaders or getaddr gets one link.
	Done bool
	// RoundTrip runs from the start of the request's write to the answer's
	// arrival (Answered) or to the tick that expired it (Expired); 0 for
	// a request released with its peer.
	RoundTrip time.Duration
}

// linkAnswer emits the link from r to m, which the tracker just matched to
// it (match has already removed the items m answers).
func (c *Core) linkAnswer(r *Request, m *Message) {
	if r.LogSeq == 0 {
		return // not logged: there is nothing to link
	}
	c.emit(Action{Kind: ActLink, Peer: r.Peer, Link: Link{
		Peer: r.Peer, Request: r.LogSeq, Response: m.LogSeq, Outcome: Answered,
		Done: len(r.Items) == 0, RoundTrip: m.Received.Sub(r.Written),
	}})
}

// linkEnd emits the link that closes r, which ended unanswered (expired or
// released). A request that was never written (so never logged) has no
// row to mark, and gets no link.
func (c *Core) linkEnd(r *Request, o Outcome) {
	if r.LogSeq == 0 {
		return
	}
	l := Link{Peer: r.Peer, Request: r.LogSeq, Outcome: o, Done: true}
	if o == Expired {
		// Tick has the time; a drop may come from an operator's command,
		// which has none.
		l.RoundTrip = c.now.Sub(r.Written)
	}
	c.emit(Action{Kind: ActLink, Peer: r.Peer, Link: l})
}
