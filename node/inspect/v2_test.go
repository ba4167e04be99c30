package inspect

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/pcaptest"
	"github.com/watchnode/watchnode/node/protocol"
)

var (
	v2Client = netip.MustParseAddrPort("10.0.0.1:50000")
	v2Server = netip.MustParseAddrPort("10.0.0.2:18444")
	v2Start  = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
)

// newV2Sample builds the sample connection with fresh keys.
func newV2Sample(t *testing.T) *pcaptest.V2Conn {
	t.Helper()
	client, server, err := pcaptest.V2Sample(rand.Reader)
	must(t, err)
	c, err := pcaptest.NewV2Conn(pcaptest.V2SampleMagic, client, server)
	must(t, err)
	return c
}

// v2Capture records c as a pcapng file.
func v2Capture(t *testing.T, c *pcaptest.V2Conn) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcaptest.NewWriter(&buf, pcaptest.PCAPNG)
	must(t, err)
	_, err = c.Write(w, v2Start, v2Client, v2Server)
	must(t, err)
	return buf.Bytes()
}

// v2Want is what one direction of the sample decodes to: "note" or
// "error" lines, and a message's command.
type v2Line struct {
	kind, command string
	offset        int
	payload       []byte
}

// wantV2Lines lists what a side's stream decodes to, in order.
func wantV2Lines(side pcaptest.V2Side, s pcaptest.V2Stream) []v2Line {
	out := []v2Line{{kind: KindNote, offset: 0}} // the handshake
	for i, p := range side.Packets {
		l := v2Line{kind: KindNote, offset: s.PacketOffsets[i]}
		if !p.Decoy && !p.Version {
			l.kind, l.command, l.payload = KindMessage, p.Command, p.Payload
		}
		out = append(out, l)
	}
	return out
}

func gotV2Lines(entries []Entry, direction string) []v2Line {
	var out []v2Line
	for _, e := range entries {
		if e.Direction == direction {
			out = append(out, v2Line{kind: e.Kind, command: e.Command, offset: e.Offset, payload: e.payload})
		}
	}
	return out
}

func checkV2Lines(t *testing.T, what string, got, want []v2Line) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d:\n got %+v\nwant %+v", what, len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.kind != w.kind || g.command != w.command || g.offset != w.offset || !bytes.Equal(g.payload, w.payload) {
			t.Errorf("%s entry %d: got %s %q at %d (%d-byte payload), want %s %q at %d (%d bytes)",
				what, i, g.kind, g.command, g.offset, len(g.payload), w.kind, w.command, w.offset, len(w.payload))
		}
	}
}

// sampleSides rebuilds the sides' packet lists (V2Conn keeps only bytes):
// the sample's plan is fixed, so its packets are known.
func sampleSides(t *testing.T) (client, server pcaptest.V2Side) {
	t.Helper()
	client, server, err := pcaptest.V2Sample(rand.Reader)
	must(t, err)
	return client, server
}

func TestV2CaptureWithoutKeyLogIsLabelled(t *testing.T) {
	c := newV2Sample(t)
	r := open(t, Options{}, Input{Name: "v2.pcapng", Data: v2Capture(t, c)})
	if r.Errors != 0 || r.Messages != 0 || r.Notes != 2 || len(r.Entries) != 2 {
		t.Fatalf("want two notes and no errors, got %d messages, %d errors, %d notes: %+v", r.Messages, r.Errors, r.Notes, r.Entries)
	}
	for i, e := range r.Entries {
		sd := c.ToServer
		if e.Direction == DirectionToClient {
			sd = c.ToClient
		}
		want := fmt.Sprintf("BIP324 encrypted stream: %d bytes in ", len(sd.Data))
		if e.Kind != KindNote || e.Transport != TransportV2 || !strings.HasPrefix(e.Summary, want) ||
			!strings.Contains(e.Summary, "-v2keylog") || !strings.Contains(e.Summary, "Packet lengths are encrypted") {
			t.Errorf("entry %d: %+v, want a note starting %q", i, e, want)
		}
	}
	if r.Entries[0].Direction != DirectionToServer || r.Entries[1].Direction != DirectionToClient {
		t.Errorf("directions %q, %q", r.Entries[0].Direction, r.Entries[1].Direction)
	}
}

