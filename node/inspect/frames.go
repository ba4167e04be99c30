package inspect

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// framer cuts a byte stream into framed messages (24-byte header: magic,
// command, length, checksum; then the payload). Unlike the node's own reader,
// which drops a peer at the first bad byte, it reports every problem as an
// entry and carries on wherever the framing allows: a bad checksum still has
// a trustworthy length, and after a bad header it skips to the next
// occurrence of the network's magic.
type framer struct {
	name       string
	direction  string
	from, to   string
	connection string
	// timeOf gives the time the stream bytes [start, end) were all
	// captured (packet captures); nil when the input records no times.
	timeOf func(start, end int) time.Time
	// magic is the network's, fixed by the first frame of the stream.
	magic   [4]byte
	network protocol.Network
}

func newFramer(name string) *framer { return &framer{name: name} }

// frames lists the messages of data, a stream starting at a frame boundary
// (or, after a gap, anywhere: see resync).
func (f *framer) frames(data []byte) []Entry {
	return f.framesAt(data, 0, false)
}

// framesAt lists the messages of data, whose first byte is at base in the
// stream. With resync, data starts at an unknown point (after bytes missing
// from a capture), so framing starts at the first magic.
func (f *framer) framesAt(data []byte, base int, resync bool) []Entry {
	var out []Entry
	off := 0
	if f.network == "" && resync {
		// Bytes were lost before the network was known: start at the
		// first magic of any network.
		if off = firstKnownMagic(data); off < 0 {
			return out
		}
		data, base, off = data[off:], base+off, 0
	}
	if f.network == "" {
		if len(data) < 4 || !knownMagic(data) {
			return append(out, f.errorAt(base, fmt.Sprintf("not Bitcoin P2P messages: %s", describeStart(data))))
		}
		f.magic = [4]byte(data[:4])
		f.network, _ = protocol.NetworkByMagic(wire.BitcoinNet(binary.LittleEndian.Uint32(data[:4])))
	}
	if resync {
		next := f.nextMagic(data, 0)
		if next < 0 {
			return out
		}
		off = next
	}
	for off < len(data) {
		rest := data[off:]
		if len(rest) < protocol.HeaderSize {
			return append(out, f.errorAt(base+off, fmt.Sprintf(
				"%d bytes left, a message header needs %d (input cut short)", len(rest), protocol.HeaderSize)))
		}
		problem := ""
		command, err := protocol.ParseCommand(rest[4:16])
		length := binary.LittleEndian.Uint32(rest[16:20])
		switch {
		case !bytes.Equal(rest[:4], f.magic[:]):
			problem = fmt.Sprintf("magic %x where %s message header should start (%x)", rest[:4], WithArticle(string(f.network)), f.magic)
		case err != nil:
			problem = fmt.Sprintf("message header: %v", err)
		case length > protocol.MaxPayload:
			problem = fmt.Sprintf("%q declares %s payload, over the protocol's limit of %d", command, WithArticle(fmt.Sprintf("%d-byte", length)), protocol.MaxPayload)
		}
		if problem != "" {
			next := f.nextMagic(data, off+1)
			if next < 0 {
				return append(out, f.errorAt(base+off, problem+"; no further message header follows"))
			}
			out = append(out, f.errorAt(base+off, fmt.Sprintf("%s; skipped %d bytes to the next %s magic", problem, next-off, f.network)))
			off = next
			continue
		}
		end := off + protocol.HeaderSize + int(length)
		if end > len(data) {
			return append(out, f.errorAt(base+off, fmt.Sprintf(
				"%q declares %s payload but only %d bytes follow (input cut short)", command, WithArticle(fmt.Sprintf("%d-byte", length)), len(rest)-protocol.HeaderSize)))
		}
		payload := data[off+protocol.HeaderSize : end]
		sum, want := [4]byte(rest[20:24]), protocol.Checksum(payload)
		valid := want == sum
		e := Entry{
			Kind: KindMessage, Source: f.name, Offset: base + off, Direction: f.direction,
			From: f.from, To: f.to, Connection: f.connection, Network: string(f.network),
			Command: command, Length: int(length), Checksum: hex.EncodeToString(sum[:]),
			ChecksumValid: &valid, payload: payload, frame: data[off:end],
		}
		if !valid {
			e.ChecksumExpected = hex.EncodeToString(want[:])
		}
		if f.timeOf != nil {
			e.at = f.timeOf(base+off, base+end)
		}
		e.Summary, e.Error = listSummary(command, payload)
		out = append(out, e)
		off = end
	}
	return out
}

