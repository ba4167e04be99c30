package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/inspect"
	"github.com/watchnode/watchnode/node/protocol"
)

// FrameSummary describes one framed P2P message found in the input, or the
// point where reading the input had to stop. It is the JSON the page renders,
// so field names are snake_case like the node's JSON API.
//
// A summary is either a frame (Error empty: every field but Error is set,
// with DecodeError instead of MessageType when the payload did not decode) or
// the final entry of the list (Error set: only Offset, Network and Error mean
// anything, because the header could not be trusted or was not there).
type FrameSummary struct {
	// Offset is where the frame's header starts in the input, so the page can
	// point at the bytes in question.
	Offset int `json:"offset"`
	// Network is the network whose magic opens the input (e.g. "mainnet").
	Network string `json:"network,omitempty"`
	// Command is the frame's command field without its NUL padding.
	Command string `json:"command,omitempty"`
	// PayloadLength is the payload's length in bytes, header excluded.
	PayloadLength int `json:"payload_length"`
	// Checksum is the header's checksum in hex, as it appears on the wire;
	// ReadFrame has already verified it against the payload.
	Checksum string `json:"checksum,omitempty"`
	// Known says whether the node decodes this command; unknown commands are
	// not errors (Bitcoin Core ignores them too) and decode to a raw payload.
	Known bool `json:"known"`
	// MessageType is the Go type the payload decoded to, e.g.
	// "*wire.MsgVersion", or "*protocol.MsgUnknown" for unknown commands.
	MessageType string `json:"message_type,omitempty"`
	// DecodeError is why a well-framed payload did not decode. It does not
	// stop the list: the frame's length is trustworthy, so the next frame
	// starts where this one ends.
	DecodeError string `json:"decode_error,omitempty"`
	// Error is why reading stopped here: unknown magic or a framing error.
	Error string `json:"error,omitempty"`
	// Time is when the message was captured (capture files only).
	Time string `json:"time,omitempty"`
	// Decoded is the payload's field tree (node/inspect): every field with
	// its name, type, value and byte offset within the payload.
	Decoded *inspect.Message `json:"decoded,omitempty"`
}

// decodeFrames reads data as concatenated framed P2P messages, the way a
// peer's byte stream arrives, and summarizes each frame. The network is taken
// from the first frame's magic so users need not say which network they
// captured; every later frame must carry the same magic, as on a real
// connection.
//
// It never panics and always returns a non-nil slice, so the JSON is a list
// ("[]" for empty input) the page can iterate without special cases.
func decodeFrames(data []byte) []FrameSummary {
	out := []FrameSummary{}
	if len(data) == 0 {
		return out
	}
	if len(data) < 4 {
		return append(out, FrameSummary{Error: fmt.Sprintf(
			"input is %d bytes, too short for the 4-byte network magic", len(data))})
	}
	magic := wire.BitcoinNet(binary.LittleEndian.Uint32(data[:4]))
	network, ok := protocol.NetworkByMagic(magic)
	if !ok {
		// Not framed traffic: perhaps a Bitcoin Core -capturemessages file
		// (or the node's own capture, written in the same format).
		if recs, err := inspect.ReadCoreCapture(data); len(recs) > 0 {
			return captureSummaries(recs, err)
		}
		// Name the bytes as they appear in the input (f9beb4d9 for mainnet),
		// which is what the user can find in their hex dump.
		return append(out, FrameSummary{Error: fmt.Sprintf(
			"unknown network magic %s (first 4 bytes); want one of %s",
			hex.EncodeToString(data[:4]), knownMagics())})
	}

	r := bytes.NewReader(data)
	for {
		offset := len(data) - r.Len()
		frame, err := protocol.ReadFrame(r, network.Magic())
		if errors.Is(err, io.EOF) {
			// A clean end between frames; a cut inside a frame is
			// io.ErrUnexpectedEOF, which errors.Is does not equate with EOF.
			return out
		}
		if err != nil {
			// After a bad header or checksum nothing says where the next frame
			// starts, and guessing could show the user frames that are not
			// there, so stop at the first framing error.
			return append(out, FrameSummary{
				Offset:  offset,
				Network: string(network),
				Error:   err.Error(),
			})
		}
		s := FrameSummary{
			Offset:        offset,
			Network:       string(network),
			Command:       frame.Command,
			PayloadLength: len(frame.Payload),
			Checksum:      hex.EncodeToString(frame.Checksum[:]),
			Known:         protocol.KnownCommand(frame.Command),
		}
		s.decode(frame.Command, frame.Payload)
		out = append(out, s)
	}
}

// knownMagics lists every supported network's magic bytes in wire order, so an
// unknown-magic error shows the user what a valid capture starts with.
func knownMagics() string {
	var b bytes.Buffer
	for i, n := range protocol.Networks {
		if i > 0 {
			b.WriteString(", ")
		}
		var m [4]byte
		binary.LittleEndian.PutUint32(m[:], uint32(n.Magic()))
		fmt.Fprintf(&b, "%x (%s)", m, n)
	}
	return b.String()
}

// captureSummaries summarizes the records of a capture file, ending with the
// point where the file stopped making sense, if it did.
func captureSummaries(recs []inspect.CaptureRecord, err error) []FrameSummary {
	out := make([]FrameSummary, 0, len(recs)+1)
	for _, r := range recs {
		s := FrameSummary{
			Offset: r.Offset, Command: r.Command, PayloadLength: len(r.Payload),
			Known: protocol.KnownCommand(r.Command), Time: r.Time.Format(time.RFC3339Nano),
		}
		s.decode(r.Command, r.Payload)
		out = append(out, s)
	}
	var ce *inspect.CaptureError
	if errors.As(err, &ce) {
		out = append(out, FrameSummary{Offset: ce.Offset, Error: ce.Error()})
	}
	return out
}

// decode fills in what the payload decodes to: the Go type (or wire's error)
// and the field tree.
func (s *FrameSummary) decode(command string, payload []byte) {
	if msg, err := protocol.Decode(command, payload); err != nil {
		s.DecodeError = err.Error()
	} else {
		s.MessageType = fmt.Sprintf("%T", msg)
	}
	decoded := inspect.Decode(command, payload)
	s.Decoded = &decoded
}
