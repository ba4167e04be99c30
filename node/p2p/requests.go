package p2p

import (
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

// RequestDone is told how a request ended. It is how an expired or
// released request gets back to whoever made it (the ping timer, header
// sync) so it can retry elsewhere or drop the peer. It runs inside the
// core's handling of the event that ended the request.
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
	Written time.Time // zero until the writer reports it started writing it
	Timeout time.Duration
	Done    RequestDone
	// LogSeq is the request's number in the shell's message log, from its
	// stamp (0 until stamped, or when the shell keeps no log): the links
	// that say how the request ended name it by this number.
	LogSeq uint64
}

// RequestStamp is the writer's word that it started writing request ID at
// At. The writer reports stamps before the bytes reach the socket, so a
// reply can never be handled before its request's stamp.
type RequestStamp struct {
	ID uint64
	At time.Time
	// LogSeq is the request's number in the message log, which the writer
	// logs it under as it starts writing it (0: no log).
	LogSeq uint64
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

// match finds the request m answers and removes it when it is fully
// answered. Pongs match by nonce; headers and addr answer the oldest
// outstanding getheaders/getaddr; block and notfound answer getdata items by
// hash. It returns nil for an unsolicited message.
func (rs *requests) match(m *Message) *Request {
	want, ok := responseTo[m.Command]
	if !ok {
		return nil
	}
	for i, r := range *rs {
		if r.Command != want {
			continue
		}
		switch msg := m.Msg.(type) {
		case *wire.MsgPong:
			if r.Nonce != msg.Nonce {
				continue
			}
		case *wire.MsgBlock:
			// The reader hashed the block; a Message made otherwise
			// (a test's) is hashed here.
			h := blockHash(m, msg)
			if !r.Items[h] {
				continue
			}
			delete(r.Items, h)
			if len(r.Items) > 0 {
				return r
			}
		case *wire.MsgNotFound:
			hit := false
			for _, iv := range msg.InvList {
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

// expire removes and returns the requests whose time ran out by now. A
// request whose answer may be waiting in our own inbound queue is not the
// peer's fault: when the peer has messages queued that it sent before a
// request's deadline (backlog is the oldest one's receive time), that
// request waits until they are handled, as btcd's deadlineOffset keeps
// its own processing time out of the peer's deadlines.
func (rs *requests) expire(now time.Time, backlog time.Time) []*Request {
	var out []*Request
	kept := (*rs)[:0]
	for _, r := range *rs {
		if !r.Written.IsZero() {
			at := r.Written.Add(r.Timeout)
			if !now.Before(at) && (backlog.IsZero() || backlog.After(at)) {
				out = append(out, r)
				continue
			}
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

// blockHash is the hash of a block message's block.
func blockHash(m *Message, msg *wire.MsgBlock) chainhash.Hash {
	if m.Block != nil {
		return m.Block.Hash
	}
	return msg.BlockHash()
}
