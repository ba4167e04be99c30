package utxo_test

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/utxo"
)

// serUndoEqual compares two BlockUndos coin by coin (empty and nil slices
// are equal).
func serUndoEqual(a, b *utxo.BlockUndo) bool {
	if len(a.Txs) != len(b.Txs) {
		return false
	}
	for i := range a.Txs {
		x, y := a.Txs[i].Spent, b.Txs[i].Spent
		if len(x) != len(y) {
			return false
		}
		for j := range x {
			if !serCoinsEqual(x[j], y[j]) {
				return false
			}
		}
	}
	return true
}

// serMixedUndo is a BlockUndo with every kind of script, heights 0 and
// above, coinbase and not, and a transaction that spent nothing.
func serMixedUndo(tb testing.TB) *utxo.BlockUndo {
	hash := "816115944e077fe7c803cfa57f29b36bf87c1d35"
	odd := serOddKey(tb).SerializeUncompressed()
	out := func(v int64, script string) wire.TxOut { return wire.TxOut{Value: v, PkScript: serHex(tb, script)} }
	return &utxo.BlockUndo{Txs: []utxo.TxUndo{
		{Spent: []utxo.Coin{
			{Out: out(5_000_000_000, "76a914"+hash+"88ac"), Height: 0, Coinbase: true},
			{Out: out(1, "a914"+hash+"87"), Height: 1},
		}},
		{Spent: []utxo.Coin{
			{Out: out(50*serCoin, "2102"+serGx+"ac"), Height: 9, Coinbase: true},
			{Out: out(123_456_789, "4104"+serGx+serGy+"ac"), Height: 128},
			{Out: wire.TxOut{Value: 7, PkScript: serP2PK(odd)}, Height: 500_000},
			{Out: out(0, ""), Height: 0},
		}},
		{},
		{Spent: []utxo.Coin{
			{Out: out(294, "0014"+hash), Height: 481_824},
			{Out: out(330, "5120"+serGx), Height: 709_632},
			{Out: out(0, "6a04deadbeef"), Height: 2_000_000_000},
		}},
	}}
}

// TestBlockUndoKnownBytes checks the layout against bytes worked out by
// hand from undo.h: counts as CompactSize, VARINT(height*2+coinbase), the
// dummy version 00 only when the height is above zero, then the output.
func TestBlockUndoKnownBytes(t *testing.T) {
	u := &utxo.BlockUndo{Txs: []utxo.TxUndo{{Spent: []utxo.Coin{
		{},
		{Out: wire.TxOut{Value: 1, PkScript: []byte{0x51}}, Height: 1, Coinbase: true},
		{Out: wire.TxOut{Value: 60_000_000_000, PkScript: serHex(t, "76a914816115944e077fe7c803cfa57f29b36bf87c1d3588ac")}, Height: 203998},
	}}}}
	want := serHex(t, "01 03"+
		" 00 00 06"+ // height 0: code 0, no dummy, amount 0, empty raw script
		" 03 00 01 07 51"+ // code 1*2+1, dummy, amount 1, raw OP_TRUE
		" 97f23c 00 8358 00816115944e077fe7c803cfa57f29b36bf87c1d35") // Core's coin vector with the dummy
	got := utxo.AppendBlockUndo(nil, u)
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded\n %x\nwant\n %x", got, want)
	}
	back, err := utxo.DecodeBlockUndo(want)
	if err != nil || !serUndoEqual(back, u) {
		t.Fatalf("decoded %+v, %v", back, err)
	}
	if got := utxo.AppendBlockUndo(nil, &utxo.BlockUndo{}); !bytes.Equal(got, []byte{0}) {
		t.Errorf("empty BlockUndo encoded as %x", got)
	}
}

