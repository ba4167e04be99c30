package inspect

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/watchnode/watchnode/node/protocol"
)

// Format names how an input is read.
type Format string

// The input formats. Auto detects the others from the bytes: pcap and pcapng
// by their magic numbers, framed messages by a known network magic and a
// command, Core block files by a known network magic and a block's size,
// Core capture files by a plausible first record, hex by its characters.
const (
	FormatAuto    Format = "auto"
	FormatHex     Format = "hex"     // hex text of any of the binary formats, or of a payload
	FormatFrames  Format = "frames"  // framed messages as on the wire, any network's magic
	FormatPayload Format = "payload" // one bare payload; Options.Command names its command
	FormatCore    Format = "core"    // Bitcoin Core -capturemessages file (also the node's -capture)
	FormatPcap    Format = "pcap"    // pcap or pcapng of P2P traffic: v1, or BIP324 (v2) with its key log
	FormatBlocks  Format = "blocks"  // Bitcoin Core block file (blkNNNNN.dat, bootstrap.dat)
)

// Formats lists the formats a user can choose, for flags and the page.
var Formats = []Format{FormatAuto, FormatHex, FormatFrames, FormatPayload, FormatCore, FormatPcap, FormatBlocks}

// ParseFormat returns the format named s ("" means auto).
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return FormatAuto, nil
	}
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q: want one of %s", s, strings.Join(names, ", "))
}

// Input is one file (or pasted text) to decode.
type Input struct {
	// Name is the file's name. For Core capture files it carries meaning, as
	// in Core's layout: "msgs_recv.dat" / "msgs_sent.dat" give the direction
	// and the parent directory (the peer's address) the connection.
	Name string
	Data []byte
	// Meta is what the input's source knows about its messages that their
	// bytes do not say: it fills those fields of every entry read from it.
	Meta Meta
}

// Meta is what is known about an input's messages from elsewhere. A message
// opened from the node's log, for one, is a bare frame, but the log knows
// when it passed, which way and with which peer.
type Meta struct {
	Time       time.Time
	Direction  string // DirectionSent or DirectionRecv: relative to the node
	Peer       string // the node's id of the peer
	Connection string // the peer's address
}

// Options say how to read the inputs.
type Options struct {
	Format Format
	// Command is the command of a bare payload: with FormatPayload, or
	// with FormatHex when the hex is a payload's.
	Command string
	// KeyLog decrypts the BIP324 connections of packet captures (the
	// node's -v2keylog file, read with protocol.ReadV2KeyLog). Inputs that
	// are key logs, told by their content, add their entries to it for
	// the other inputs of the same Open, whatever Format says.
	KeyLog []protocol.V2KeyLogEntry
}

// Entry kinds.
const (
	KindMessage = "message"
	KindError   = "error"
	// KindNote is neither a message nor a problem: what is known of a
	// BIP324 stream without its keys, its handshake, a decoy packet, the
	// version packet. Its text is in Summary.
	KindNote = "note"
)

// Directions of an entry. Core capture files are written by one node, so
// their direction is relative to it; a packet capture only knows which side
// opened the connection.
const (
	DirectionSent     = "sent"
	DirectionRecv     = "recv"
	DirectionToServer = "to-server"
	DirectionToClient = "to-client"
)