func TestV2CaptureDecryptsWithKeyLog(t *testing.T) {
	client, server, err := pcaptest.V2Sample(rand.Reader)
	must(t, err)
	c, err := pcaptest.NewV2Conn(pcaptest.V2SampleMagic, client, server)
	must(t, err)
	capture := v2Capture(t, c)
	keyLog := "# watchnode v2 key log\n\n" + c.KeyLog.String() + "\n"
	for _, tc := range []struct {
		name   string
		opt    Options
		inputs []Input
	}{
		{"option", Options{KeyLog: []protocol.V2KeyLogEntry{c.KeyLog}}, []Input{{Name: "v2.pcapng", Data: capture}}},
		{"input after", Options{}, []Input{{Name: "v2.pcapng", Data: capture}, {Name: "keys.log", Data: []byte(keyLog)}}},
		{"input before, pcap format", Options{Format: FormatPcap}, []Input{{Name: "keys.log", Data: []byte(keyLog)}, {Name: "v2.pcapng", Data: capture}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := open(t, tc.opt, tc.inputs...)
			if r.Errors != 0 || r.Format != "pcap" || r.KeyLogEntries != 1 {
				t.Fatalf("errors %d, format %q, key log entries %d: %+v", r.Errors, r.Format, r.KeyLogEntries, r.Entries)
			}
			checkV2Lines(t, "initiator", gotV2Lines(r.Entries, DirectionToServer), wantV2Lines(client, c.ToServer))
			checkV2Lines(t, "responder", gotV2Lines(r.Entries, DirectionToClient), wantV2Lines(server, c.ToClient))
			if r.Messages != 8 || r.Notes != 6 {
				t.Errorf("%d messages and %d notes, want 8 and 6", r.Messages, r.Notes)
			}
			// Both directions interleave in capture time order, as
			// Write sent them: a chunk from each side in turn.
			var order []string
			for _, e := range r.Entries {
				if e.Kind == KindMessage {
					order = append(order, e.Direction[3:4]+":"+e.Command)
				}
			}
			want := []string{"s:version", "c:version", "s:verack", "c:verack", "s:ping", "c:pong", "s:headers", "c:headers"}
			if !slices.Equal(order, want) {
				t.Errorf("order %v, want %v", order, want)
			}
			for i := 1; i < len(r.Entries); i++ {
				if r.Entries[i].at.Before(r.Entries[i-1].at) {
					t.Errorf("entry %d at %s before entry %d at %s", i, r.Entries[i].Time, i-1, r.Entries[i-1].Time)
				}
			}
			for i, e := range r.Entries {
				if e.Network != "regtest" || e.Transport != TransportV2 || e.Connection != "10.0.0.1:50000 ⇄ 10.0.0.2:18444" {
					t.Errorf("entry %d: network %q transport %q connection %q", i, e.Network, e.Transport, e.Connection)
				}
			}
		})
	}

	// The packet layer's fields: the responder's headers, sent with the
	// long type, and the initiator's ping, with its short id.
	r := open(t, Options{KeyLog: []protocol.V2KeyLogEntry{c.KeyLog}}, Input{Name: "v2.pcapng", Data: capture})
	for _, tc := range []struct {
		dir, command, typeValue string
		typeLen                 int
	}{
		{DirectionToClient, "headers", `long type "headers"`, 13},
		{DirectionToServer, "ping", "short id 18 (ping)", 1},
	} {
		i := slices.IndexFunc(r.Entries, func(e Entry) bool { return e.Direction == tc.dir && e.Command == tc.command })
		if i < 0 {
			t.Fatalf("no %s %s", tc.dir, tc.command)
		}
		e, _ := r.Detail(i)
		raw := r.Raw(i)
		if e.Header == nil || e.Decoded == nil || e.Decoded.Error != nil || e.PayloadOffset != 4+tc.typeLen {
			t.Fatalf("%s: header %+v, decoded %+v, payload offset %d", tc.command, e.Header, e.Decoded, e.PayloadOffset)
		}
		if e.PacketSize != len(raw) || len(raw) != e.Length+4+tc.typeLen+16 || !bytes.Equal(raw[e.PayloadOffset:len(raw)-16], r.Payload(i)) {
			t.Errorf("%s: packet size %d, raw %d bytes, payload %d", tc.command, e.PacketSize, len(raw), e.Length)
		}
		names := []string{}
		for _, f := range e.Header.Children {
			names = append(names, f.Name)
		}
		if !slices.Equal(names, []string{"length", "header", "message_type", "tag"}) {
			t.Errorf("%s: packet fields %v", tc.command, names)
		}
		if mt := e.Header.Children[2]; mt.Value != tc.typeValue || mt.Length != tc.typeLen {
			t.Errorf("%s: message type %+v, want %q", tc.command, mt, tc.typeValue)
		}
		stream := c.ToServer.Data
		if tc.dir == DirectionToClient {
			stream = c.ToClient.Data
		}
		if !bytes.Equal(raw[:3], stream[e.Offset:e.Offset+3]) || !bytes.Equal(raw[len(raw)-16:], stream[e.Offset+e.PacketSize-16:e.Offset+e.PacketSize]) {
			t.Errorf("%s: the length field and tag are not the wire's", tc.command)
		}
		if want := fmt.Sprintf("%d bytes of contents", e.Length+tc.typeLen); !strings.HasPrefix(e.Header.Children[0].Value, want) {
			t.Errorf("%s: length field %q, want %q", tc.command, e.Header.Children[0].Value, want)
		}
	}
	if e, _ := r.Detail(slices.IndexFunc(r.Entries, func(e Entry) bool { return e.Command == "headers" })); !strings.HasPrefix(e.Summary, "3 headers, ") || e.Decoded.Summary != e.Summary {
		t.Errorf("headers summary %q", e.Summary)
	}
}

