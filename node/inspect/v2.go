package inspect

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/watchnode/watchnode/node/protocol"
)

// BIP324 (v2 transport) in packet captures. Without keys a v2 connection
// is recognised and labelled: its bytes look random from the first one,
// so v1 framing would only report errors, and even its packet lengths are
// encrypted, so all that can be said is how many bytes and segments each
// direction carried. With the connection's line of the node's -v2keylog
// file (protocol.V2KeyLogEntry) both directions are decrypted and their
// messages decoded as v1 messages are.

// TransportV2 is Entry.Transport for the entries of a BIP324 connection.
const TransportV2 = "v2"

// v2HandshakeWindow is how far into a direction its garbage terminator can
// be: the key, the most garbage BIP324 allows and the terminator.
const v2HandshakeWindow = protocol.V2KeySize + protocol.V2MaxGarbage + protocol.V2TerminatorSize

// v2TagSize is a packet's Poly1305 tag.
const v2TagSize = 16

// v2ShortTypeSize and v2LongTypeSize are a message type's sizes in a
// packet: a short id, or a zero byte and a 12-byte command.
const (
	v2ShortTypeSize = 1
	v2LongTypeSize  = 1 + protocol.CommandSize
)

// looksLikeKeyLog reports whether data is a BIP324 key log: text whose
// lines are all blank, '#' comments or "BIP324 " lines, with at least one
// of those. It is told by its content, not its name, so a key log dropped
// on the page with a capture is found as on the command line.
func looksLikeKeyLog(data []byte) bool {
	entries := 0
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		switch {
		case len(line) == 0 || line[0] == '#':
		case bytes.HasPrefix(line, []byte(protocol.V2KeyLogLabel+" ")):
			entries++
		default:
			return false
		}
	}
	return entries > 0
}

// readKeyLogInput parses a key log input: its entries, or an error entry
// saying which line is wrong.
func readKeyLogInput(in Input) ([]protocol.V2KeyLogEntry, []Entry) {
	keys, err := protocol.ReadV2KeyLog(bytes.NewReader(in.Data))
	if err != nil {
		return nil, []Entry{errorEntry(in.Name, 0, fmt.Sprintf("BIP324 key log: %v; none of its entries is used", err))}
	}
	return keys, nil
}

// v2Conn decodes one TCP connection that looksV2 took for BIP324 (v1
// framing reports what it finds in the others).
type v2Conn struct {
	name       string
	connection string
	st         TCPStream
	keys       []protocol.V2KeyLogEntry
}

// looksV2 reports whether the connection is BIP324: its client's first 64
// bytes are a key the key log names, or, without that, the connection
// opens like BIP324: the client's stream starts with at least a key's
// worth of random-looking bytes that are not a v1 message header, and the
// server's stream is not v1 either. Other traffic in the capture (HTTP,
// TLS) and v1 connections captured after they opened are left to v1
// framing, which says what they are not.
func (c *v2Conn) looksV2() bool {
	up, down := c.st.ToServer.Data, c.st.ToClient.Data
	if contiguous(c.st.ToServer) >= protocol.V2KeySize && c.key() != nil {
		return true
	}
	if len(up) < protocol.V2KeySize || knownMagic(up) || !randomLooking(up[:protocol.V2KeySize]) {
		return false
	}
	if !c.st.ToServer.Opened && firstKnownMagic(up) >= 0 {
		return false // v1, joined mid-stream
	}
	return len(down) < 4 || !knownMagic(down)
}

// key returns the key log entry naming the connection, or nil.
func (c *v2Conn) key() *protocol.V2KeyLogEntry {
	up := c.st.ToServer.Data
	if len(up) < protocol.V2KeySize {
		return nil
	}
	for i := range c.keys {
		if bytes.Equal(c.keys[i].InitiatorKey[:], up[:protocol.V2KeySize]) {
			return &c.keys[i]
		}
	}
	return nil
}

