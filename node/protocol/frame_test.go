package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/btcsuite/btcd/wire/v2"
)

var testMagic = Mainnet.Magic()

// mustFrame frames payload under command for the test magic.
func mustFrame(t testing.TB, command string, payload []byte) []byte {
	t.Helper()
	b, err := AppendFrame(nil, testMagic, command, payload)
	if err != nil {
		t.Fatalf("AppendFrame(%q): %v", command, err)
	}
	return b
}

// rawHeader builds a 24-byte header by hand, bypassing AppendFrame's checks.
func rawHeader(magic wire.BitcoinNet, command [CommandSize]byte, length uint32, sum [4]byte) []byte {
	var h [HeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(magic))
	copy(h[4:16], command[:])
	binary.LittleEndian.PutUint32(h[16:20], length)
	copy(h[20:24], sum[:])
	return h[:]
}

func cmdField(s string) [CommandSize]byte {
	var c [CommandSize]byte
	copy(c[:], s)
	return c
}

// countingReader counts the bytes handed out by the wrapped reader.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestChecksumEmptyPayload(t *testing.T) {
	got := Checksum(nil)
	if h := hex.EncodeToString(got[:]); h != "5df6e0e2" {
		t.Fatalf("Checksum(nil) = %s, want 5df6e0e2", h)
	}
	got = Checksum([]byte{})
	if h := hex.EncodeToString(got[:]); h != "5df6e0e2" {
		t.Fatalf("Checksum([]byte{}) = %s, want 5df6e0e2", h)
	}
}

