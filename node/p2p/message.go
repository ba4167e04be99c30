package p2p

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// Message is one message from a peer, complete: framed, checksummed,
// decoded and hashed on the peer's reader goroutine before it is handed to
// the core. Nothing writes to it afterwards, so the core and any observer
// may read it without a lock.
type Message struct {
	Command string
	// Msg is the decoded message. For headers it is an empty
	// *wire.MsgHeaders: Headers and Hashes hold the content in compact
	// form, which costs a fifth of wire's representation.
	Msg     wire.Message
	Headers []consensus.Header
	Hashes  []chainhash.Hash // Hashes[i] is the hash of Headers[i]
	// Block is a block message's block with its hash, txids and wtxids,
	// computed on the reader (Msg is then Block.Msg).
	Block *consensus.Block
	// Payload is the message's bytes as received: a buffer of its own,
	// never reused or written to.
	Payload []byte
	// WireSize is the frame's size on the wire, header included.
	WireSize int
	// Cost is the memory this message keeps alive while it waits for the
	// core: its payload, its decoded form and the bookkeeping around them.
	// Inbound queues are bounded by the sum of their messages' costs.
	Cost     int
	Received time.Time
	// Stamps are the requests the peer's writer started writing before
	// this message arrived. They travel with the message so that a reply
	// is never handled before its request is known to be on the wire.
	Stamps []RequestStamp
	// LogSeq is the message's number in the shell's message log, which the
	// reader logged it under before handing it over (0: not logged). A
	// response's link to its request names it by this number.
	LogSeq uint64
}

// messageOverhead is what a queued Message costs beyond its payload and
// decoded content: the Message itself, the queue slot pointing to it and
// the allocator's rounding.
const messageOverhead = 256

// MaxMessageCost is the most memory one message may take decoded: what a
// single message can be admitted with into an empty inbound queue (its
// floor and the whole shared pool). A message that would take more can
// never be queued; its reader fails it before decoding it.
const MaxMessageCost = InQueueFloor + InQueuePool

// ErrTooCostly is wrapped by MessageCost's error for a message that would
// take more than MaxMessageCost decoded. No honest peer sends one.
var ErrTooCostly = errors.New("message too costly to decode")

// PayloadCost is what a message of length payload bytes costs before it is
// decoded: its payload buffer and the bookkeeping. A reader reserves it
// when it has read a frame's header, before reading (and allocating for)
// the payload, then grows the reservation to MessageCost.
func PayloadCost(length int) int { return messageOverhead + length }

// MessageCost returns what a message will cost in memory once decoded
// (its payload, its decoded form, the bookkeeping), computed from the
// bytes without decoding them, so that a reader can reserve it in the
// inbound queue's bound before allocating anything. The error wraps
// protocol.ErrMalformed for a payload Decode would refuse, or ErrTooCostly.
func MessageCost(command string, payload []byte) (int, error) {
	cost := messageOverhead + cap(payload)
	if command == wire.CmdHeaders {
		if n, ok := plainHeadersCount(payload); ok {
			return cost + n*(headerSize+chainhash.HashSize), nil
		}
	}
	decoded, err := protocol.EstimateDecodedSize(command, payload)
	if err != nil {
		return 0, err
	}
	cost += decoded
	if command == wire.CmdBlock {
		// The walk above checked that the transactions the count says are
		// all there, so the count is bounded by the payload; but it
		// accepts an empty payload (wire does not), which has no count.
		if len(payload) < consensus.HeaderSize+1 {
			return 0, fmt.Errorf("%w: block of %d bytes, shorter than a header and a transaction count", protocol.ErrMalformed, len(payload))
		}
		n, err := wire.ReadVarInt(bytes.NewReader(payload[consensus.HeaderSize:]), 0)
		if err != nil {
			return 0, fmt.Errorf("%w: block transaction count: %w", protocol.ErrMalformed, err)
		}
		cost += blockOverhead + int(n)*2*chainhash.HashSize
	}
	if command == wire.CmdHeaders {
		// Wire's form is decoded first, then converted: both are alive for
		// a moment, and the compact form is what stays.
		n := (len(payload) - 1) / 81
		cost += n * (headerSize + chainhash.HashSize)
	}
	if cost > MaxMessageCost {
		return 0, fmt.Errorf("%w: %s of %d bytes would take %d bytes decoded (at most %d)", ErrTooCostly, command, len(payload), cost, MaxMessageCost)
	}
	return cost, nil
}

