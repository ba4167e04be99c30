package main

import (
	"encoding/hex"
	"encoding/json"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/inspect"
	"github.com/watchnode/watchnode/node/protocol"
)

// testFrames returns four real frames for network (version, ping, headers
// carrying the network's genesis header, and a command the node does not
// know), concatenated, with the summaries decodeFrames must give for them.
// The js/wasm test reuses it so both builds check the same expectations.
func testFrames(t *testing.T, network protocol.Network) ([]byte, []FrameSummary) {
	t.Helper()
	me := wire.NewNetAddressIPPort(net.ParseIP("127.0.0.1"), 18444, wire.SFNodeNetwork)
	you := wire.NewNetAddressIPPort(net.ParseIP("10.0.0.2"), 8333, 0)
	version := wire.NewMsgVersion(me, you, 0x1122334455667788, 0)
	version.ProtocolVersion = int32(protocol.ProtocolVersion)
	headers := wire.NewMsgHeaders()
	genesis := network.Params().GenesisBlock.Header
	if err := headers.AddBlockHeader(&genesis); err != nil {
		t.Fatal(err)
	}
	msgs := []struct {
		msg      wire.Message
		known    bool
		wantType string
	}{
		{version, true, "*wire.MsgVersion"},
		{wire.NewMsgPing(42), true, "*wire.MsgPing"},
		{headers, true, "*wire.MsgHeaders"},
		{&protocol.MsgUnknown{Cmd: "futurecmd", Payload: []byte("opaque")}, false, "*protocol.MsgUnknown"},
	}
	var data []byte
	var want []FrameSummary
	for _, m := range msgs {
		frame, err := protocol.EncodeFrame(network.Magic(), m.msg)
		if err != nil {
			t.Fatal(err)
		}
		sum := protocol.Checksum(frame[protocol.HeaderSize:])
		want = append(want, FrameSummary{
			Offset:        len(data),
			Network:       string(network),
			Command:       m.msg.Command(),
			PayloadLength: len(frame) - protocol.HeaderSize,
			Checksum:      hex.EncodeToString(sum[:]),
			Known:         m.known,
			MessageType:   m.wantType,
		})
		data = append(data, frame...)
	}
	return data, want
}