func TestAppendFrameLayout(t *testing.T) {
	// A verack on mainnet, byte for byte.
	want, _ := hex.DecodeString("f9beb4d9" + "76657261636b000000000000" + "00000000" + "5df6e0e2")
	got := mustFrame(t, wire.CmdVerAck, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("verack frame\n got %x\nwant %x", got, want)
	}

	// AppendFrame appends to dst rather than overwriting it.
	prefix := []byte("prefix")
	out, err := AppendFrame(append([]byte(nil), prefix...), testMagic, "ping", []byte{1, 2, 3, 4, 5, 6, 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, prefix) || len(out) != len(prefix)+HeaderSize+8 {
		t.Fatalf("AppendFrame did not append: %x", out)
	}
	f := Frame{Payload: make([]byte, 8)}
	if f.WireSize() != HeaderSize+8 {
		t.Fatalf("WireSize = %d", f.WireSize())
	}
}

func TestReadFrame(t *testing.T) {
	payload := []byte("some payload bytes")
	valid := mustFrame(t, "ping", payload)
	sum := Checksum(payload)

	badSum := bytes.Clone(valid)
	badSum[20] ^= 0xff

	wrongMagic := bytes.Clone(valid)
	binary.LittleEndian.PutUint32(wrongMagic[0:4], uint32(Regtest.Magic()))

	withCommand := func(cmd [CommandSize]byte) []byte {
		return append(rawHeader(testMagic, cmd, uint32(len(payload)), sum), payload...)
	}
	var full12 [CommandSize]byte
	copy(full12[:], "abcdefghijkl")

	tests := []struct {
		name    string
		input   []byte
		wantErr error // nil: success
		wantCmd string
	}{
		{name: "valid", input: valid, wantCmd: "ping"},
		{name: "valid 12-byte command", input: withCommand(full12), wantCmd: "abcdefghijkl"},
		{name: "valid empty payload", input: mustFrame(t, "verack", nil), wantCmd: "verack"},
		{name: "trailing bytes after frame ignored", input: append(bytes.Clone(valid), 0xde, 0xad), wantCmd: "ping"},
		{name: "wrong magic", input: wrongMagic, wantErr: ErrWrongMagic},
		{name: "bad checksum", input: badSum, wantErr: ErrChecksumMismatch},
		{name: "payload altered", input: append(bytes.Clone(valid[:len(valid)-1]), valid[len(valid)-1]^1), wantErr: ErrChecksumMismatch},
		{name: "command control byte", input: withCommand(cmdField("pi\x01g")), wantErr: ErrBadCommand},
		{name: "command DEL byte", input: withCommand(cmdField("pin\x7f")), wantErr: ErrBadCommand},
		{name: "command high byte", input: withCommand(cmdField("p\xe9ng")), wantErr: ErrBadCommand},
		{name: "command space allowed", input: withCommand(cmdField("a b")), wantCmd: "a b"},
		{name: "non-NUL after NUL padding", input: withCommand(cmdField("ping\x00x")), wantErr: ErrBadCommand},
		{name: "non-NUL in last byte of padding", input: withCommand(cmdField("ping\x00\x00\x00\x00\x00\x00\x00\x01")), wantErr: ErrBadCommand},
		{name: "empty command", input: withCommand(cmdField("")), wantErr: ErrBadCommand},
		{name: "empty command with junk", input: withCommand(cmdField("\x00ping")), wantErr: ErrBadCommand},
		{name: "truncated header", input: valid[:10], wantErr: io.ErrUnexpectedEOF},
		{name: "header one byte short", input: valid[:HeaderSize-1], wantErr: io.ErrUnexpectedEOF},
		{name: "header only, payload missing", input: valid[:HeaderSize], wantErr: io.ErrUnexpectedEOF},
		{name: "truncated payload", input: valid[:len(valid)-1], wantErr: io.ErrUnexpectedEOF},
		{name: "clean EOF", input: nil, wantErr: io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var r io.Reader = bytes.NewReader(tc.input)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				f, err := ReadFrame(r, testMagic)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("oneByte=%v: err = %v, want errors.Is %v", oneByte, err, tc.wantErr)
					}
					if tc.wantErr == io.EOF && err != io.EOF {
						t.Fatalf("clean end of stream must be io.EOF itself, got %#v", err)
					}
					if tc.wantErr != io.EOF && errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("a cut frame must not look like a clean EOF: %v", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("oneByte=%v: unexpected error %v", oneByte, err)
				}
				if f.Command != tc.wantCmd {
					t.Fatalf("command = %q, want %q", f.Command, tc.wantCmd)
				}
				if f.Checksum != Checksum(f.Payload) {
					t.Fatalf("Checksum field %x does not match payload", f.Checksum)
				}
				if f.WireSize() != HeaderSize+len(f.Payload) {
					t.Fatalf("WireSize = %d", f.WireSize())
				}
			}
		})
	}
}

func TestReadFrameValidContent(t *testing.T) {
	payload := bytes.Repeat([]byte{0xab, 0xcd}, 100_000) // 200 KB: spans several buffer growths
	in := mustFrame(t, "block", payload)
	for _, oneByte := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(in)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		f, err := ReadFrame(r, testMagic)
		if err != nil {
			t.Fatal(err)
		}
		if f.Command != "block" || !bytes.Equal(f.Payload, payload) || f.Checksum != Checksum(payload) {
			t.Fatalf("oneByte=%v: frame mismatch: cmd %q len %d", oneByte, f.Command, len(f.Payload))
		}
	}
}

func TestReadFrameOversized(t *testing.T) {
	for _, length := range []uint32{0xFFFFFFFF, MaxPayload + 1, 1 << 31} {
		hdr := rawHeader(testMagic, cmdField("block"), length, [4]byte{})
		// Plenty of bytes follow the header: none of them may be read.
		cr := &countingReader{r: io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(make([]byte, 1<<20)))}
		_, err := ReadFrame(cr, testMagic)
		if !errors.Is(err, ErrPayloadTooLarge) {
			t.Fatalf("length %d: err = %v, want ErrPayloadTooLarge", length, err)
		}
		if cr.n != HeaderSize {
			t.Fatalf("length %d: read %d bytes before rejecting, want exactly %d", length, cr.n, HeaderSize)
		}
	}

	// Exactly MaxPayload is allowed.
	payload := make([]byte, MaxPayload)
	f, err := ReadFrame(bytes.NewReader(mustFrame(t, "block", payload)), testMagic)
	if err != nil || len(f.Payload) != MaxPayload {
		t.Fatalf("MaxPayload frame: len %d err %v", len(f.Payload), err)
	}
}