// nextMagic returns the offset of the next occurrence of the network's magic
// at or after from, or -1.
func (f *framer) nextMagic(data []byte, from int) int {
	if from >= len(data) {
		return -1
	}
	i := bytes.Index(data[from:], f.magic[:])
	if i < 0 {
		return -1
	}
	return from + i
}

func (f *framer) errorAt(offset int, msg string) Entry {
	e := errorEntry(f.name, offset, msg)
	e.Direction, e.From, e.To, e.Connection, e.Network = f.direction, f.from, f.to, f.connection, string(f.network)
	if f.timeOf != nil {
		e.at = f.timeOf(offset, offset+1)
	}
	return e
}

// knownMagic reports whether data opens with a supported network's magic.
func knownMagic(data []byte) bool {
	_, ok := protocol.NetworkByMagic(wire.BitcoinNet(binary.LittleEndian.Uint32(data[:4])))
	return ok
}

// Times a Core capture's first record must fall between to be taken for one:
// Bitcoin's first year to far in the future, in microseconds.
var (
	coreEarliest = time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	coreLatest   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
)

// looksLikeCoreCapture reports whether data opens with a plausible Core
// capture record: a time in range, a well-formed command and an allowed
// length. (A capture file has no magic number of its own.)
func looksLikeCoreCapture(data []byte) bool {
	if len(data) < coreRecordHeader {
		return false
	}
	us := int64(binary.LittleEndian.Uint64(data))
	if us < coreEarliest || us > coreLatest {
		return false
	}
	if _, err := protocol.ParseCommand(data[8 : 8+protocol.CommandSize]); err != nil {
		return false
	}
	return binary.LittleEndian.Uint32(data[8+protocol.CommandSize:]) <= protocol.MaxPayload
}

// looksLikeHex reports whether data is hex text: hex digits, optionally
// separated by whitespace, at least one byte's worth.
func looksLikeHex(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) >= 2 && data[0] == '0' && (data[1] == 'x' || data[1] == 'X') {
		data = data[2:]
	}
	digits := 0
	for _, c := range data {
		switch {
		case isHexDigit(c):
			digits++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			return false
		}
	}
	return digits >= 2
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// hexError locates a problem in hex text.
type hexError struct {
	offset int
	msg    string
}

func (e *hexError) Error() string {
	return fmt.Sprintf("hex text at character %d: %s", e.offset, e.msg)
}

// decodeHexText decodes hex digits, ignoring whitespace between bytes (as
// pasted from a dump) and an optional 0x prefix.
func decodeHexText(text []byte) ([]byte, *hexError) {
	out := make([]byte, 0, len(text)/2)
	start := 0
	for start < len(text) && isSpace(text[start]) {
		start++
	}
	if len(text)-start >= 2 && text[start] == '0' && (text[start+1] == 'x' || text[start+1] == 'X') {
		start += 2
	}
	high, pending := byte(0), false
	for i := start; i < len(text); i++ {
		c := text[i]
		if isSpace(c) {
			if pending {
				return nil, &hexError{i, "whitespace inside a byte (an odd number of digits before it)"}
			}
			continue
		}
		if !isHexDigit(c) {
			return nil, &hexError{i, fmt.Sprintf("%q is not a hex digit", c)}
		}
		v := hexValue(c)
		if pending {
			out = append(out, high<<4|v)
		} else {
			high = v
		}
		pending = !pending
	}
	if pending {
		return nil, &hexError{len(text), "odd number of hex digits"}
	}
	return out, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func hexValue(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