// A changed byte stops that direction at the packet it is in, with an
// error naming the packet; the other direction decrypts in full.
func TestV2TamperedPacket(t *testing.T) {
	client, server := sampleSides(t)
	for _, tc := range []struct {
		name   string
		at     func(c *pcaptest.V2Conn) int // the byte of the initiator's stream to change
		packet int                          // the packet that fails, -1 for none
		want   string
	}{
		{"ping's body", func(c *pcaptest.V2Conn) int { return c.ToServer.PacketOffsets[4] + 7 }, 4, "fails authentication: a byte of it was changed"},
		{"ping's tag", func(c *pcaptest.V2Conn) int { return c.ToServer.PacketOffsets[5] - 1 }, 4, "fails authentication"},
		{"garbage", func(c *pcaptest.V2Conn) int { return 64 + 50 }, 0, "or of the garbage it authenticates was changed"},
		{"verack's length", func(c *pcaptest.V2Conn) int { return c.ToServer.PacketOffsets[3] + 2 }, 3, "BIP324 packet at byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := pcaptest.NewV2Conn(pcaptest.V2SampleMagic, client, server)
			must(t, err)
			c.ToServer.Data[tc.at(c)] ^= 0x80
			r := open(t, Options{KeyLog: []protocol.V2KeyLogEntry{c.KeyLog}}, Input{Name: "v2.pcapng", Data: v2Capture(t, c)})
			want := wantV2Lines(client, c.ToServer)[:tc.packet+1]
			want = append(want, v2Line{kind: KindError, offset: c.ToServer.PacketOffsets[tc.packet]})
			up := gotV2Lines(r.Entries, DirectionToServer)
			checkV2Lines(t, "initiator", up, want)
			checkV2Lines(t, "responder", gotV2Lines(r.Entries, DirectionToClient), wantV2Lines(server, c.ToClient))
			last := r.Entries[slices.IndexFunc(r.Entries, func(e Entry) bool { return e.Kind == KindError })]
			prefix := fmt.Sprintf("BIP324 packet at byte %d", c.ToServer.PacketOffsets[tc.packet])
			if !strings.HasPrefix(last.Error, prefix) || !strings.Contains(last.Error, tc.want) || r.Errors != 1 {
				t.Errorf("error %q (%d errors), want it to start %q and say %q", last.Error, r.Errors, prefix, tc.want)
			}
		})
	}
}