// TestReadFrameRejectsBeforePayload checks that header errors are reported
// without consuming any payload bytes.
func TestReadFrameRejectsBeforePayload(t *testing.T) {
	payload := []byte("0123456789")
	good := mustFrame(t, "ping", payload)
	wrongMagic := bytes.Clone(good)
	wrongMagic[0] ^= 1
	badCmd := bytes.Clone(good)
	badCmd[5] = 0x01
	for name, in := range map[string][]byte{"magic": wrongMagic, "command": badCmd} {
		cr := &countingReader{r: bytes.NewReader(in)}
		if _, err := ReadFrame(cr, testMagic); err == nil {
			t.Fatalf("%s: no error", name)
		}
		if cr.n != HeaderSize {
			t.Fatalf("%s: read %d bytes, want %d", name, cr.n, HeaderSize)
		}
	}
}

func TestReadFrameBackToBack(t *testing.T) {
	type msg struct {
		cmd     string
		payload []byte
	}
	msgs := []msg{
		{"version", bytes.Repeat([]byte{1}, 102)},
		{"verack", nil},
		{"ping", []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{"sendcmpct", []byte{0, 2, 0, 0, 0, 0, 0, 0, 0}},
		{"somefuture", []byte("unknown")},
		{"headers", bytes.Repeat([]byte{7}, 70_000)},
	}
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, mustFrame(t, m.cmd, m.payload)...)
	}
	for _, oneByte := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(stream)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		for i, m := range msgs {
			f, err := ReadFrame(r, testMagic)
			if err != nil {
				t.Fatalf("oneByte=%v frame %d: %v", oneByte, i, err)
			}
			if f.Command != m.cmd || !bytes.Equal(f.Payload, m.payload) {
				t.Fatalf("oneByte=%v frame %d: got %q/%d bytes, want %q/%d bytes", oneByte, i, f.Command, len(f.Payload), m.cmd, len(m.payload))
			}
		}
		if _, err := ReadFrame(r, testMagic); err != io.EOF {
			t.Fatalf("oneByte=%v: after last frame err = %v, want io.EOF", oneByte, err)
		}
	}
}

func TestReadFrameOtherReaders(t *testing.T) {
	in := mustFrame(t, "ping", []byte{1, 2, 3, 4, 5, 6, 7, 8})
	readers := map[string]io.Reader{
		"half":    iotest.HalfReader(bytes.NewReader(in)),
		"dataerr": iotest.DataErrReader(bytes.NewReader(in)),
	}
	for name, r := range readers {
		f, err := ReadFrame(r, testMagic)
		if err != nil || f.Command != "ping" {
			t.Fatalf("%s: %q %v", name, f.Command, err)
		}
	}

	// A non-EOF read error is passed through.
	boom := errors.New("boom")
	_, err := ReadFrame(iotest.ErrReader(boom), testMagic)
	if !errors.Is(err, boom) {
		t.Fatalf("header read error: %v", err)
	}
	_, err = ReadFrame(io.MultiReader(bytes.NewReader(in[:HeaderSize+3]), iotest.ErrReader(boom)), testMagic)
	if !errors.Is(err, boom) {
		t.Fatalf("payload read error: %v", err)
	}
}

// stallingReader hands out data, then, where a real peer connection would
// block, calls onStall once and reports end of stream.
type stallingReader struct {
	data    []byte
	onStall func()
}