// Entry is one message found in the inputs, or a point where reading them
// went wrong (Kind "error"). It is the JSON the decoder page lists and
// exports and `server decode` prints.
type Entry struct {
	Index  int    `json:"index"`
	Kind   string `json:"kind"`
	Source string `json:"source,omitempty"` // the input's name
	// Offset is where the entry starts in its source: the byte offset of the
	// frame or capture record in the file, or, for packet captures, in the
	// reassembled byte stream of its direction.
	Offset     int    `json:"offset"`
	Time       string `json:"time,omitempty"` // RFC 3339 with nanoseconds, when the input records times
	Direction  string `json:"direction,omitempty"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	Connection string `json:"connection,omitempty"`
	Peer       string `json:"peer,omitempty"` // the node's id of the peer, for a message of its log
	Network    string `json:"network,omitempty"`
	Command    string `json:"command,omitempty"`
	Length     int    `json:"length"` // payload bytes
	// Checksum is the header's checksum as on the wire; ChecksumValid says
	// whether it matches the payload, and ChecksumExpected, when it does
	// not, what it should be. They are absent when the input has no header
	// (Core capture files and bare payloads store none). A message with a
	// bad checksum is still decoded, as Wireshark does, and counted as an
	// error.
	Checksum         string `json:"checksum,omitempty"`
	ChecksumValid    *bool  `json:"checksum_valid,omitempty"`
	ChecksumExpected string `json:"checksum_expected,omitempty"`
	Summary          string `json:"summary,omitempty"`
	// Error is why reading stopped or skipped bytes (Kind "error"), or why a
	// message's payload did not decode (Kind "message").
	Error string `json:"error,omitempty"`
	// Header is the field tree of the message's 24-byte header, with
	// offsets from the frame's first byte, and PayloadOffset where the
	// payload starts in the frame (24); both are absent when the input has
	// no headers. Decoded is the payload's field tree, with offsets from the
	// payload's first byte. Result.Detail fills all three.
	// For a BIP324 message Header is its packet's field tree instead
	// (V2PacketTree).
	Header        *Field   `json:"header,omitempty"`
	PayloadOffset int      `json:"payload_offset,omitempty"`
	Decoded       *Message `json:"decoded,omitempty"`
	// Transport is "v2" (TransportV2) for the entries of a BIP324
	// connection, absent for v1. PacketSize is then the bytes on the wire
	// of the entry's packet (length field, header byte, contents, tag), or
	// for the handshake entry its key, garbage and terminator.
	Transport  string `json:"transport,omitempty"`
	PacketSize int    `json:"packet_size,omitempty"`

	at      time.Time // zero when the input has no times
	payload []byte
	// frame is the header and payload, as read; nil when the input has no
	// headers. For a BIP324 message (packet set) it is the packet with its
	// header byte and contents decrypted (see V2PacketTree).
	frame  []byte
	packet bool
}

// Result is everything found in the inputs.
type Result struct {
	Format string `json:"format"` // the format read; "mixed" when inputs differ
	// Bytes counts the bytes read: for hex text, the bytes it decodes to,
	// not its characters (unless it does not decode).
	Bytes    int `json:"bytes"`
	Messages int `json:"messages"` // entries of kind message, flawed ones too
	// Errors counts the entries with a problem: every error entry, and each
	// message with a bad checksum (BadChecksums) or a payload that does not
	// decode (Malformed), once even when it has both.
	Errors       int `json:"errors"`
	BadChecksums int `json:"bad_checksums"`
	Malformed    int `json:"malformed"`
	// Notes counts the entries of kind note.
	Notes int `json:"notes,omitempty"`
	// KeyLogEntries counts the BIP324 key log entries the decode had:
	// Options.KeyLog's and those of key log inputs.
	KeyLogEntries int     `json:"key_log_entries,omitempty"`
	Entries       []Entry `json:"entries"`
}

// Open reads inputs and lists their messages with summaries, checksums and
// errors but without field trees, which Detail builds on demand: a list of
// 100,000 messages is cheap, their trees are not. Entries of several inputs
// are merged in time order when every input records times. Inputs that
// are BIP324 key logs (by their content) list nothing themselves: their
// entries join Options.KeyLog to decrypt the v2 connections of the other
// inputs, and a key log that does not parse is an error entry, first in
// the list. It fails only on bad options; problems in the bytes become
// error entries.
func Open(inputs []Input, opt Options) (*Result, error) {
	if opt.Format == "" {
		opt.Format = FormatAuto
	}
	if _, err := ParseFormat(string(opt.Format)); err != nil {
		return nil, err
	}
	if opt.Format == FormatPayload {
		if _, err := protocol.ParseCommand([]byte(opt.Command)); err != nil || len(opt.Command) > protocol.CommandSize {
			return nil, fmt.Errorf("a bare payload needs its command (1 to %d printable characters), got %q", protocol.CommandSize, opt.Command)
		}
	}
	res := &Result{Entries: []Entry{}}
	// Key logs first: their entries serve every other input, and their
	// problems (which have no time) lead the list.
	var rest []Input
	opt.KeyLog = append([]protocol.V2KeyLogEntry(nil), opt.KeyLog...)
	for _, in := range inputs {
		if !looksLikeKeyLog(in.Data) {
			rest = append(rest, in)
			continue
		}
		keys, problems := readKeyLogInput(in)
		opt.KeyLog = append(opt.KeyLog, keys...)
		res.Bytes += len(in.Data)
		res.Entries = append(res.Entries, problems...)
	}
	res.KeyLogEntries = len(opt.KeyLog)
	if len(rest) == 0 && len(inputs) > 0 {
		res.Format = "keylog"
	}
	lead := len(res.Entries)
	timed := true
	for _, in := range rest {
		format, size, entries := readInput(in, opt)
		res.Bytes += size
		in.Meta.fill(entries)
		switch res.Format {
		case "":
			res.Format = string(format)
		case string(format):
		default:
			res.Format = "mixed"
		}
		for i := range entries {
			if entries[i].at.IsZero() {
				timed = false
			}
		}
		res.Entries = append(res.Entries, entries...)
	}
	if timed && len(rest) > 1 {
		later := res.Entries[lead:]
		sort.SliceStable(later, func(i, j int) bool { return later[i].at.Before(later[j].at) })
	}
	for i := range res.Entries {
		e := &res.Entries[i]
		e.Index = i
		if !e.at.IsZero() {
			e.Time = e.at.Format(time.RFC3339Nano)
		}
		switch e.Kind {
		case KindError:
			res.Errors++
			continue
		case KindNote:
			res.Notes++
			continue
		}
		res.Messages++
		badSum, malformed := e.ChecksumValid != nil && !*e.ChecksumValid, e.Error != ""
		if badSum {
			res.BadChecksums++
		}
		if malformed {
			res.Malformed++
		}
		if badSum || malformed {
			res.Errors++
		}
	}
	return res, nil
}

// fill sets the fields of entries that m knows and their bytes did not say.
func (m Meta) fill(entries []Entry) {
	for i := range entries {
		e := &entries[i]
		if e.at.IsZero() {
			e.at = m.Time
		}
		if e.Direction == "" {
			e.Direction = m.Direction
		}
		if e.Connection == "" {
			e.Connection = m.Connection
		}
		if e.Peer == "" {
			e.Peer = m.Peer
		}
	}
}

// Payload returns entry i's payload (nil for error entries or a bad index):
// the bytes the offsets of its field tree point into.
func (r *Result) Payload(i int) []byte {
	if i < 0 || i >= len(r.Entries) {
		return nil
	}
	return r.Entries[i].payload
}

// Raw returns the bytes entry i was read from, as the decoder page shows
// them in hex: the whole frame (header, then payload) when the input has
// headers, else the payload; nil for error entries or a bad index. For a
// BIP324 message it is its packet with the header byte, message type and
// payload decrypted and the length and tag as on the wire (V2PacketTree).
func (r *Result) Raw(i int) []byte {
	if i < 0 || i >= len(r.Entries) {
		return nil
	}
	if e := &r.Entries[i]; e.frame != nil {
		return e.frame
	}
	return r.Entries[i].payload
}

// Detail returns entry i with its field trees: its header's, if it has
// one, and its payload's.
func (r *Result) Detail(i int) (Entry, bool) {
	if i < 0 || i >= len(r.Entries) {
		return Entry{}, false
	}
	e := r.Entries[i]
	if e.Kind == KindMessage {
		m := Decode(e.Command, e.payload)
		e.Decoded = &m
		if e.packet {
			if h, at, ok := V2PacketTree(e.frame); ok {
				e.Header, e.PayloadOffset = &h, at
			}
		} else if h, ok := HeaderTree(e.frame); ok {
			e.Header, e.PayloadOffset = &h, protocol.HeaderSize
		}
	}
	return e, true
}

// WithFields returns a copy of the result with every message's field tree:
// the full export.
func (r *Result) WithFields() *Result {
	out := *r
	out.Entries = make([]Entry, len(r.Entries))
	for i := range r.Entries {
		out.Entries[i], _ = r.Detail(i)
	}
	return &out
}

// readInput reads one input in the chosen (or detected) format. size is
// the bytes read: hex text counts as the bytes it decodes to.
func readInput(in Input, opt Options) (format Format, size int, entries []Entry) {
	data := in.Data
	format = opt.Format
	if format == FormatAuto {
		format = detect(data, opt.Command)
	}
	if format == FormatHex {
		raw, err := decodeHexText(data)
		if err != nil {
			return FormatHex, len(data), []Entry{errorEntry(in.Name, err.offset, err.Error())}
		}
		data = raw
		switch {
		case opt.Format == FormatHex && opt.Command != "":
			// Hex chosen with a command: the hex of a bare payload.
			format = FormatPayload
		default:
			if format = detect(raw, ""); format == FormatHex || format == "" {
				return FormatHex, len(raw), []Entry{errorEntry(in.Name, 0, fmt.Sprintf(
					"the hex decodes to %d bytes that are neither framed messages (%s) nor a capture file; to decode a bare payload choose the payload format and its command",
					len(raw), describeStart(raw)))}
			}
		}
	}
	switch format {
	case FormatFrames:
		return format, len(data), newFramer(in.Name).frames(data)
	case FormatCore:
		return format, len(data), readCore(in.Name, data)
	case FormatPayload:
		return format, len(data), []Entry{payloadEntry(in.Name, opt.Command, data)}
	case FormatPcap:
		return format, len(data), readPacketCaptureInput(in.Name, data, opt.KeyLog)
	case FormatBlocks:
		return format, len(data), readBlockFile(in.Name, data)
	}
	return FormatAuto, len(data), []Entry{errorEntry(in.Name, 0, fmt.Sprintf(
		"not recognized: not a pcap or pcapng file, not framed messages (%s), not a Bitcoin Core capture file and not hex text; choose a format",
		describeStart(data)))}
}

// detect names data's format, or "" when it is none of them. A bare payload
// cannot be recognized by its bytes, so it is assumed only when a command was
// given.
func detect(data []byte, command string) Format {
	switch {
	case IsPacketCapture(data):
		return FormatPcap
	case looksLikeBlockFile(data):
		return FormatBlocks
	case len(data) >= 4 && knownMagic(data):
		return FormatFrames
	case looksLikeCoreCapture(data):
		return FormatCore
	case looksLikeHex(data):
		return FormatHex
	case command != "":
		return FormatPayload
	}
	return ""
}

// describeStart names what the first four bytes are, for errors.
func describeStart(data []byte) string {
	if len(data) < 4 {
		return fmt.Sprintf("%d bytes are too few for a network magic", len(data))
	}
	return fmt.Sprintf("the first 4 bytes %x are no network's magic", data[:4])
}

// readCore lists a Core capture file's records.
func readCore(name string, data []byte) []Entry {
	recs, err := ReadCoreCapture(data)
	direction, connection := coreFileMeaning(name)
	out := make([]Entry, 0, len(recs)+1)
	for _, rec := range recs {
		e := Entry{
			Kind: KindMessage, Source: name, Offset: rec.Offset, Direction: direction,
			Connection: connection, Command: rec.Command, Length: len(rec.Payload),
			at: rec.Time, payload: rec.Payload,
		}
		e.Summary, e.Error = listSummary(rec.Command, rec.Payload)
		out = append(out, e)
	}
	if ce, ok := err.(*CaptureError); ok {
		e := errorEntry(name, ce.Offset, ce.Error())
		if len(out) > 0 {
			e.at, e.Direction, e.Connection = out[len(out)-1].at, direction, connection
		}
		out = append(out, e)
	}
	return out
}

// coreFileMeaning reads what Core's capture layout says in a file's name:
// <datadir>/message_capture/<peer address>/msgs_{recv,sent}.dat.
func coreFileMeaning(name string) (direction, connection string) {
	name = strings.ReplaceAll(name, "\\", "/")
	switch path.Base(name) {
	case "msgs_recv.dat":
		direction = DirectionRecv
	case "msgs_sent.dat":
		direction = DirectionSent
	}
	if dir := path.Base(path.Dir(name)); direction != "" && dir != "." && dir != "/" {
		connection = dir
	}
	return direction, connection
}

// payloadEntry lists one bare payload.
func payloadEntry(name, command string, payload []byte) Entry {
	e := Entry{Kind: KindMessage, Source: name, Command: command, Length: len(payload), payload: payload}
	e.Summary, e.Error = listSummary(command, payload)
	return e
}

// errorEntry is a point where reading an input went wrong.
func errorEntry(name string, offset int, msg string) Entry {
	return Entry{Kind: KindError, Source: name, Offset: offset, Error: msg}
}

// listSummary gives a message's one-line summary and, if the payload does
// not decode, why. It takes the cheapest path for the list (blocks and
// transactions are summarized in place) and builds the field tree only to
// explain a failure or for the commands wire does not know.
func listSummary(command string, payload []byte) (summary, errText string) {
	if protocol.KnownCommand(command) {
		s, err := protocol.SummarizePayload(command, payload)
		if err == nil {
			return s, ""
		}
		m := Decode(command, payload)
		if m.Error != nil {
			return m.Summary, m.Error.Error()
		}
		return m.Summary, err.Error()
	}
	if _, ok := decoders[command]; !ok {
		return "unknown command, " + strconv.Itoa(len(payload)) + " bytes", ""
	}
	m := Decode(command, payload)
	if m.Error != nil {
		return m.Summary, m.Error.Error()
	}
	return m.Summary, ""
}