// TestBlockUndoRoundTrip checks that a mixed BlockUndo reads back the same
// and that its bytes are a fixed point of decode then encode.
func TestBlockUndoRoundTrip(t *testing.T) {
	u := serMixedUndo(t)
	enc := utxo.AppendBlockUndo([]byte("prefix"), u)
	if string(enc[:6]) != "prefix" {
		t.Fatal("AppendBlockUndo overwrote dst")
	}
	enc = enc[6:]
	got, err := utxo.DecodeBlockUndo(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !serUndoEqual(got, u) {
		t.Fatalf("decoded\n %+v\nwant\n %+v", got, u)
	}
	if again := utxo.AppendBlockUndo(nil, got); !bytes.Equal(again, enc) {
		t.Fatalf("re-encoded to different bytes")
	}
}

// TestDecodeBlockUndoLegacyVersion checks that the dummy version is read
// at any value that fits 32 bits, as Core reads it, and dropped (written
// back as 0), and that one beyond 32 bits is refused.
func TestDecodeBlockUndoLegacyVersion(t *testing.T) {
	for _, tc := range []struct {
		dummy string
		ok    bool
	}{
		{"01", true},
		{"8000", true},
		{"8efefefe7f", true},
		{"8efefeff00", false},
	} {
		in := serHex(t, "01 01 02"+tc.dummy+"01 0751")
		u, err := utxo.DecodeBlockUndo(in)
		if !tc.ok {
			if err == nil || !strings.Contains(err.Error(), "legacy version at offset 3: VARINT above 4294967295") {
				t.Errorf("dummy %s: %v; want it refused", tc.dummy, err)
			}
			continue
		}
		want := &utxo.BlockUndo{Txs: []utxo.TxUndo{{Spent: []utxo.Coin{{Out: wire.TxOut{Value: 1, PkScript: []byte{0x51}}, Height: 1}}}}}
		if err != nil || !serUndoEqual(u, want) {
			t.Errorf("dummy %s: %+v, %v", tc.dummy, u, err)
			continue
		}
		if enc := utxo.AppendBlockUndo(nil, u); !bytes.Equal(enc, serHex(t, "01 01 02 00 01 0751")) {
			t.Errorf("dummy %s: re-encoded as %x", tc.dummy, enc)
		}
	}
}

// TestDecodeBlockUndoTruncatedAndTrailing checks that every proper prefix
// of a valid encoding is refused, and so is anything after it.
func TestDecodeBlockUndoTruncatedAndTrailing(t *testing.T) {
	enc := utxo.AppendBlockUndo(nil, serMixedUndo(t))
	for i := range enc {
		if u, err := utxo.DecodeBlockUndo(enc[:i]); err == nil {
			t.Fatalf("a %d-byte prefix of %d decoded: %+v", i, len(enc), u)
		} else if !strings.HasPrefix(err.Error(), "utxo: block undo: ") {
			t.Fatalf("prefix %d: error %q lacks the prefix", i, err)
		}
	}
	_, err := utxo.DecodeBlockUndo(append(enc, 0))
	want := "utxo: block undo: 1 trailing bytes at offset " + strconv.Itoa(len(enc))
	if err == nil || err.Error() != want {
		t.Fatalf("trailing byte: %v; want %q", err, want)
	}
	_, err = utxo.DecodeBlockUndo(enc[:len(enc)-1])
	if err == nil || !strings.Contains(err.Error(), "tx 3: coin 2: script at offset") {
		t.Fatalf("last byte missing: %v; want the last coin's script named", err)
	}
}

// serHostileCounts are undo records whose counts promise far more items
// than their bytes could hold.
var serHostileCounts = []struct {
	name, hex, want string
}{
	{"2^60 transactions in 10 bytes", "ff0000000000000010 00", "transaction count at offset 0: 1152921504606846976 is above Core's MAX_SIZE"},
	{"2^60 coins in 11 bytes", "01 ff0000000000000010 00", "tx 0: spent-coin count at offset 1: 1152921504606846976 is above Core's MAX_SIZE"},
	{"MAX_SIZE transactions in 10 bytes", "fe00000002 0000000000", "transaction count at offset 0: 33554432 items need at least 1 bytes each, 5 left"},
	{"MAX_SIZE coins in 10 bytes", "01 fe00000002 00000000", "tx 0: spent-coin count at offset 1: 33554432 items need at least 3 bytes each, 4 left"},
	{"100,000 coins in 10 bytes", "01 fea0860100 00000000", "100000 items need at least 3 bytes each, 4 left"},
	{"4 coins in 11 bytes", "01 04 000006 000006 000006", "4 items need at least 3 bytes each, 9 left"},
}

// TestDecodeBlockUndoCounts checks the refusal of counts: too large for
// the bytes left or for Core's MAX_SIZE, and not in CompactSize's
// shortest form.
func TestDecodeBlockUndoCounts(t *testing.T) {
	cases := append([]struct{ name, hex, want string }(nil), serHostileCounts...)
	cases = append(cases, []struct{ name, hex, want string }{
		{"empty", "", "transaction count at offset 0 needs 1 more bytes, 0 left"},
		{"count cut short", "fd01", "transaction count at offset 0 needs 2 more bytes, 1 left"},
		{"non-canonical 2-byte count", "fd0100 00", "non-canonical CompactSize (1 in 3 bytes)"},
		{"non-canonical 4-byte count", "01 fe00010000", "tx 0: spent-coin count at offset 1: non-canonical CompactSize (256 in 5 bytes)"},
		{"non-canonical 8-byte count", "ffffffffff00000000", "non-canonical CompactSize (4294967295 in 9 bytes)"},
		{"fewer txs than declared", "02 01 000006", "tx 1: spent-coin count at offset 5 needs 1 more bytes, 0 left"},
	}...)
	for _, tc := range cases {
		u, err := utxo.DecodeBlockUndo(serHex(t, tc.hex))
		if err == nil || !strings.Contains(err.Error(), tc.want) || u != nil {
			t.Errorf("%s: %+v, %v; want an error containing %q", tc.name, u, err, tc.want)
		}
	}
	// The smallest canonical 2-byte count is fine.
	in := append(serHex(t, "fdfd00"), make([]byte, 0xfd)...)
	if u, err := utxo.DecodeBlockUndo(in); err != nil || len(u.Txs) != 0xfd {
		t.Errorf("253 empty txs: %v", err)
	}
}

// TestDecodeBlockUndoHostileCountsAllocateLittle checks that a count
// promising more than the bytes hold fails before anything is allocated
// for it: a few small allocations for the error, whatever the count.
func TestDecodeBlockUndoHostileCountsAllocateLittle(t *testing.T) {
	for _, tc := range serHostileCounts {
		in := serHex(t, tc.hex)
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := utxo.DecodeBlockUndo(in); err == nil {
				t.Fatalf("%s: decoded", tc.name)
			}
		})
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const runs = 20
		for range runs {
			_, _ = utxo.DecodeBlockUndo(in)
		}
		runtime.ReadMemStats(&after)
		perRun := (after.TotalAlloc - before.TotalAlloc) / runs
		// The count of allocations is the error's formatting, a few more under
		// the race detector; the bytes are what a hostile count must not grow.
		if allocs > 16 || perRun > 2048 {
			t.Errorf("%s: %.0f allocations, %d bytes a run; want at most 16 and 2 KiB", tc.name, allocs, perRun)
		}
	}
}