func (s *stallingReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		if s.onStall != nil {
			s.onStall()
			s.onStall = nil
		}
		return 0, io.EOF
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// TestReadFrameBoundedAllocation announces a MaxPayload message, sends ten
// bytes of it and stalls: the reader must not have reserved the full payload.
func TestReadFrameBoundedAllocation(t *testing.T) {
	const limit = 200 << 10
	hdr := rawHeader(testMagic, cmdField("block"), MaxPayload, [4]byte{})
	in := append(hdr, make([]byte, 10)...)

	// Warm up so one-time allocations do not count.
	if _, err := ReadFrame(&stallingReader{data: in}, testMagic); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("warm-up: err = %v, want io.ErrUnexpectedEOF", err)
	}

	const runs = 20
	var before, after runtime.MemStats
	var stallTotal uint64
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		var start, stall runtime.MemStats
		r := &stallingReader{data: in, onStall: func() { runtime.ReadMemStats(&stall) }}
		runtime.ReadMemStats(&start)
		_, err := ReadFrame(r, testMagic)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
		stallTotal += stall.TotalAlloc - start.TotalAlloc
	}
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / runs
	perStall := stallTotal / runs
	t.Logf("allocated %d bytes per run, %d bytes at the stall (MaxPayload %d)", perRun, perStall, MaxPayload)
	if perStall > limit {
		t.Fatalf("ReadFrame had allocated %d bytes when the peer stalled, want < %d", perStall, limit)
	}
	if perRun > limit {
		t.Fatalf("ReadFrame allocated %d bytes per run, want < %d", perRun, limit)
	}

	// AllocsPerRun counts allocations rather than bytes: a few dozen at most
	// (error formatting; the race detector adds some).
	allocs := testing.AllocsPerRun(20, func() {
		_, _ = ReadFrame(&stallingReader{data: in}, testMagic)
	})
	if allocs > 32 {
		t.Fatalf("%.0f allocations per failed read", allocs)
	}
}

func TestAppendFrameErrors(t *testing.T) {
	tests := []struct {
		name    string
		command string
		payload []byte
		wantErr error
	}{
		{"empty command", "", nil, ErrBadCommand},
		{"13-byte command", "abcdefghijklm", nil, ErrBadCommand},
		{"oversized payload", "block", make([]byte, MaxPayload+1), ErrPayloadTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := AppendFrame([]byte("keep"), testMagic, tc.command, tc.payload)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if out != nil {
				t.Fatalf("output on error: %x", out)
			}
		})
	}
	// The limits themselves are fine.
	if _, err := AppendFrame(nil, testMagic, strings.Repeat("a", CommandSize), make([]byte, MaxPayload)); err != nil {
		t.Fatalf("12-byte command, MaxPayload payload: %v", err)
	}
}

// TestAppendFrameUnreadableCommand documents that AppendFrame only checks the
// command's length: a command ReadFrame would reject still gets framed.
func TestAppendFrameUnreadableCommand(t *testing.T) {
	for _, cmd := range []string{"a\x00b", "ping\x01", "caf\xc3\xa9"} {
		b, err := AppendFrame(nil, testMagic, cmd, nil)
		if err != nil {
			continue // AppendFrame got stricter: fine.
		}
		if _, err := ReadFrame(bytes.NewReader(b), testMagic); !errors.Is(err, ErrBadCommand) {
			t.Fatalf("%q: AppendFrame output read back with err %v", cmd, err)
		}
	}
}

func TestMagicOnTheWire(t *testing.T) {
	tests := []struct {
		net  Network
		want string
	}{
		{Mainnet, "f9beb4d9"},
		{Testnet3, "0b110907"},
		{Testnet4, "1c163f28"},
		{Regtest, "fabfb5da"},
	}
	for _, tc := range tests {
		b, err := AppendFrame(nil, tc.net.Magic(), "verack", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b[:4]); got != tc.want {
			t.Errorf("%s magic on the wire = %s, want %s", tc.net, got, tc.want)
		}
		if _, err := ReadFrame(bytes.NewReader(b), tc.net.Magic()); err != nil {
			t.Errorf("%s: %v", tc.net, err)
		}
	}
}