// A key log of another connection, or an entry with this connection's
// key but another secret, decrypts nothing and says why.
func TestV2WrongKeyLog(t *testing.T) {
	c := newV2Sample(t)
	capture := v2Capture(t, c)
	other := newV2Sample(t)
	r := open(t, Options{}, Input{Name: "v2.pcapng", Data: capture}, Input{Name: "keys", Data: []byte(other.KeyLog.String() + "\n")})
	if r.Messages != 0 || r.Notes != 2 {
		t.Fatalf("another connection's key log: %+v", r.Entries)
	}
	for _, e := range r.Entries {
		if !strings.Contains(e.Summary, "no entry of the key log (1 entry) names this connection's initiator key") ||
			!strings.Contains(e.Summary, "cannot be decrypted") {
			t.Errorf("note %q", e.Summary)
		}
	}

	forged := other.KeyLog
	forged.InitiatorKey = c.KeyLog.InitiatorKey
	r = open(t, Options{KeyLog: []protocol.V2KeyLogEntry{forged}}, Input{Name: "v2.pcapng", Data: capture})
	if r.Messages != 0 || r.Errors != 2 {
		t.Fatalf("another secret: %+v", r.Entries)
	}
	for _, e := range r.Entries {
		if e.Kind != KindError || e.Offset != 64 || !strings.Contains(e.Error, "garbage terminator") ||
			!strings.Contains(e.Error, "the key log entry's secret is not this connection's") {
			t.Errorf("entry %+v", e)
		}
	}
}

// A capture that starts after the connection opened cannot be decrypted,
// and says so, with or without the key log.
func TestV2CaptureMidConnection(t *testing.T) {
	c := newV2Sample(t)
	var buf bytes.Buffer
	w, err := pcaptest.NewWriter(&buf, pcaptest.PCAP)
	must(t, err)
	conn := w.Attach(v2Client, v2Server, 1000, 5000)
	must(t, conn.Send(v2Start, true, c.ToServer.Data[c.ToServer.PacketOffsets[2]:]))
	must(t, conn.Send(v2Start.Add(time.Millisecond), false, c.ToClient.Data[c.ToClient.PacketOffsets[2]:]))
	r := open(t, Options{KeyLog: []protocol.V2KeyLogEntry{c.KeyLog}}, Input{Data: buf.Bytes()})
	if r.Messages != 0 || r.Notes != 2 {
		t.Fatalf("%+v", r.Entries)
	}
	for _, e := range r.Entries {
		if !strings.Contains(e.Summary, "the capture began after the connection opened (no SYN)") {
			t.Errorf("note %q", e.Summary)
		}
	}
}

// Bytes lost from a direction stop its decryption there; a capture cut
// inside a packet says so.
func TestV2GapAndCut(t *testing.T) {
	c := newV2Sample(t)
	var buf bytes.Buffer
	w, err := pcaptest.NewWriter(&buf, pcaptest.PCAP)
	must(t, err)
	conn, err := w.Open(v2Start, v2Client, v2Server)
	must(t, err)
	up, down := c.ToServer, c.ToClient
	lost := up.PacketOffsets[3]
	must(t, conn.Send(v2Start.Add(time.Millisecond), true, up.Data[:lost]))
	conn.Skip(true, 10)
	must(t, conn.Send(v2Start.Add(2*time.Millisecond), true, up.Data[lost+10:]))
	cut := down.PacketOffsets[3] + 10
	must(t, conn.Send(v2Start.Add(3*time.Millisecond), false, down.Data[:cut]))
	r := open(t, Options{KeyLog: []protocol.V2KeyLogEntry{c.KeyLog}}, Input{Data: buf.Bytes()})
	var errs []string
	for _, e := range r.Entries {
		if e.Kind == KindError {
			errs = append(errs, fmt.Sprintf("%s@%d: %s", e.Direction, e.Offset, e.Error))
		}
	}
	wantUp := fmt.Sprintf("to-server@%d: 10 bytes of this direction were never captured at byte %d: BIP324's ciphers run from the first packet", lost, lost)
	wantDown := fmt.Sprintf("to-client@%d: BIP324 packet at byte %d declares", down.PacketOffsets[3], down.PacketOffsets[3])
	if len(errs) != 2 || !strings.HasPrefix(errs[0], wantUp) ||
		!strings.HasPrefix(errs[1], wantDown) || !strings.Contains(errs[1], "but only 7 bytes follow (input cut short") {
		t.Errorf("errors:\n%s\nwant %q, %q", strings.Join(errs, "\n"), wantUp, wantDown)
	}
	if r.Messages != 2 {
		t.Errorf("%d messages, want each side's version", r.Messages)
	}
}

