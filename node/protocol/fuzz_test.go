package protocol

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/btcsuite/btcd/wire/v2"
)

// fuzzUnknownCommand is the command FuzzDecode uses for "not one we know".
const fuzzUnknownCommand = "futurecmd"

// fuzzCommands is what FuzzDecode's command byte selects from: every known
// command, then one unknown command.
var fuzzCommands = append(append([]string(nil), knownCommands...), fuzzUnknownCommand)

// fuzzCommandIndex returns the FuzzDecode command byte for command.
func fuzzCommandIndex(command string) byte {
	for i, c := range fuzzCommands {
		if c == command {
			return byte(i)
		}
	}
	return byte(len(fuzzCommands) - 1)
}

// frameSeeds returns inputs for FuzzReadFrame: every round-trip vector
// framed for mainnet, a stream of several frames, and some broken frames.
func frameSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	var stream []byte
	for _, v := range roundTripVectors() {
		b, err := EncodeFrame(Mainnet.Magic(), v.msg)
		if err != nil {
			tb.Fatalf("%s: %v", v.name, err)
		}
		seeds = append(seeds, b)
		if len(stream) < 2000 {
			stream = append(stream, b...)
		}
	}
	seeds = append(seeds, stream)

	verack := mustFrame(tb, "verack", nil)
	wrongMagic, _ := AppendFrame(nil, Regtest.Magic(), "verack", nil)
	seeds = append(seeds,
		nil,
		verack[:HeaderSize-4],
		wrongMagic,
		rawHeader(Mainnet.Magic(), cmdField("block"), 0xFFFFFFFF, [4]byte{}),
		rawHeader(Mainnet.Magic(), cmdField("ver\x00ack"), 0, Checksum(nil)),
		append(bytes.Clone(verack), mustFrame(tb, "ping", []byte("12345678"))[:30]...),
	)
	return seeds
}

// FuzzReadFrame feeds arbitrary bytes to ReadFrame until it fails. It must
// never panic, every frame it returns must re-encode to exactly the bytes it
// consumed, and reading one byte at a time must give the same result.
func FuzzReadFrame(f *testing.F) {
	for _, s := range frameSeeds(f) {
		f.Add(s)
	}
	magic := Mainnet.Magic()
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		slow := iotest.OneByteReader(bytes.NewReader(data))
		for {
			start := len(data) - r.Len()
			fr, err := ReadFrame(r, magic)
			slowFr, slowErr := ReadFrame(slow, magic)
			if (err == nil) != (slowErr == nil) || fr.Command != slowFr.Command || !bytes.Equal(fr.Payload, slowFr.Payload) {
				t.Fatalf("one-byte reader disagrees: %q/%v vs %q/%v", fr.Command, err, slowFr.Command, slowErr)
			}
			if err != nil {
				checkFrameError(t, err, start, len(data))
				return
			}
			consumed := data[start : len(data)-r.Len()]
			if len(consumed) != fr.WireSize() {
				t.Fatalf("consumed %d bytes for a frame of WireSize %d", len(consumed), fr.WireSize())
			}
			again, err := AppendFrame(nil, magic, fr.Command, fr.Payload)
			if err != nil {
				t.Fatalf("AppendFrame of a frame ReadFrame accepted: %v", err)
			}
			if !bytes.Equal(again, consumed) {
				t.Fatalf("frame re-encodes differently\n got %x\nwant %x", again, consumed)
			}
		}
	})
}

// checkFrameError checks that a ReadFrame error is one the package documents.
func checkFrameError(t *testing.T, err error, start, total int) {
	t.Helper()
	if err == io.EOF {
		if start != total {
			t.Fatalf("io.EOF with %d bytes left", total-start)
		}
		return
	}
	if start == total {
		t.Fatalf("at end of input, err = %v, want io.EOF", err)
	}
	for _, known := range []error{ErrWrongMagic, ErrBadCommand, ErrPayloadTooLarge, ErrChecksumMismatch, io.ErrUnexpectedEOF} {
		if errors.Is(err, known) {
			return
		}
	}
	t.Fatalf("unexpected error class: %v", err)
}

// FuzzDecode decodes arbitrary payloads under every command the node knows
// (and one it does not). Decode must never panic, even inside wire (it
// recovers, but a recovered panic is a wire bug worth knowing), failures must
// wrap ErrMalformed, and a decoded message must encode again without panicking.
func FuzzDecode(f *testing.F) {
	for _, v := range roundTripVectors() {
		payload, err := Encode(v.msg)
		if err != nil {
			f.Fatalf("%s: %v", v.name, err)
		}
		f.Add(fuzzCommandIndex(v.msg.Command()), payload)
	}
	for i := range fuzzCommands {
		f.Add(byte(i), []byte{})
	}
	f.Fuzz(func(t *testing.T, index byte, payload []byte) {
		command := fuzzCommands[int(index)%len(fuzzCommands)]
		msg, err := Decode(command, payload)
		if err != nil {
			if msg != nil {
				t.Fatalf("Decode returned a message with error %v", err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			if strings.Contains(err.Error(), "decoder panicked") {
				t.Fatalf("wire decoder panicked on %q payload %x: %v", command, payload, err)
			}
			return
		}
		if msg.Command() != command {
			t.Fatalf("Decode(%q) gave a %q message", command, msg.Command())
		}
		if command == fuzzUnknownCommand && !bytes.Equal(msg.(*MsgUnknown).Payload, payload) {
			t.Fatalf("unknown command payload not kept")
		}
		enc, err := Encode(msg)
		if err != nil {
			// Allowed, as long as it did not panic.
			return
		}
		// One decode normalises the message (dropped trailing bytes, skipped
		// unknown address types, ...): from there the codec must be stable.
		again, err := Decode(command, enc)
		if err != nil {
			t.Fatalf("Decode(Encode(msg)) failed: %v\npayload %x\nencoded %x", err, payload, enc)
		}
		enc2, err := Encode(again)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("codec not stable: %v\nfirst  %x\nsecond %x", err, enc, enc2)
		}
	})
}

// BenchmarkReadFrameHeaders reads and decodes a full 2000-header message.
func BenchmarkReadFrameHeaders(b *testing.B) {
	headers := wire.NewMsgHeaders()
	for i := range wire.MaxBlockHeadersPerMsg {
		h := testBlockHeader(byte(i))
		h.Nonce = uint32(i)
		if err := headers.AddBlockHeader(h); err != nil {
			b.Fatal(err)
		}
	}
	frame, err := EncodeFrame(Mainnet.Magic(), headers)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	r := bytes.NewReader(frame)
	for b.Loop() {
		r.Reset(frame)
		f, err := ReadFrame(r, Mainnet.Magic())
		if err != nil {
			b.Fatal(err)
		}
		m, err := Decode(f.Command, f.Payload)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(m.(*wire.MsgHeaders).Headers); n != wire.MaxBlockHeadersPerMsg {
			b.Fatalf("%d headers", n)
		}
	}
}