// randomLooking reports whether key could be an ElligatorSwift key, which
// is uniformly random: 64 random bytes hold about 57 distinct values (the
// chance of fewer than 40 is below one in a billion), text far fewer; and
// a TLS record's header is not taken for one.
func randomLooking(key []byte) bool {
	if len(key) >= 2 && key[0] == 0x16 && key[1] == 0x03 {
		return false
	}
	var seen [256]bool
	distinct := 0
	for _, b := range key {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	return distinct >= 40
}

// entries lists the connection: decrypted when a key log entry names it,
// else one note per direction.
func (c *v2Conn) entries() []Entry {
	key := c.key()
	if key == nil || contiguous(c.st.ToServer) < protocol.V2KeySize {
		return c.undecrypted(c.whyNotDecrypted())
	}
	sess, err := key.Session()
	if err != nil {
		return c.undecrypted(fmt.Sprintf("its key log entry gives no keys: %v", err))
	}
	network := ""
	if n, ok := protocol.NetworkByMagic(key.Magic); ok {
		network = string(n)
	}
	out := c.direction(&sess, true, network)
	return append(out, c.direction(&sess, false, network)...)
}

// whyNotDecrypted says why a connection that looks like BIP324 has no
// keys.
func (c *v2Conn) whyNotDecrypted() string {
	switch {
	case !c.st.ToServer.Opened:
		return "the capture began after the connection opened (no SYN): BIP324's ciphers run from the connection's first packet, so it cannot be decrypted even with its keys"
	case contiguous(c.st.ToServer) < protocol.V2KeySize:
		return "bytes of the initiator's 64-byte key were never captured, so the connection cannot be matched to a key log entry or decrypted"
	case len(c.keys) == 0:
		return "give the node's -v2keylog file together with the capture to decrypt it"
	}
	return fmt.Sprintf("no entry of the key log (%s) names this connection's initiator key %x…: the key log is not of this connection, so it cannot be decrypted",
		counted(uint64(len(c.keys)), "entry", "entries"), c.st.ToServer.Data[:8])
}

// undecrypted is one note per direction saying what is known without keys.
func (c *v2Conn) undecrypted(why string) []Entry {
	var out []Entry
	for _, d := range c.dirs() {
		if len(d.sd.Data) == 0 && len(d.sd.Gaps) == 0 {
			continue
		}
		e := c.entry(d, KindNote, 0)
		e.Summary = fmt.Sprintf("BIP324 encrypted stream: %s in %s%s. Packet lengths are encrypted too, so without the connection's keys only its size is known; %s",
			countBytes(len(d.sd.Data)), counted(uint64(segments(d.sd)), "segment", "segments"), gapText(d.sd), why)
		out = append(out, e)
	}
	return out
}

type v2Dir struct {
	sd        StreamData
	direction string
	from, to  string
	timeOf    func(start, end int) time.Time
}

func (c *v2Conn) dirs() [2]v2Dir {
	return [2]v2Dir{
		{c.st.ToServer, DirectionToServer, c.st.Client.String(), c.st.Server.String(), streamTimeOf(c.st.ToServer)},
		{c.st.ToClient, DirectionToClient, c.st.Server.String(), c.st.Client.String(), streamTimeOf(c.st.ToClient)},
	}
}

// entry is an entry of direction d at offset, with the connection's
// fields filled in.
func (c *v2Conn) entry(d v2Dir, kind string, offset int) Entry {
	e := Entry{Kind: kind, Source: c.name, Offset: offset, Direction: d.direction, From: d.from, To: d.to,
		Connection: c.connection, Transport: TransportV2}
	if d.timeOf != nil {
		e.at = d.timeOf(offset, offset+1)
	}
	return e
}

// direction decrypts one direction: the initiator's (to the server) or
// the responder's. It stops at the first packet that does not
// authenticate, since every later packet depends on the cipher state.
func (c *v2Conn) direction(sess *protocol.V2Session, initiator bool, network string) []Entry {
	dirs := c.dirs()
	d, side := dirs[1], "responder"
	if initiator {
		d, side = dirs[0], "initiator"
	}
	data := d.sd.Data
	if len(data) == 0 && len(d.sd.Gaps) == 0 {
		return nil
	}
	limit := contiguous(d.sd)
	var out []Entry
	fail := func(offset int, msg string) []Entry {
		e := c.entry(d, KindError, offset)
		e.Network, e.Error = network, msg
		return append(out, e)
	}
	if limit < protocol.V2KeySize {
		return fail(limit, fmt.Sprintf("BIP324: the %s's 64-byte key is cut short after %d bytes%s", side, limit, gapText(d.sd)))
	}
	term := sess.SendTerminator(initiator)
	window := data[protocol.V2KeySize:min(limit, v2HandshakeWindow)]
	at := bytes.Index(window, term[:])
	if at < 0 {
		if limit < v2HandshakeWindow {
			return fail(protocol.V2KeySize, fmt.Sprintf(
				"BIP324: the %s's garbage terminator (%x) is not in the %d bytes after its key, and the stream ends there%s: the capture is cut short, or the key log entry's secret is not this connection's",
				side, term, len(window), gapText(d.sd)))
		}
		return fail(protocol.V2KeySize, fmt.Sprintf(
			"BIP324: the %s's garbage terminator (%x) is not within the first %d bytes after its key, where BIP324 puts it: the key log entry's secret is not this connection's",
			side, term, protocol.V2MaxGarbage+protocol.V2TerminatorSize))
	}
	garbage := window[:at]
	off := protocol.V2KeySize + at + protocol.V2TerminatorSize
	hs := c.entry(d, KindNote, 0)
	hs.Network = network
	hs.Summary = fmt.Sprintf("BIP324 handshake: the %s's ElligatorSwift key (64 bytes), %s of garbage and its garbage terminator; decrypted with the key log entry of session %x",
		side, countBytes(len(garbage)), sess.ID)
	hs.PacketSize = off
	out = append(out, hs)
	recv, err := sess.Receiver(!initiator)
	if err != nil {
		return fail(off, fmt.Sprintf("BIP324: %v", err))
	}
	versionSeen := false
	for first := true; off < limit; first = false {
		if limit-off < protocol.V2LengthSize {
			return fail(off, fmt.Sprintf("BIP324: %d bytes left, a packet's length needs %d (%s)", limit-off, protocol.V2LengthSize, cutText(d.sd, limit)))
		}
		lenField := [protocol.V2LengthSize]byte(data[off : off+protocol.V2LengthSize])
		n, err := recv.Length(lenField)
		if err != nil {
			return fail(off, fmt.Sprintf("BIP324 packet at byte %d: its length decrypts to %d bytes, over the limit of %d: the stream was changed, or the keys are not this connection's; this direction is not decrypted further",
				off, n, protocol.V2MaxContents))
		}
		body := protocol.V2BodySize(n)
		// The length is checked against the bytes present before the
		// body is read: a hostile length allocates nothing.
		if rest := limit - off - protocol.V2LengthSize; body > rest {
			return fail(off, fmt.Sprintf("BIP324 packet at byte %d declares %d bytes of contents (%d with its header byte and tag) but only %d bytes follow (%s)",
				off, n, body, rest, cutText(d.sd, limit)))
		}
		end := off + protocol.V2LengthSize + body
		var aad []byte
		if first {
			aad = garbage
		}
		decoy, contents, err := recv.Open(aad, data[off+protocol.V2LengthSize:end])
		if err != nil {
			what := "a byte of it was changed, or the keys are not this connection's"
			if first {
				what = "a byte of it or of the garbage it authenticates was changed, or the keys are not this connection's"
			}
			return fail(off, fmt.Sprintf("BIP324 packet at byte %d (%d bytes of contents) fails authentication: %s; this direction is not decrypted further",
				off, n, what))
		}
		switch {
		case decoy:
			e := c.packetEntry(d, KindNote, off, end, network)
			e.Summary = fmt.Sprintf("decoy packet, %s (ignored by the peer)", countBytes(n))
			out = append(out, e)
		case !versionSeen:
			versionSeen = true
			e := c.packetEntry(d, KindNote, off, end, network)
			e.Summary = "BIP324 version packet: transport version 0, empty contents"
			if n > 0 {
				e.Summary = fmt.Sprintf("BIP324 version packet with %s of contents (a later transport version's; ignored)", countBytes(n))
			}
			out = append(out, e)
		default:
			out = append(out, c.message(d, off, end, network, lenField, contents))
		}
		off = end
	}
	if limit < len(data) || len(d.sd.Gaps) > 0 {
		return fail(limit, fmt.Sprintf("%s of this direction were never captured at byte %d: BIP324's ciphers run from the first packet, so nothing after them can be decrypted",
			countBytes(d.sd.Gaps[0].Length), limit))
	}
	return out
}

// packetEntry is an entry for the packet at stream bytes [off, end).
func (c *v2Conn) packetEntry(d v2Dir, kind string, off, end int, network string) Entry {
	e := c.entry(d, kind, off)
	e.Network, e.PacketSize = network, end-off
	if d.timeOf != nil {
		e.at = d.timeOf(off, end)
	}
	return e
}

// message is the entry of a packet carrying a message.
func (c *v2Conn) message(d v2Dir, off, end int, network string, lenField [protocol.V2LengthSize]byte, contents []byte) Entry {
	command, payload, err := protocol.ParseV2Contents(contents)
	if err != nil {
		kind, msg := KindError, fmt.Sprintf("BIP324 packet at byte %d: %v", off, err)
		if errors.Is(err, protocol.ErrV2UnknownType) {
			// Core skips such a message (a later BIP may assign the
			// id), so it is no fault of the stream.
			kind, msg = KindNote, fmt.Sprintf("message whose type BIP324 does not assign (%v), %s: skipped, as Core does", err, countBytes(len(contents)))
		}
		e := c.packetEntry(d, kind, off, end, network)
		if kind == KindError {
			e.Error = msg
		} else {
			e.Summary = msg
		}
		return e
	}
	// The bytes shown for the entry: the length field as on the wire,
	// then the packet's decrypted header byte, message type and payload,
	// then its tag as on the wire, so the tree's offsets point into them.
	frame := make([]byte, 0, protocol.V2LengthSize+1+len(contents)+v2TagSize)
	frame = append(frame, lenField[:]...)
	frame = append(frame, 0)
	frame = append(frame, contents...)
	frame = append(frame, d.sd.Data[end-v2TagSize:end]...)
	e := c.packetEntry(d, KindMessage, off, end, network)
	e.Command, e.Length = command, len(payload)
	e.frame, e.packet = frame, true
	e.payload = frame[len(frame)-v2TagSize-len(payload) : len(frame)-v2TagSize]
	e.Summary, e.Error = listSummary(command, payload)
	return e
}

// V2PacketTree returns the field tree of a decrypted BIP324 packet as an
// entry's bytes hold it (the encrypted length field, the decrypted header
// byte, message type and payload, the tag), with offsets from its first
// byte, and where the payload starts. ok is false when frame is too short
// to be one.
func V2PacketTree(frame []byte) (tree Field, payloadOffset int, ok bool) {
	const head = protocol.V2LengthSize + 1
	if len(frame) < head+v2ShortTypeSize+v2TagSize {
		return Field{}, 0, false
	}
	n := len(frame) - head - v2TagSize
	typeLen, typeType, typeValue := v2ShortTypeSize, "uint8", ""
	command := ""
	if frame[head] == 0 {
		if n < v2LongTypeSize {
			return Field{}, 0, false
		}
		typeLen, typeType = v2LongTypeSize, "0x00 + char[12]"
		cmd, err := protocol.ParseCommand(frame[head+1 : head+v2LongTypeSize])
		command, typeValue = cmd, "long type "+strconv.Quote(cmd)
		if err != nil {
			typeValue = fmt.Sprintf("long type %x (%v)", frame[head+1:head+v2LongTypeSize], err)
		}
	} else {
		cmd, _, err := protocol.ParseV2Contents(frame[head : head+1])
		command, typeValue = cmd, fmt.Sprintf("short id %d (%s)", frame[head], cmd)
		if err != nil {
			typeValue = fmt.Sprintf("short id %d (unassigned)", frame[head])
		}
	}
	payloadOffset = head + typeLen
	payloadLen := len(frame) - payloadOffset - v2TagSize
	tag := frame[len(frame)-v2TagSize:]
	return Field{
		Name:   "packet",
		Type:   "BIP324 packet",
		Value:  command + ", " + WithArticle(strconv.Itoa(payloadLen)+"-byte") + " payload",
		Offset: 0,
		Length: payloadOffset,
		Children: []Field{
			{Name: "length", Type: "uint24, encrypted", Value: fmt.Sprintf("%d bytes of contents (decrypted; %x on the wire)", n, frame[:protocol.V2LengthSize]), Offset: 0, Length: protocol.V2LengthSize},
			{Name: "header", Type: "uint8", Value: fmt.Sprintf("%#02x (ignore bit clear: not a decoy)", frame[protocol.V2LengthSize]), Offset: protocol.V2LengthSize, Length: 1},
			{Name: "message_type", Type: typeType, Value: typeValue, Offset: head, Length: typeLen},
			{Name: "tag", Type: "Poly1305 tag", Value: hex.EncodeToString(tag) + " (authentic)", Offset: len(frame) - v2TagSize, Length: v2TagSize},
		},
	}, payloadOffset, true
}

// contiguous is how many bytes of a direction were captured before its
// first gap: the part the ciphers can run over.
func contiguous(sd StreamData) int {
	if len(sd.Gaps) > 0 {
		return sd.Gaps[0].Offset
	}
	return len(sd.Data)
}

// segments counts the captured packets that carried a direction's bytes:
// its marks, which packets with the same time share, so it is a lower
// bound when a capture's clock is coarse.
func segments(sd StreamData) int { return len(sd.Marks) }

func gapText(sd StreamData) string {
	if len(sd.Gaps) == 0 {
		return ""
	}
	var missing int64
	for _, g := range sd.Gaps {
		missing += g.Length
	}
	return fmt.Sprintf(" (and %s never captured)", countBytes(missing))
}

// cutText says why a direction's bytes end where they do.
func cutText(sd StreamData, limit int) string {
	if limit < len(sd.Data) || len(sd.Gaps) > 0 {
		return "bytes after it were never captured"
	}
	return "input cut short, or its length was changed"
}

// countBytes is "1 byte" or "n bytes".
func countBytes[N int | int64](n N) string { return counted(uint64(n), "byte", "bytes") }