func TestV2KeyLogInputProblems(t *testing.T) {
	c := newV2Sample(t)
	bad := "# keys\n" + c.KeyLog.String() + "\nBIP324 00 11 22 33\n"
	r := open(t, Options{}, Input{Name: "keys.log", Data: []byte(bad)}, Input{Name: "v2.pcapng", Data: v2Capture(t, c)})
	if len(r.Entries) != 3 || r.Entries[0].Kind != KindError || r.Entries[0].Source != "keys.log" ||
		!strings.Contains(r.Entries[0].Error, "key log line 3") || r.Messages != 0 || r.KeyLogEntries != 0 {
		t.Errorf("a bad key log line: %+v", r.Entries)
	}
	for _, in := range []string{"BIP324", "# only a comment\n", "BIP324x 00\n", "hello\nBIP324 00\n"} {
		if looksLikeKeyLog([]byte(in)) {
			t.Errorf("%q taken for a key log", in)
		}
	}
	if !looksLikeKeyLog([]byte("\r\n# c\r\n  BIP324 zz\r\n")) {
		t.Error("a key log with CRLF lines not recognised")
	}
	r = open(t, Options{}, Input{Name: "keys.log", Data: []byte(c.KeyLog.String())})
	if r.Format != "keylog" || len(r.Entries) != 0 || r.KeyLogEntries != 1 {
		t.Errorf("a key log alone: %+v", r)
	}
}

// Other traffic is not taken for BIP324: text, a TLS handshake, and a v1
// connection captured after it opened go to v1 framing, which reports
// what it finds, while random bytes are labelled, with or without the
// connection's start.
func TestV2RecognitionLeavesOtherTraffic(t *testing.T) {
	random := make([]byte, 300)
	_, err := rand.Read(random)
	must(t, err)
	tls := append([]byte{0x16, 0x03, 0x01, 0x02, 0x00}, random[:250]...)
	text := []byte(strings.Repeat("GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n", 4))
	ping := frame(t, protocol.Regtest, wire.NewMsgPing(7))
	midV1 := append(append(bytes.Clone(random[:70]), ping...), ping...)
	for _, tc := range []struct {
		name     string
		data     []byte
		attached bool // the capture began after the connection opened
		want     string
	}{
		{"random", random, false, KindNote},
		{"random, joined", random, true, KindNote},
		{"text", text, false, KindError},
		{"TLS", tls, false, KindError},
		{"v1, joined", midV1, true, KindError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := pcaptest.NewWriter(&buf, pcaptest.PCAP)
			must(t, err)
			var conn *pcaptest.Conn
			if tc.attached {
				conn = w.Attach(v2Client, v2Server, 100, 200)
			} else {
				conn = mustOpen(t, w, v2Start, v2Client, v2Server)
			}
			must(t, conn.Send(v2Start, true, tc.data))
			r := open(t, Options{}, Input{Data: buf.Bytes()})
			if len(r.Entries) == 0 || r.Entries[0].Kind != tc.want {
				t.Fatalf("entries %+v, want the first of kind %s", r.Entries, tc.want)
			}
			switch e := r.Entries[0]; {
			case tc.want == KindNote && !strings.HasPrefix(e.Summary, "BIP324 encrypted stream: 300 bytes in 1 segment."):
				t.Errorf("note %q", e.Summary)
			case tc.want == KindNote && tc.attached != strings.Contains(e.Summary, "no SYN"):
				t.Errorf("note %q, joined %v", e.Summary, tc.attached)
			case tc.want == KindError && e.Transport != "":
				t.Errorf("taken for BIP324: %+v", e)
			}
		})
	}
}
