package utxo_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"github.com/watchnode/watchnode/node/utxo"
)

// serHex decodes a hex literal of a test, failing it on a typo.
func serHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestVarIntKnownEncodings checks AppendVarInt and ReadVarInt against
// encodings worked out by hand from serialize.h's definition; most are the
// examples in its comment table, 3,000,000,000 is from coins_tests.cpp
// (ccoins_serialization), and 2^64-1 is the longest a uint64 has.
func TestVarIntKnownEncodings(t *testing.T) {
	for _, tc := range []struct {
		n   uint64
		hex string
	}{
		{0, "00"},
		{1, "01"},
		{127, "7f"},
		{128, "8000"},
		{255, "807f"},
		{256, "8100"},
		{16383, "fe7f"},
		{16384, "ff00"},
		{16511, "ff7f"},
		{65535, "82fe7f"},
		{1 << 32, "8efefeff00"},
		{3_000_000_000, "8a95c0bb00"},
		{math.MaxUint32, "8efefefe7f"},
		{math.MaxUint64, "80fefefefefefefefe7f"},
	} {
		want := serHex(t, tc.hex)
		if got := utxo.AppendVarInt(nil, tc.n); !bytes.Equal(got, want) {
			t.Errorf("AppendVarInt(%d) = %x, want %x", tc.n, got, want)
		}
		// Trailing bytes must be left alone.
		in := append(append([]byte(nil), want...), 0x55, 0x80)
		got, n, err := utxo.ReadVarInt(in)
		if err != nil || got != tc.n || n != len(want) {
			t.Errorf("ReadVarInt(%x) = %d, %d, %v; want %d, %d, nil", in, got, n, err, tc.n, len(want))
		}
	}
}

// TestVarIntAppendsToDst checks that AppendVarInt appends, not
// overwrites.
func TestVarIntAppendsToDst(t *testing.T) {
	got := utxo.AppendVarInt([]byte{'C'}, 300)
	if want := serHex(t, "43812c"); !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

// TestVarIntRoundTrip checks values around every length boundary: the
// encoding must read back, and be one byte longer exactly when the value
// passes the largest value of the shorter length.
func TestVarIntRoundTrip(t *testing.T) {
	// The largest value of each length: 127, then (prev+1)*128+127.
	limit := uint64(127)
	for length := 1; length <= 10; length++ {
		for _, n := range []uint64{limit - 1, limit, limit + 1} {
			if limit == math.MaxUint64 && n != limit-1 && n != limit {
				continue // limit+1 wraps past 2^64-1
			}
			enc := utxo.AppendVarInt(nil, n)
			wantLen := length
			if n > limit {
				wantLen++
			}
			if len(enc) != wantLen {
				t.Errorf("VARINT(%d) is %d bytes (%x), want %d", n, len(enc), enc, wantLen)
			}
			got, used, err := utxo.ReadVarInt(enc)
			if err != nil || got != n || used != len(enc) {
				t.Errorf("ReadVarInt(%x) = %d, %d, %v; want %d", enc, got, used, err, n)
			}
		}
		// The next limit, (limit+1)*128+127, passes 2^64-1 after
		// nine bytes: ten bytes reach every uint64.
		if limit < (math.MaxUint64-127)/128-1 {
			limit = (limit+1)*128 + 127
		} else {
			limit = math.MaxUint64
		}
	}
	if limit != math.MaxUint64 {
		t.Fatalf("the ten-byte limit is %d, want 2^64-1", limit)
	}
}

// TestReadVarIntRejects checks that truncated VARINTs and VARINTs too long
// for 64 bits (Core's "size too large") are refused with a clear error.
func TestReadVarIntRejects(t *testing.T) {
	for _, tc := range []struct {
		name, hex, want string
	}{
		{"empty", "", "cut short"},
		{"continuation then nothing", "80", "cut short"},
		{"two continuations", "ffff", "cut short"},
		{"2^64", "80fefefefefefefeff00", "above 18446744073709551615"},
		{"2^64 - 1 with one more group", "80fefefefefefefefefe00", "above"},
		{"eleven bytes", "8080808080808080808000", "above"},
		{"endless continuations", "ffffffffffffffffffffffffffffff", "above"},
	} {
		_, n, err := utxo.ReadVarInt(serHex(t, tc.hex))
		if err == nil || !strings.Contains(err.Error(), tc.want) || n != 0 {
			t.Errorf("%s: ReadVarInt(%s) = _, %d, %v; want an error containing %q", tc.name, tc.hex, n, err, tc.want)
		}
	}
}
