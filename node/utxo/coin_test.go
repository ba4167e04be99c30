package utxo_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/utxo"
)

// serCoinsEqual compares two coins field by field (an empty script equals
// a nil one).
func serCoinsEqual(a, b utxo.Coin) bool {
	return a.Out.Value == b.Out.Value && bytes.Equal(a.Out.PkScript, b.Out.PkScript) &&
		a.Height == b.Height && a.Coinbase == b.Coinbase
}

// TestCoinCoreVectors decodes coins_tests.cpp's ccoins_serialization
// examples, compares every field with what the test expects, and checks
// that re-encoding gives the same bytes.
func TestCoinCoreVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  string
		want utxo.Coin
	}{
		{"good example 1", "97f23c835800816115944e077fe7c803cfa57f29b36bf87c1d35", utxo.Coin{
			Out:    wire.TxOut{Value: 60_000_000_000, PkScript: serHex(t, "76a914816115944e077fe7c803cfa57f29b36bf87c1d3588ac")},
			Height: 203998,
		}},
		{"good example 2", "8ddf77bbd123008c988f1a4a4de2161e0f50aac7f17e7f9555caa4", utxo.Coin{
			Out:      wire.TxOut{Value: 110397, PkScript: serHex(t, "76a9148c988f1a4a4de2161e0f50aac7f17e7f9555caa488ac")},
			Height:   120891,
			Coinbase: true,
		}},
		{"smallest possible", "000006", utxo.Coin{}},
	} {
		in := serHex(t, tc.hex)
		got, n, err := utxo.DecodeCoin(in)
		if err != nil || n != len(in) {
			t.Errorf("%s: DecodeCoin: %d bytes used of %d, %v", tc.name, n, len(in), err)
			continue
		}
		if !serCoinsEqual(got, tc.want) {
			t.Errorf("%s: decoded %+v, want %+v", tc.name, got, tc.want)
		}
		if enc := utxo.AppendCoin(nil, &got); !bytes.Equal(enc, in) {
			t.Errorf("%s: re-encoded to %x, want %x", tc.name, enc, in)
		}
		if enc := utxo.AppendCoin(nil, &tc.want); !bytes.Equal(enc, in) {
			t.Errorf("%s: encoded to %x, want %x", tc.name, enc, in)
		}
		// A coin is read from the start; what follows is not its.
		if _, n, err := utxo.DecodeCoin(append(in, 0xff, 0xff)); err != nil || n != len(in) {
			t.Errorf("%s: with trailing bytes: %d used, %v", tc.name, n, err)
		}
	}
}

// TestDecodeCoinRejects checks the refusals: coins_tests.cpp's two
// scripts past the end of the stream (the second claims 3*10^9 bytes and
// must fail without allocating them), then codes, amounts and keys out of
// range.
func TestDecodeCoinRejects(t *testing.T) {
	amount := func(x uint64) string { return string(utxo.AppendVarInt(nil, x)) }
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"script past the end (Core)", serHex(t, "000007"), "script at offset 2 needs 1 more bytes, 0 left"},
		{"3e9-byte script past the end (Core)", serHex(t, "00008a95c0bb00"), "oversized script at offset 2 needs 2999999994 more bytes, 0 left"},
		{"empty", nil, "height code at offset 0: VARINT cut short"},
		{"no amount", serHex(t, "00"), "amount at offset 1: VARINT cut short"},
		{"no script", serHex(t, "0000"), "script size at offset 2: VARINT cut short"},
		{"code above 32 bits", serHex(t, "8efefeff00 00 06"), "height code at offset 0: VARINT above 4294967295"},
		{"amount above MaxMoney", []byte("\x00" + amount(utxo.CompressAmount(consensus.MaxMoney+1)) + "\x06"), "above MaxMoney"},
		{"amount that overflows", []byte("\x00" + amount(math.MaxUint64) + "\x06"), "overflows 64 bits"},
		// 18446744074 * 10^9 passes 2^64 by 290,448,384: wrapped, it would
		// look like a fine amount of 2.9 BTC.
		{"amount that wraps small", []byte("\x00" + amount(1+10*(18_446_744_074-1)+9) + "\x06"), "overflows 64 bits"},
		{"amount VARINT above 64 bits", serHex(t, "00 80fefefefefefefeff00 06"), "amount at offset 1: VARINT above"},
		{"uncompressed key off the curve", append(serHex(t, "0000 04"), serOffCurveX(t)...), "script at offset 2: uncompressed P2PK form 4: x is not a secp256k1 point"},
	} {
		c, n, err := utxo.DecodeCoin(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || n != 0 || !serCoinsEqual(c, utxo.Coin{}) {
			t.Errorf("%s: DecodeCoin(%x) = %+v, %d, %v; want an error containing %q", tc.name, tc.in, c, n, err, tc.want)
		} else if !strings.HasPrefix(err.Error(), "utxo: coin: ") {
			t.Errorf("%s: error %q lacks the package prefix", tc.name, err)
		}
	}
}

// TestCoinRoundTrip checks coins at the edges of every field: the largest
// height and code, MaxMoney, and each kind of script.
func TestCoinRoundTrip(t *testing.T) {
	hash := "816115944e077fe7c803cfa57f29b36bf87c1d35"
	for _, c := range []utxo.Coin{
		{Out: wire.TxOut{Value: consensus.MaxMoney, PkScript: serHex(t, "0014"+hash)}, Height: math.MaxInt32, Coinbase: true},
		{Out: wire.TxOut{Value: 1, PkScript: serHex(t, "a914"+hash+"87")}, Height: 1},
		{Out: wire.TxOut{Value: 546, PkScript: serHex(t, "4104"+serGx+serGy+"ac")}, Height: 170},
		{Out: wire.TxOut{Value: 0, PkScript: serHex(t, "6a0b68656c6c6f20776f726c64")}, Height: 800_000},
		{Out: wire.TxOut{Value: 12_345_678, PkScript: bytes.Repeat([]byte{0x61}, 10_000)}, Height: 2},
	} {
		enc := utxo.AppendCoin(nil, &c)
		got, n, err := utxo.DecodeCoin(enc)
		if err != nil || n != len(enc) || !serCoinsEqual(got, c) {
			t.Errorf("coin %d/%v: decoded %+v, %d, %v", c.Height, c.Coinbase, got, n, err)
		}
	}
	// The largest code Core's 32-bit read takes: height 2^31-1, coinbase.
	if enc := utxo.AppendCoin(nil, &utxo.Coin{Height: math.MaxInt32, Coinbase: true}); !bytes.Equal(enc[:5], serHex(t, "8efefefe7f")) {
		t.Errorf("largest code encoded as %x", enc)
	}
}

// serP2WPKHCoin is the coin the benchmarks use: the most common kind of
// output today, which the compressor stores raw (22 bytes).
func serP2WPKHCoin(tb testing.TB) utxo.Coin {
	return utxo.Coin{
		Out:    wire.TxOut{Value: 1_234_567, PkScript: serHex(tb, "0014816115944e077fe7c803cfa57f29b36bf87c1d35")},
		Height: 850_000,
	}
}

func BenchmarkAppendCoin(b *testing.B) {
	c := serP2WPKHCoin(b)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = utxo.AppendCoin(buf[:0], &c)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeCoin(b *testing.B) {
	c := serP2WPKHCoin(b)
	enc := utxo.AppendCoin(nil, &c)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := utxo.DecodeCoin(enc); err != nil {
			b.Fatal(err)
		}
	}
}
