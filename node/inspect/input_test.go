package inspect

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// frame encodes msg as a framed message on network.
func frame(t *testing.T, network protocol.Network, msg wire.Message) []byte {
	t.Helper()
	b, err := protocol.EncodeFrame(network.Magic(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// open decodes inputs and fails the test on bad options.
func open(t *testing.T, opt Options, inputs ...Input) *Result {
	t.Helper()
	r, err := Open(inputs, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// kinds renders the entries as "command" or "error: ..." lines.
func kinds(r *Result) []string {
	var out []string
	for _, e := range r.Entries {
		if e.Kind == KindError {
			out = append(out, "error")
		} else {
			out = append(out, e.Command)
		}
	}
	return out
}

func TestOpenFramesCarriesOnAfterProblems(t *testing.T) {
	ping := frame(t, protocol.Testnet4, wire.NewMsgPing(7))
	badSum := frame(t, protocol.Testnet4, wire.NewMsgPong(7))
	badSum[20] ^= 0xff
	verack := frame(t, protocol.Testnet4, wire.NewMsgVerAck())
	garbage := []byte("not a frame at all")
	cut := frame(t, protocol.Testnet4, wire.NewMsgPing(9))[:30]

	var data []byte
	for _, part := range [][]byte{ping, badSum, garbage, verack, cut} {
		data = append(data, part...)
	}
	r := open(t, Options{}, Input{Name: "stream.bin", Data: data})
	if r.Format != "frames" {
		t.Errorf("format %q", r.Format)
	}
	want := []string{"ping", "pong", "error", "verack", "error"}
	if got := kinds(r); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("entries %v, want %v", got, want)
	}
	e := r.Entries
	if e[0].Network != "testnet4" || !*e[0].ChecksumValid || e[0].Length != 8 || e[0].Offset != 0 {
		t.Errorf("ping entry %+v", e[0])
	}
	if *e[1].ChecksumValid || e[1].Checksum != hex.EncodeToString(badSum[20:24]) || e[1].Offset != len(ping) {
		t.Errorf("pong with a bad checksum: %+v", e[1])
	}
	// Still decoded, as Wireshark does, and told what the checksum should be.
	if want := protocol.Checksum(badSum[24:]); e[1].ChecksumExpected != hex.EncodeToString(want[:]) || !strings.Contains(e[1].Summary, "nonce") {
		t.Errorf("pong with a bad checksum: expected %q, summary %q", e[1].ChecksumExpected, e[1].Summary)
	}
	if e[0].ChecksumExpected != "" {
		t.Errorf("a good checksum has an expected one: %q", e[0].ChecksumExpected)
	}
	if !strings.Contains(e[2].Error, "skipped 18 bytes") || e[2].Offset != len(ping)+len(badSum) {
		t.Errorf("garbage entry %+v", e[2])
	}
	if !strings.Contains(e[4].Error, "only 6 bytes follow") {
		t.Errorf("cut entry %+v", e[4])
	}
	// Two error entries and the bad checksum.
	if r.Messages != 3 || r.Errors != 3 || r.BadChecksums != 1 || r.Malformed != 0 || r.Bytes != len(data) {
		t.Errorf("counts %d messages, %d errors (%d bad checksums, %d malformed), %d bytes", r.Messages, r.Errors, r.BadChecksums, r.Malformed, r.Bytes)
	}
	if got := r.Payload(0); string(got) != string(ping[24:]) {
		t.Errorf("payload of entry 0 is %x", got)
	}
}

func TestOpenHugeLengthDoesNotAllocate(t *testing.T) {
	hdr := frame(t, protocol.Mainnet, wire.NewMsgVerAck())
	hdr[16], hdr[17], hdr[18], hdr[19] = 0xff, 0xff, 0xff, 0x7f
	allocs := testing.AllocsPerRun(10, func() {
		r, _ := Open([]Input{{Data: hdr}}, Options{})
		if len(r.Entries) != 1 || !strings.Contains(r.Entries[0].Error, "over the protocol's limit") {
			t.Fatalf("%+v", r.Entries)
		}
	})
	if allocs > 30 {
		t.Errorf("%v allocations for one bad header", allocs)
	}
}

func TestOpenHexAndPayload(t *testing.T) {
	ping := frame(t, protocol.Signet, wire.NewMsgPing(0x0102030405060708))
	text := "0x" + hex.EncodeToString(ping[:10]) + "\n  " + strings.ToUpper(hex.EncodeToString(ping[10:]))
	r := open(t, Options{}, Input{Name: "pasted", Data: []byte(text)})
	if r.Format != "frames" || len(r.Entries) != 1 || r.Entries[0].Command != "ping" || r.Entries[0].Network != "signet" {
		t.Fatalf("pasted hex: %s %+v", r.Format, r.Entries)
	}
	// The bytes the hex stands for, not its characters.
	if r.Bytes != len(ping) {
		t.Errorf("pasted hex of a %d-byte frame counts %d bytes", len(ping), r.Bytes)
	}

	r = open(t, Options{Format: FormatHex}, Input{Name: "pasted", Data: []byte("010 203")})
	if r.Entries[0].Kind != KindError || !strings.Contains(r.Entries[0].Error, "whitespace inside a byte") {
		t.Errorf("odd hex: %+v", r.Entries[0])
	}

	payload := ping[24:]
	r = open(t, Options{Format: FormatPayload, Command: "pong"}, Input{Data: payload})
	if e := r.Entries[0]; e.Command != "pong" || e.ChecksumValid != nil || e.Error != "" || !strings.Contains(e.Summary, "nonce") {
		t.Errorf("bare payload: %+v", e)
	}
	r = open(t, Options{Format: FormatHex, Command: "pong"}, Input{Data: []byte(hex.EncodeToString(payload))})
	if e := r.Entries[0]; e.Command != "pong" || e.Length != 8 || r.Bytes != 8 {
		t.Errorf("hex of a bare payload: %d bytes, %+v", r.Bytes, e)
	}
	if _, err := Open([]Input{{Data: payload}}, Options{Format: FormatPayload}); err == nil {
		t.Error("a payload without a command was accepted")
	}
	if _, err := Open(nil, Options{Format: "xml"}); err == nil {
		t.Error("an unknown format was accepted")
	}

	r = open(t, Options{}, Input{Name: "x", Data: []byte{0xde, 0xad, 0xbe, 0xef, 0}})
	if e := r.Entries[0]; e.Kind != KindError || !strings.Contains(e.Error, "deadbeef") {
		t.Errorf("unrecognized input: %+v", e)
	}
}

func TestOpenCoreCapturesMergedByTime(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	ping, _ := protocol.Encode(wire.NewMsgPing(1))
	pong, _ := protocol.Encode(wire.NewMsgPong(1))
	var sent, recv []byte
	sent = AppendCoreRecord(sent, at, "version", nil)
	sent = AppendCoreRecord(sent, at.Add(2*time.Millisecond), "ping", ping)
	recv = AppendCoreRecord(recv, at.Add(time.Millisecond), "verack", nil)
	recv = AppendCoreRecord(recv, at.Add(3*time.Millisecond), "pong", pong)
	r := open(t, Options{},
		Input{Name: "message_capture/127.0.0.1_18444/msgs_sent.dat", Data: sent},
		Input{Name: "message_capture/127.0.0.1_18444/msgs_recv.dat", Data: recv})
	want := []string{"version", "verack", "ping", "pong"}
	if got := kinds(r); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("order %v, want %v", got, want)
	}
	dirs := []string{DirectionSent, DirectionRecv, DirectionSent, DirectionRecv}
	for i, e := range r.Entries {
		if e.Direction != dirs[i] || e.Connection != "127.0.0.1_18444" || e.Index != i || e.ChecksumValid != nil {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	// version with no payload is malformed: the entry says why.
	if r.Entries[0].Error == "" {
		t.Error("an empty version payload decoded without error")
	}
	if r.Entries[1].Time != "2026-11-25T09:00:00.001Z" {
		t.Errorf("time %q", r.Entries[1].Time)
	}
}

func TestDetailAndExport(t *testing.T) {
	data := append(frame(t, protocol.Regtest, wire.NewMsgPing(5)), frame(t, protocol.Regtest, wire.NewMsgFeeFilter(1000))...)
	r := open(t, Options{}, Input{Data: data})
	d, ok := r.Detail(1)
	if !ok || d.Decoded == nil || d.Decoded.Fields[0].Name != "feerate" {
		t.Fatalf("detail %+v", d)
	}
	if r.Entries[1].Decoded != nil {
		t.Error("Detail changed the list")
	}
	if _, ok := r.Detail(2); ok {
		t.Error("Detail of a missing index")
	}
	full := r.WithFields()
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Format  string
		Entries []struct {
			Command string
			Decoded *Message
		}
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Format != "frames" || len(back.Entries) != 2 || back.Entries[0].Decoded == nil || back.Entries[0].Decoded.Fields[0].Name != "nonce" {
		t.Errorf("export %s", b)
	}
}

// TestDetailHasTheFrameHeader checks a framed message's detail carries its
// header's tree over the frame's first 24 bytes, as Wireshark shows it,
// and that Raw gives the whole frame those offsets and the payload's
// (after PayloadOffset) point into.
func TestDetailHasTheFrameHeader(t *testing.T) {
	good := frame(t, protocol.Testnet4, wire.NewMsgPing(0x1122334455667788))
	bad := frame(t, protocol.Testnet4, wire.NewMsgPing(1))
	copy(bad[20:24], []byte{0, 0, 0, 0})
	r := open(t, Options{}, Input{Data: append(append([]byte{}, good...), bad...)})

	d, _ := r.Detail(0)
	if d.Header == nil || d.PayloadOffset != protocol.HeaderSize {
		t.Fatalf("detail without a header: %+v", d)
	}
	if raw := r.Raw(0); string(raw) != string(good) {
		t.Errorf("Raw(0) = %x, want the frame %x", raw, good)
	}
	want := [][3]string{
		{"magic", "1c163f28 (testnet4)", "0+4"},
		{"command", `"ping"`, "4+12"},
		{"length", "8 bytes", "16+4"},
		{"checksum", hex.EncodeToString(good[20:24]) + " (matches)", "20+4"},
	}
	h := d.Header
	if h.Offset != 0 || h.Length != 24 || h.Value != "testnet4 ping, an 8-byte payload" || len(h.Children) != len(want) {
		t.Fatalf("header %+v", h)
	}
	for i, w := range want {
		c := h.Children[i]
		if c.Name != w[0] || c.Value != w[1] || strconv.Itoa(c.Offset)+"+"+strconv.Itoa(c.Length) != w[2] {
			t.Errorf("header field %d: %s = %q at %d+%d, want %s = %q at %s", i, c.Name, c.Value, c.Offset, c.Length, w[0], w[1], w[2])
		}
	}
	// The payload's tree keeps payload offsets: the nonce is its first
	// field, at frame byte PayloadOffset.
	if n := d.Decoded.Fields[0]; n.Name != "nonce" || n.Offset != 0 || good[d.PayloadOffset+n.Offset] != 0x88 {
		t.Errorf("payload field %+v", n)
	}

	d, _ = r.Detail(1)
	sum := protocol.Checksum(bad[24:])
	if got, want := d.Header.Children[3].Value, "00000000 (does not match: expected "+hex.EncodeToString(sum[:])+")"; got != want {
		t.Errorf("bad checksum field %q, want %q", got, want)
	}

	// A Core capture stores no header: no header tree, Raw is the payload.
	ping, _ := protocol.Encode(wire.NewMsgPing(3))
	r = open(t, Options{}, Input{Name: "msgs_sent.dat", Data: AppendCoreRecord(nil, time.Now(), "ping", ping)})
	if d, _ := r.Detail(0); d.Header != nil || d.PayloadOffset != 0 || string(r.Raw(0)) != string(ping) {
		t.Errorf("Core capture entry: header %+v, payload offset %d, raw %x", d.Header, d.PayloadOffset, r.Raw(0))
	}
}

// TestMetaFillsEntries checks what an input's source knows (a message of
// the node's log) reaches its entries without overriding what the bytes say.
func TestMetaFillsEntries(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 5000, time.UTC)
	meta := Meta{Time: at, Direction: DirectionRecv, Peer: "3", Connection: "127.0.0.1:18444"}
	r := open(t, Options{}, Input{Name: "message 219", Data: frame(t, protocol.Regtest, wire.NewMsgVerAck()), Meta: meta})
	e := r.Entries[0]
	if e.Time != "2026-03-01T12:00:00.000005Z" || e.Direction != DirectionRecv || e.Peer != "3" || e.Connection != "127.0.0.1:18444" {
		t.Errorf("entry %+v", e)
	}
	// A Core capture's own direction and connection come from its name.
	rec := AppendCoreRecord(nil, at.Add(time.Second), "verack", nil)
	r = open(t, Options{}, Input{Name: "127.0.0.1_1/msgs_sent.dat", Data: rec, Meta: meta})
	if e := r.Entries[0]; e.Direction != DirectionSent || e.Connection != "127.0.0.1_1" || e.Time != "2026-03-01T12:00:01.000005Z" {
		t.Errorf("capture entry %+v", e)
	}
}

// TestNoncesReadAlikeInTreeAndSummary checks a ping's nonce is written the
// same way in its field tree and in its one-line summary.
func TestNoncesReadAlikeInTreeAndSummary(t *testing.T) {
	for _, msg := range []wire.Message{wire.NewMsgPing(0xabcdef0123456789), wire.NewMsgPong(42)} {
		payload, err := protocol.Encode(msg)
		if err != nil {
			t.Fatal(err)
		}
		m := Decode(msg.Command(), payload)
		if v := m.Fields[0].Value; !strings.Contains(m.Summary, v) {
			t.Errorf("%s: nonce %q in the tree, summary %q", msg.Command(), v, m.Summary)
		}
	}
}
