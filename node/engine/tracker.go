package engine

import (
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Outcome says how a tracked request ended.
type Outcome int

// How a request ends: answered by the peer, expired unanswered, or released
// because the peer was dropped.
const (
	Answered Outcome = iota
	Expired
	Released
)

func (o Outcome) String() string {
	switch o {
	case Answered:
		return "answered"
	case Expired:
		return "expired"
	}
	return "released"
}

// RequestDone is told, on the engine goroutine, how a request ended. It is
// how an expired or released request gets back to whoever made it (the ping
// timer, header sync) so it can retry elsewhere or drop the peer.
type RequestDone func(r *Request, outcome Outcome)

// Request is a message sent to a peer that expects an answer.
type Request struct {
	ID      uint64
	Peer    PeerID
	Command string // ping, getheaders, getaddr, getdata
	Nonce   uint64 // ping
	// Items still unanswered (getdata): each block/notfound answers some.
	Items   map[chainhash.Hash]bool
	Queued  time.Time
	Written time.Time // zero until the engine learns the writer put it on the socket
	Timeout time.Duration
	Done    RequestDone
	// wrote is set by the writer goroutine itself (Unix nanoseconds), so a
	// reply that overtakes the "written" event is still timed right.
	wrote atomic.Int64
}

// WrittenAt returns when the request went out on the socket, or zero.
func (r *Request) WrittenAt() time.Time {
	if !r.Written.IsZero() {
		return r.Written
	}
	if n := r.wrote.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// expiresAt is when an unanswered request gives up; the clock starts when the
// request is written, so time spent queued behind our own data is not the
// peer's fault.
func (r *Request) expiresAt() (time.Time, bool) {
	w := r.WrittenAt()
	if w.IsZero() {
		return time.Time{}, false
	}
	return w.Add(r.Timeout), true
}

// responseTo names the request command each response command answers.
var responseTo = map[string]string{
	wire.CmdPong:     wire.CmdPing,
	wire.CmdHeaders:  wire.CmdGetHeaders,
	wire.CmdAddr:     wire.CmdGetAddr,
	wire.CmdAddrV2:   wire.CmdGetAddr,
	wire.CmdBlock:    wire.CmdGetData,
	wire.CmdNotFound: wire.CmdGetData,
}

// IsTrackedResponse reports whether command can answer a tracked request.
func IsTrackedResponse(command string) bool {
	_, ok := responseTo[command]
	return ok
}

// requests is one peer's list of tracked requests, oldest first.
type requests []*Request

// match finds the request msg answers and removes it when it is fully
// answered. Pongs match by nonce; headers and addr answer the oldest
// outstanding getheaders/getaddr; block and notfound answer getdata items by
// hash. It returns nil for an unsolicited message.
func (rs *requests) match(msg wire.Message) *Request {
	want, ok := responseTo[msg.Command()]
	if !ok {
		return nil
	}
	for i, r := range *rs {
		if r.Command != want {
			continue
		}
		switch m := msg.(type) {
		case *wire.MsgPong:
			if r.Nonce != m.Nonce {
				continue
			}
		case *wire.MsgBlock:
			h := m.BlockHash()
			if !r.Items[h] {
				continue
			}
			delete(r.Items, h)
			if len(r.Items) > 0 {
				return r
			}
		case *wire.MsgNotFound:
			hit := false
			for _, iv := range m.InvList {
				if r.Items[iv.Hash] {
					delete(r.Items, iv.Hash)
					hit = true
				}
			}
			if !hit {
				continue
			}
			if len(r.Items) > 0 {
				return r
			}
		}
		rs.remove(i)
		return r
	}
	return nil
}

func (rs *requests) remove(i int) {
	s := *rs
	copy(s[i:], s[i+1:])
	s[len(s)-1] = nil
	*rs = s[:len(s)-1]
}

// byID returns the request with id.
func (rs requests) byID(id uint64) *Request {
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// expire removes and returns the requests whose time ran out by now.
func (rs *requests) expire(now time.Time) []*Request {
	var out []*Request
	kept := (*rs)[:0]
	for _, r := range *rs {
		if at, ok := r.expiresAt(); ok && !now.Before(at) {
			out = append(out, r)
			continue
		}
		kept = append(kept, r)
	}
	clear((*rs)[len(kept):])
	*rs = kept
	return out
}

// outstanding reports whether a request with command is in flight.
func (rs requests) outstanding(command string) bool {
	for _, r := range rs {
		if r.Command == command {
			return true
		}
	}
	return false
}
