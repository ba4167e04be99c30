package inspect

import (
	"encoding/hex"
	"encoding/json"
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
	if !strings.Contains(e[2].Error, "skipped 18 bytes") || e[2].Offset != len(ping)+len(badSum) {
		t.Errorf("garbage entry %+v", e[2])
	}
	if !strings.Contains(e[4].Error, "only 6 bytes follow") {
		t.Errorf("cut entry %+v", e[4])
	}
	if r.Messages != 3 || r.Errors != 2 || r.Bytes != len(data) {
		t.Errorf("counts %d messages, %d errors, %d bytes", r.Messages, r.Errors, r.Bytes)
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
	if e := r.Entries[0]; e.Command != "pong" || e.Length != 8 {
		t.Errorf("hex of a bare payload: %+v", e)
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