// TestDecodeFramesReal checks real frames on regtest and mainnet decode to the
// right network, commands, offsets, checksums and Go types.
func TestDecodeFramesReal(t *testing.T) {
	for _, network := range []protocol.Network{protocol.Regtest, protocol.Mainnet} {
		t.Run(string(network), func(t *testing.T) {
			data, want := testFrames(t, network)
			got := withoutTrees(t, decodeFrames(data))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeFrames:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestDecodeFramesDecodeError checks that a well-framed but malformed payload
// is reported on its frame and does not stop the frames after it.
func TestDecodeFramesDecodeError(t *testing.T) {
	magic := protocol.Regtest.Magic()
	data, err := protocol.AppendFrame(nil, magic, wire.CmdPing, []byte{1, 2, 3}) // a ping needs 8 bytes
	if err != nil {
		t.Fatal(err)
	}
	verack, err := protocol.EncodeFrame(magic, wire.NewMsgVerAck())
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, verack...)

	got := decodeFrames(data)
	if len(got) != 2 {
		t.Fatalf("got %d summaries, want 2: %+v", len(got), got)
	}
	if got[0].Command != "ping" || !got[0].Known || got[0].MessageType != "" ||
		!strings.Contains(got[0].DecodeError, "malformed payload") || got[0].Error != "" {
		t.Errorf("malformed ping: got %+v", got[0])
	}
	if got[1].Offset != protocol.HeaderSize+3 || got[1].MessageType != "*wire.MsgVerAck" ||
		got[1].PayloadLength != 0 || got[1].DecodeError != "" {
		t.Errorf("verack after it: got %+v", got[1])
	}
}

// TestDecodeFramesErrors checks that framing problems end the list with one
// summary carrying the offset of the frame at fault and the reason.
func TestDecodeFramesErrors(t *testing.T) {
	good, want := testFrames(t, protocol.Regtest)
	second := want[1].Offset // the ping frame

	badChecksum := append([]byte(nil), good...)
	badChecksum[second+20] ^= 0xff // first checksum byte of the ping header

	mixed := append([]byte(nil), good[:second]...)
	ping, err := protocol.EncodeFrame(protocol.Mainnet.Magic(), wire.NewMsgPing(1))
	if err != nil {
		t.Fatal(err)
	}
	mixed = append(mixed, ping...)

	tests := []struct {
		name      string
		data      []byte
		wantOK    int // summaries of good frames before the error
		offset    int
		network   string
		errSubstr []string
	}{
		{"bad checksum", badChecksum, 1, second, "regtest", []string{"checksum mismatch", `"ping"`}},
		{"truncated payload", good[:len(good)-1], 3, want[3].Offset, "regtest", []string{"unexpected EOF", "futurecmd"}},
		{"truncated header", good[:second+10], 1, second, "regtest", []string{"reading message header", "unexpected EOF"}},
		{"magic changes mid-stream", mixed, 1, second, "regtest", []string{"wrong network magic"}},
		{"unknown magic", []byte{0x0b, 0xad, 0xca, 0xfe, 1, 2, 3}, 0, 0, "", []string{"unknown network magic 0badcafe", "f9beb4d9 (mainnet)"}},
		{"shorter than magic", []byte{0xf9, 0xbe}, 0, 0, "", []string{"2 bytes", "too short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withoutTrees(t, decodeFrames(tt.data))
			if len(got) != tt.wantOK+1 {
				t.Fatalf("got %d summaries, want %d good and 1 error: %+v", len(got), tt.wantOK, got)
			}
			if !reflect.DeepEqual(got[:tt.wantOK], want[:tt.wantOK]) {
				t.Errorf("frames before the error:\n got %+v\nwant %+v", got[:tt.wantOK], want[:tt.wantOK])
			}
			last := got[tt.wantOK]
			if last.Offset != tt.offset || last.Network != tt.network || last.Command != "" || last.MessageType != "" {
				t.Errorf("error summary %+v: want offset %d, network %q and no frame fields", last, tt.offset, tt.network)
			}
			for _, s := range tt.errSubstr {
				if !strings.Contains(last.Error, s) {
					t.Errorf("error %q does not mention %q", last.Error, s)
				}
			}
		})
	}
}

// TestDecodeFramesEmpty checks that no input is no frames, and that it
// marshals as an empty JSON list rather than null, which the page iterates.
func TestDecodeFramesEmpty(t *testing.T) {
	for _, in := range [][]byte{nil, {}} {
		got := decodeFrames(in)
		if got == nil || len(got) != 0 {
			t.Fatalf("decodeFrames(%v) = %#v, want an empty non-nil list", in, got)
		}
		if b, _ := json.Marshal(got); string(b) != "[]" {
			t.Fatalf("JSON of empty input = %s, want []", b)
		}
	}
}

// TestFrameSummaryJSON pins the snake_case keys the page reads, and that a
// zero-length payload and an unknown command still carry payload_length and
// known (they must not be dropped as empty).
func TestFrameSummaryJSON(t *testing.T) {
	b, err := json.Marshal(FrameSummary{Offset: 24, Network: "regtest", Command: "verack",
		Checksum: "5df6e0e2", MessageType: "*wire.MsgVerAck"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"offset":24,"network":"regtest","command":"verack","payload_length":0,` +
		`"checksum":"5df6e0e2","known":false,"message_type":"*wire.MsgVerAck"}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
	b, err = json.Marshal(FrameSummary{DecodeError: "d", Error: "e"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"offset":0,"payload_length":0,"known":false,"decode_error":"d","error":"e"}`; string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}

// TestFramesCarryFieldTrees: every frame comes with its field tree, whose
// fields point at bytes inside the payload.
func TestFramesCarryFieldTrees(t *testing.T) {
	me := wire.NewNetAddressIPPort(net.IPv4(127, 0, 0, 1), 8333, 0)
	v := wire.NewMsgVersion(me, me, 99, 0)
	v.UserAgent = "/field-tree:1.0/"
	frame, err := protocol.EncodeFrame(protocol.Mainnet.Magic(), v)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeFrames(frame)
	if len(got) != 1 || got[0].Decoded == nil || got[0].Decoded.Error != nil {
		t.Fatalf("decoded: %+v", got)
	}
	var find func(fs []inspect.Field) *inspect.Field
	find = func(fs []inspect.Field) *inspect.Field {
		for i := range fs {
			if strings.Contains(fs[i].Value, "/field-tree:1.0/") {
				return &fs[i]
			}
			if f := find(fs[i].Children); f != nil {
				return f
			}
		}
		return nil
	}
	f := find(got[0].Decoded.Fields)
	if f == nil {
		t.Fatalf("no field shows the user agent: %+v", got[0].Decoded.Fields)
	}
	if f.Offset <= 0 || f.Offset+f.Length > got[0].PayloadLength {
		t.Errorf("user agent field at %d+%d, payload %d bytes", f.Offset, f.Length, got[0].PayloadLength)
	}
}

// withoutTrees checks every decoded frame carries a field tree and drops the
// trees, so the other fields compare with reflect.DeepEqual (the trees have
// their own tests in node/inspect and TestFramesCarryFieldTrees).
func withoutTrees(t *testing.T, frames []FrameSummary) []FrameSummary {
	t.Helper()
	for i := range frames {
		if frames[i].Error == "" && frames[i].Decoded == nil {
			t.Errorf("frame %d has no field tree", i)
		}
		frames[i].Decoded = nil
	}
	return frames
}

// TestDecodeCoreCapture: a Bitcoin Core capture file (no magic, a time per
// record) is recognized and each record decoded with its time.
func TestDecodeCoreCapture(t *testing.T) {
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	ping, _ := protocol.Encode(wire.NewMsgPing(7))
	file := inspect.AppendCoreRecord(nil, at, "ping", ping)
	file = inspect.AppendCoreRecord(file, at.Add(time.Millisecond), "verack", nil)
	file = append(file, 1, 2, 3) // a torn last record
	got := decodeFrames(file)
	if len(got) != 3 || got[0].Command != "ping" || got[0].Time != "2026-11-24T12:00:00Z" || got[0].Decoded == nil ||
		got[1].Command != "verack" || got[2].Error == "" || got[2].Offset != len(file)-3 {
		t.Fatalf("capture: %+v", got)
	}
}
