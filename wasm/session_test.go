package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/inspect"
	"github.com/watchnode/watchnode/node/protocol"
)

// testInput returns a ping and a headers message carrying the network's
// genesis header, framed for network, as the page receives a dropped file.
func testInput(t *testing.T, network protocol.Network) inspect.Input {
	t.Helper()
	headers := wire.NewMsgHeaders()
	genesis := network.Params().GenesisBlock.Header
	if err := headers.AddBlockHeader(&genesis); err != nil {
		t.Fatal(err)
	}
	var data []byte
	for _, m := range []wire.Message{wire.NewMsgPing(42), headers} {
		frame, err := protocol.EncodeFrame(network.Magic(), m)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, frame...)
	}
	return inspect.Input{Name: "two.bin", Data: data}
}

// listJSON is the shape of open's result the tests look at.
type listJSON struct {
	Format   string
	Messages int
	Errors   int
	Entries  []struct {
		Index         int
		Command       string
		Network       string
		ChecksumValid *bool `json:"checksum_valid"`
		Summary       string
		Decoded       *inspect.Message
	}
	Error string
}

func parseList(t *testing.T, s string) listJSON {
	t.Helper()
	var l listJSON
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return l
}

func TestSessionOpenMessageExport(t *testing.T) {
	s := &session{}
	if got := s.message(0); !strings.Contains(got, "nothing is open") {
		t.Errorf("message before open: %s", got)
	}
	l := parseList(t, s.open([]inspect.Input{testInput(t, protocol.Mainnet)}, inspect.Options{}))
	if l.Format != "frames" || l.Messages != 2 || l.Errors != 0 || len(l.Entries) != 2 {
		t.Fatalf("list %+v", l)
	}
	if e := l.Entries[1]; e.Command != "headers" || e.Network != "mainnet" || !*e.ChecksumValid || e.Decoded != nil {
		t.Errorf("entry 1 %+v", e)
	}
	if !strings.Contains(l.Entries[1].Summary, "0a8ce26f") {
		t.Errorf("headers summary %q does not name the genesis hash", l.Entries[1].Summary)
	}

	var one struct {
		Command       string
		Header        *inspect.Field
		PayloadOffset int `json:"payload_offset"`
		Decoded       inspect.Message
	}
	if err := json.Unmarshal([]byte(s.message(1)), &one); err != nil || one.Decoded.Fields[0].Children[0].Name != "count" {
		t.Fatalf("message 1: %+v (%v)", one, err)
	}
	if one.Header == nil || one.Header.Children[0].Value != "f9beb4d9 (mainnet)" || one.PayloadOffset != protocol.HeaderSize {
		t.Errorf("message 1's header %+v at payload offset %d", one.Header, one.PayloadOffset)
	}
	if got := s.message(2); !strings.Contains(got, "no entry 2") {
		t.Errorf("message 2 of 2: %s", got)
	}
	// The page shows the whole frame in hex, header first.
	if p := s.raw(0); len(p) != protocol.HeaderSize+8 || string(p[4:8]) != "ping" {
		t.Errorf("ping frame %x", p)
	}

	full := parseList(t, s.export())
	if len(full.Entries) != 2 || full.Entries[0].Decoded == nil || full.Entries[1].Decoded == nil {
		t.Errorf("export without trees: %+v", full)
	}

	if got := parseList(t, s.open(nil, inspect.Options{Format: inspect.FormatPayload})); got.Error == "" {
		t.Error("a payload without a command was accepted")
	}
}

// TestOpenWithMeta checks that what the page knows of a message of the
// node's log reaches its entry, and that nonsense from the address bar is
// refused with the reason.
func TestOpenWithMeta(t *testing.T) {
	meta, err := parseMeta("2026-03-01T12:34:56.789Z", inspect.DirectionRecv, "7", "127.0.0.1:18444")
	if err != nil {
		t.Fatal(err)
	}
	in := testInput(t, protocol.Regtest)
	in.Meta = meta
	s := &session{}
	var l struct {
		Entries []struct {
			Time, Direction, Peer, Connection string
		}
	}
	if err := json.Unmarshal([]byte(s.open([]inspect.Input{in}, inspect.Options{})), &l); err != nil {
		t.Fatal(err)
	}
	for i, e := range l.Entries {
		if e.Time != "2026-03-01T12:34:56.789Z" || e.Direction != "recv" || e.Peer != "7" || e.Connection != "127.0.0.1:18444" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	for _, bad := range [][4]string{
		{"yesterday", "", "", ""},
		{"", "in", "", ""},
		{"", "", "seven", ""},
		{"", "", "", strings.Repeat("x", maxMetaText+1)},
	} {
		if _, err := parseMeta(bad[0], bad[1], bad[2], bad[3]); err == nil {
			t.Errorf("parseMeta%q accepted", bad)
		}
	}
}

// TestWarmUpCapture checks the warm-up decodes cleanly, so it runs the same
// paths a real capture does (a block, segwit transactions, checksums).
func TestWarmUpCapture(t *testing.T) {
	res, err := inspect.Open([]inspect.Input{{Data: warmUpCapture()}}, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 401 || res.Errors != 0 || res.Entries[0].Command != "block" || res.Entries[1].Error != "" ||
		!strings.Contains(res.Entries[1].Summary, "segwit") || len(res.Entries[0].Summary) == 0 {
		t.Fatalf("warm-up capture: %d messages, %d errors, first %+v, second %+v", res.Messages, res.Errors, res.Entries[0], res.Entries[1])
	}
	warmUp()
}
