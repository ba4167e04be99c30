package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/wire/v2"
)

// HeaderSize is the length of a message header: magic, command, length, checksum.
const HeaderSize = 24

// CommandSize is the length of the NUL-padded command field.
const CommandSize = 12

// MaxPayload is the largest payload the node accepts, Bitcoin Core's
// MAX_PROTOCOL_MESSAGE_LENGTH (4,000,000 bytes): a block at the weight limit
// fits, anything larger is a protocol violation.
const MaxPayload = 4_000_000

// initialPayloadBuffer bounds what the reader allocates for a payload before
// its bytes arrive; the buffer then doubles as data arrives, so a peer that
// announces 4 MB and sends one byte a second costs this much memory, not 4 MB.
const initialPayloadBuffer = 64 << 10

// Errors returned by ReadFrame. They are wrapped with the details of the
// offending frame; test with errors.Is.
var (
	ErrWrongMagic       = errors.New("wrong network magic")
	ErrBadCommand       = errors.New("malformed command")
	ErrPayloadTooLarge  = errors.New("payload too large")
	ErrChecksumMismatch = errors.New("checksum mismatch")
)

// Frame is one message as framed on the wire, before its payload is decoded.
type Frame struct {
	Command  string
	Payload  []byte
	Checksum [4]byte // as sent by the peer (verified by ReadFrame)
}

// WireSize returns how many bytes the frame occupies on the wire.
func (f *Frame) WireSize() int { return HeaderSize + len(f.Payload) }

// Checksum returns the first four bytes of the double SHA-256 of payload.
func Checksum(payload []byte) [4]byte {
	first := sha256Sum(payload)
	second := sha256Sum(first[:])
	return [4]byte(second[:4])
}

// ReadFrame reads one framed message from r and verifies its magic, command,
// length and checksum. It never allocates more than a small bound ahead of the
// bytes actually received. A clean end of stream before the first byte returns
// io.EOF; a stream cut inside a frame returns an error wrapping
// io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, magic wire.BitcoinNet) (Frame, error) {
	h, err := ReadFrameHeader(r, magic)
	if err != nil {
		return Frame{}, err
	}
	return ReadFramePayload(r, h, initialPayloadBuffer)
}

// FrameHeader is a frame's 24-byte header, checked: the command is
// well-formed and the length within MaxPayload.
type FrameHeader struct {
	Command  string
	Length   int
	Checksum [4]byte
}

// ReadFrameHeader reads and checks a frame's header: a reader that needs to
// account for the payload before reading it (and allocating for it) reads
// the header first, then the payload with ReadFramePayload.
func ReadFrameHeader(r io.Reader, magic wire.BitcoinNet) (FrameHeader, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return FrameHeader{}, fmt.Errorf("reading message header: %w", err)
		}
		return FrameHeader{}, err
	}
	if got := wire.BitcoinNet(binary.LittleEndian.Uint32(hdr[0:4])); got != magic {
		return FrameHeader{}, fmt.Errorf("%w: got %08x, want %08x", ErrWrongMagic, uint32(got), uint32(magic))
	}
	command, err := ParseCommand(hdr[4:16])
	if err != nil {
		return FrameHeader{}, err
	}
	length := binary.LittleEndian.Uint32(hdr[16:20])
	if length > MaxPayload {
		return FrameHeader{}, fmt.Errorf("%w: %q declares %d bytes, limit %d", ErrPayloadTooLarge, command, length, MaxPayload)
	}
	return FrameHeader{Command: command, Length: int(length), Checksum: [4]byte(hdr[20:24])}, nil
}

// ReadFramePayload reads the payload the header h declares and checks its
// checksum. It allocates at most upFront bytes ahead of the bytes actually
// received: a caller that has accounted for the whole payload may pass its
// length, and saves the copies of a growing buffer.
func ReadFramePayload(r io.Reader, h FrameHeader, upFront int) (Frame, error) {
	payload, err := readPayload(r, h.Length, upFront)
	if err != nil {
		return Frame{}, fmt.Errorf("reading %q payload of %d bytes: %w", h.Command, h.Length, err)
	}
	f := Frame{Command: h.Command, Payload: payload, Checksum: h.Checksum}
	if want := Checksum(payload); want != f.Checksum {
		return Frame{}, fmt.Errorf("%w: %q payload has checksum %x, header says %x", ErrChecksumMismatch, h.Command, want, f.Checksum)
	}
	return f, nil
}

// readPayload reads exactly n bytes, growing its buffer as they arrive
// from at most upFront bytes.
func readPayload(r io.Reader, n, upFront int) ([]byte, error) {
	buf := make([]byte, 0, min(n, max(upFront, initialPayloadBuffer)))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) && len(buf) < n {
				return nil, io.ErrUnexpectedEOF
			}
			if len(buf) < n {
				return nil, err
			}
		}
	}
	return buf, nil
}

// ParseCommand checks Bitcoin Core's rule for the command field: printable
// ASCII, then only NUL padding, and not empty.
func ParseCommand(field []byte) (string, error) {
	end := bytes.IndexByte(field, 0)
	if end < 0 {
		end = len(field)
	}
	if end == 0 {
		return "", fmt.Errorf("%w: empty command", ErrBadCommand)
	}
	for i, c := range field {
		if i < end && (c < 0x20 || c > 0x7e) {
			return "", fmt.Errorf("%w: byte %d of the command is 0x%02x, not printable ASCII", ErrBadCommand, i, c)
		}
		if i >= end && c != 0 {
			return "", fmt.Errorf("%w: byte %d after the NUL padding is 0x%02x", ErrBadCommand, i, c)
		}
	}
	return string(field[:end]), nil
}

// AppendFrame appends the framed message (header and payload) to dst.
func AppendFrame(dst []byte, magic wire.BitcoinNet, command string, payload []byte) ([]byte, error) {
	if len(command) == 0 || len(command) > CommandSize {
		return nil, fmt.Errorf("%w: %q must be 1 to %d bytes", ErrBadCommand, command, CommandSize)
	}
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: %q payload is %d bytes, limit %d", ErrPayloadTooLarge, command, len(payload), MaxPayload)
	}
	var hdr [HeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(magic))
	copy(hdr[4:16], command)
	if _, err := ParseCommand(hdr[4:16]); err != nil {
		return nil, err // a frame we could not read back ourselves
	}
	binary.LittleEndian.PutUint32(hdr[16:20], uint32(len(payload)))
	sum := Checksum(payload)
	copy(hdr[20:24], sum[:])
	dst = append(dst, hdr[:]...)
	return append(dst, payload...), nil
}