// DecodeMessage decodes one verified frame's payload into a Message. It is
// the reader goroutine's pure half: every byte of a peer's stream goes
// through it before the core sees anything, and tests drive the core with
// it too, so the core only ever meets what a real reader would hand over.
//
// A headers payload takes a fast path straight into compact headers; every
// other payload (and any headers payload the fast path finds unusual) goes
// to protocol.Decode, whose errors wrap protocol.ErrMalformed.
func DecodeMessage(command string, payload []byte, received time.Time) (*Message, error) {
	cost, err := MessageCost(command, payload)
	if err != nil {
		return nil, err
	}
	return DecodeMessageCosting(command, payload, received, cost, nil)
}

// HashHeaders computes out[i] = hs[i].Hash() for every header: the
// reader's share of header sync, which a shell may spread over several
// goroutines (the core starts none).
type HashHeaders func(hs []consensus.Header, out []chainhash.Hash)

// DecodeMessageCosting is DecodeMessage for a reader that has already
// computed the message's cost with MessageCost (and reserved it). hash,
// when not nil, hashes a headers message's headers; nil hashes them one by
// one here.
func DecodeMessageCosting(command string, payload []byte, received time.Time, cost int, hash HashHeaders) (*Message, error) {
	if hash == nil {
		hash = hashSequentially
	}
	m := &Message{Command: command, Payload: payload, WireSize: protocol.HeaderSize + len(payload), Received: received, Cost: cost}
	if command == wire.CmdHeaders {
		if hs, err := decodeHeaders(payload); err == nil {
			m.Msg, m.Headers = &wire.MsgHeaders{}, hs
			m.Hashes = make([]chainhash.Hash, len(hs))
			hash(hs, m.Hashes)
			return m, nil
		}
	}
	msg, err := protocol.Decode(command, payload)
	if err != nil {
		return nil, err
	}
	m.Msg = msg
	if bm, ok := msg.(*wire.MsgBlock); ok {
		b, err := consensus.NewBlock(bm, payload)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", protocol.ErrMalformed, err)
		}
		m.Block = b
	}
	if hm, ok := msg.(*wire.MsgHeaders); ok {
		m.Headers = make([]consensus.Header, len(hm.Headers))
		for i, w := range hm.Headers {
			m.Headers[i] = consensus.FromWire(w)
		}
		m.Hashes = make([]chainhash.Hash, len(m.Headers))
		hash(m.Headers, m.Hashes)
		// The compact form replaces wire's: only it is kept.
		m.Msg = &wire.MsgHeaders{}
	}
	return m, nil
}

// headerSize is the in-memory size of a consensus.Header.
const headerSize = consensus.HeaderSize

// blockOverhead is what a consensus.Block costs beyond its decoded
// message and its txid and wtxid arrays: the struct and the slices'
// rounding.
const blockOverhead = 256

func hashSequentially(hs []consensus.Header, out []chainhash.Hash) {
	for i := range hs {
		out[i] = hs[i].Hash()
	}
}

// errSlowPath sends a headers payload to wire's decoder, which reports the
// precise error; the fast path only handles well-formed payloads.
var errSlowPath = errors.New("not a plain headers payload")

// plainHeadersCount returns the number of headers in a payload the fast
// path takes (decodeHeaders' shape checks, without parsing the headers).
func plainHeadersCount(payload []byte) (int, bool) {
	if len(payload) == 0 {
		return 0, false
	}
	n, off := uint64(payload[0]), 1
	switch payload[0] {
	case 0xfd:
		if len(payload) < 3 {
			return 0, false
		}
		n, off = uint64(payload[1])|uint64(payload[2])<<8, 3
		if n < 0xfd {
			return 0, false
		}
	case 0xfe, 0xff:
		return 0, false
	}
	if n > wire.MaxBlockHeadersPerMsg || uint64(len(payload)-off) != n*81 {
		return 0, false
	}
	return int(n), true
}

// decodeHeaders parses a headers payload straight into compact headers: a
// CompactSize count of at most 2000, then per header 80 bytes and a zero
// transaction count. It is the hot path of header sync and skips wire's
// per-header allocations; anything unusual goes to wire for the verdict.
func decodeHeaders(payload []byte) ([]consensus.Header, error) {
	n, ok := plainHeadersCount(payload)
	if !ok {
		return nil, errSlowPath
	}
	off := len(payload) - n*81
	headers := make([]consensus.Header, n)
	for i := range headers {
		rec := payload[off : off+81]
		if rec[80] != 0 {
			return nil, errSlowPath
		}
		h, err := consensus.ParseHeader(rec[:80])
		if err != nil {
			return nil, errSlowPath
		}
		headers[i] = h
		off += 81
	}
	return headers, nil
}
