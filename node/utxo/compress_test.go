package utxo_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/watchnode/watchnode/node/utxo"
)

const (
	serCent = 1_000_000
	serCoin = 100_000_000
)

// TestCompressAmountCoreVectors is compress_tests.cpp's compress_amounts:
// its known pairs, then its round trips over small amounts, cents, whole
// coins, multiples of 50 coins, and the first 100,000 compressed values.
func TestCompressAmountCoreVectors(t *testing.T) {
	for _, p := range []struct{ dec, enc uint64 }{
		{0, 0x0},
		{1, 0x1},
		{serCent, 0x7},
		{serCoin, 0x9},
		{50 * serCoin, 0x32},
		{21_000_000 * serCoin, 0x1406f40},
	} {
		if got := utxo.CompressAmount(p.dec); got != p.enc {
			t.Errorf("CompressAmount(%d) = %#x, want %#x", p.dec, got, p.enc)
		}
		if got := utxo.DecompressAmount(p.enc); got != p.dec {
			t.Errorf("DecompressAmount(%#x) = %d, want %d", p.enc, got, p.dec)
		}
	}
	encode := func(in uint64) {
		if got := utxo.DecompressAmount(utxo.CompressAmount(in)); got != in {
			t.Fatalf("DecompressAmount(CompressAmount(%d)) = %d", in, got)
		}
	}
	for i := uint64(1); i <= 100_000; i++ {
		encode(i)
	}
	for i := uint64(1); i <= 10_000; i++ {
		encode(i * serCent)
	}
	for i := uint64(1); i <= 10_000; i++ {
		encode(i * serCoin)
	}
	for i := uint64(1); i <= 420_000; i++ {
		encode(i * 50 * serCoin)
	}
	for i := uint64(0); i < 100_000; i++ {
		if got := utxo.CompressAmount(utxo.DecompressAmount(i)); got != i {
			t.Fatalf("CompressAmount(DecompressAmount(%d)) = %d", i, got)
		}
	}
}

// The generator G of secp256k1 (SEC 2), whose y is even.
const (
	serGx = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
	serGy = "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
)

// serOddKey returns a valid public key whose y is odd, found
// deterministically.
func serOddKey(tb testing.TB) *btcec.PublicKey {
	tb.Helper()
	for k := byte(2); k != 0; k++ {
		_, pub := btcec.PrivKeyFromBytes([]byte{k})
		if pub.SerializeCompressed()[0] == 0x03 {
			return pub
		}
	}
	tb.Fatal("no key with odd y")
	return nil
}

// serOffCurveX returns an x that is below the field prime but is no
// point's x coordinate, found deterministically (as compress_tests.cpp's
// compress_p2pk_scripts_not_on_curve draws one at random).
func serOffCurveX(tb testing.TB) []byte {
	tb.Helper()
	for i := 1; i < 256; i++ {
		x := make([]byte, 32)
		x[31] = byte(i)
		if _, err := btcec.ParsePubKey(append([]byte{0x02}, x...)); err != nil {
			return x
		}
	}
	tb.Fatal("no x off the curve")
	return nil
}

// serP2PK is <key> OP_CHECKSIG.
func serP2PK(key []byte) []byte {
	s := append([]byte{byte(len(key))}, key...)
	return append(s, 0xac)
}

// TestCompressScriptSpecialForms checks the six special forms (Core's
// compress_script_to_ckey_id, _to_cscript_id, _to_compressed_pubkey_id and
// _to_uncompressed_pubkey_id, with fixed keys): the exact compressed bytes,
// and that reading them gives the script back.
func TestCompressScriptSpecialForms(t *testing.T) {
	hash := "816115944e077fe7c803cfa57f29b36bf87c1d35"
	_, g := btcec.PrivKeyFromBytes([]byte{1})
	if got := g.SerializeUncompressed(); !bytes.Equal(got, serHex(t, "04"+serGx+serGy)) {
		t.Fatalf("btcec's G is %x", got)
	}
	odd := serOddKey(t)
	oddFull := odd.SerializeUncompressed()
	if oddFull[64]&1 != 1 {
		t.Fatal("odd key has even y")
	}
	for _, tc := range []struct {
		name   string
		script []byte
		want   []byte
	}{
		{"P2PKH", serHex(t, "76a914"+hash+"88ac"), serHex(t, "00"+hash)},
		{"P2SH", serHex(t, "a914"+hash+"87"), serHex(t, "01"+hash)},
		{"P2PK compressed, even", serHex(t, "2102"+serGx+"ac"), serHex(t, "02"+serGx)},
		{"P2PK compressed, odd", serP2PK(odd.SerializeCompressed()), append([]byte{0x03}, oddFull[1:33]...)},
		{"P2PK uncompressed, even y", serHex(t, "4104"+serGx+serGy+"ac"), serHex(t, "04"+serGx)},
		{"P2PK uncompressed, odd y", serP2PK(oddFull), append([]byte{0x05}, oddFull[1:33]...)},
	} {
		got := utxo.AppendCompressedScript([]byte{0xee}, tc.script)
		if !bytes.Equal(got[1:], tc.want) || got[0] != 0xee {
			t.Errorf("%s: compressed to %x, want %x", tc.name, got[1:], tc.want)
			continue
		}
		back, n, err := utxo.ReadCompressedScript(append(got[1:], 0x99))
		if err != nil || n != len(tc.want) || !bytes.Equal(back, tc.script) {
			t.Errorf("%s: read back %x, %d, %v; want %x, %d", tc.name, back, n, err, tc.script, len(tc.want))
		}
	}
}

// TestCompressScriptNotSpecial checks scripts that look like a special
// form but are not one by Core's conditions: they must be written raw, as
// VARINT(len+6) and the script, and read back unchanged.
func TestCompressScriptNotSpecial(t *testing.T) {
	hash := "816115944e077fe7c803cfa57f29b36bf87c1d35"
	offX := serOffCurveX(t)
	// A valid key in hybrid form (0x06: y even), which libsecp256k1
	// parses but Core's IsToPubKey does not take (it wants 0x04).
	hybrid := serHex(t, "06"+serGx+serGy)
	if _, err := btcec.ParsePubKey(hybrid); err != nil {
		t.Fatalf("hybrid G: %v", err)
	}
	offCurveFull := append(append([]byte{0x04}, offX...), make([]byte, 32)...)
	for _, tc := range []struct {
		name   string
		script []byte
	}{
		{"empty", nil},
		{"OP_TRUE", []byte{0x51}},
		{"P2WPKH", serHex(t, "0014"+hash)},
		{"P2TR", serHex(t, "5120"+serGx)},
		{"P2PKH with OP_EQUAL", serHex(t, "76a914"+hash+"87ac")},
		{"P2PKH with a 19-byte push", serHex(t, "76a913"+hash[:38]+"0088ac")},
		{"P2PKH one byte longer", serHex(t, "76a914"+hash+"88ac00")},
		{"P2SH with OP_EQUALVERIFY", serHex(t, "a914"+hash+"88")},
		{"P2PK 33 bytes tagged 0x04", serHex(t, "2104"+serGx+"ac")},
		{"P2PK 33 bytes with OP_CHECKSIGVERIFY", serHex(t, "2102"+serGx+"ad")},
		{"P2PK 65 bytes hybrid", serP2PK(hybrid)},
		// compress_p2pk_scripts_not_on_curve: an uncompressed key off
		// the curve cannot be compressed.
		{"P2PK 65 bytes off the curve", serP2PK(offCurveFull)},
		{"P2PK 65 bytes, y mangled", serHex(t, "4104"+serGx+serGy[:62]+"b9ac")},
		{"P2PK 65 bytes, x above the prime", serP2PK(serHex(t, "04"+strings.Repeat("ff", 64)))},
	} {
		want := append(utxo.AppendVarInt(nil, uint64(len(tc.script))+6), tc.script...)
		got := utxo.AppendCompressedScript(nil, tc.script)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: compressed to %x, want raw %x", tc.name, got, want)
			continue
		}
		back, n, err := utxo.ReadCompressedScript(got)
		if err != nil || n != len(got) || !bytes.Equal(back, tc.script) {
			t.Errorf("%s: read back %x, %d, %v", tc.name, back, n, err)
		}
	}
}

// TestCompressScriptCompressedKeyNotChecked checks that a 33-byte P2PK key
// tagged 0x02/0x03 is compressed whether or not x is on the curve, as
// Core's IsToPubKey does (it checks only the tag), and that it reads back
// verbatim, since decompressing those forms needs no curve arithmetic.
func TestCompressScriptCompressedKeyNotChecked(t *testing.T) {
	x := serOffCurveX(t)
	for _, tag := range []byte{0x02, 0x03} {
		script := serP2PK(append([]byte{tag}, x...))
		got := utxo.AppendCompressedScript(nil, script)
		if want := append([]byte{tag}, x...); !bytes.Equal(got, want) {
			t.Errorf("tag %#x: compressed to %x, want %x", tag, got, want)
		}
		back, _, err := utxo.ReadCompressedScript(got)
		if err != nil || !bytes.Equal(back, script) {
			t.Errorf("tag %#x: read back %x, %v", tag, back, err)
		}
	}
}

// TestReadCompressedScriptOffCurve is the decompression half of Core's
// compress_p2pk_scripts_not_on_curve: forms 4 and 5 with an x that is not
// on the curve (or not below the field prime) cannot be decompressed.
// Core's reader would then leave the script empty; ours is an error.
func TestReadCompressedScriptOffCurve(t *testing.T) {
	for _, x := range [][]byte{serOffCurveX(t), bytes.Repeat([]byte{0xff}, 32)} {
		for _, kind := range []byte{0x04, 0x05} {
			in := append([]byte{kind}, x...)
			s, n, err := utxo.ReadCompressedScript(in)
			if err == nil || !strings.Contains(err.Error(), "not a secp256k1 point") || s != nil || n != 0 {
				t.Errorf("ReadCompressedScript(%x) = %x, %d, %v; want a curve error", in, s, n, err)
			}
		}
	}
}

// TestReadCompressedScriptSizes checks the raw form at and past
// MAX_SCRIPT_SIZE (Core reads a longer script as a lone OP_RETURN but
// still skips its bytes, failing if they are not all there), and the
// refusal of short special forms, short raw scripts and sizes beyond 32
// bits.
func TestReadCompressedScriptSizes(t *testing.T) {
	raw := func(n int) []byte {
		script := bytes.Repeat([]byte{0x61}, n) // OP_NOPs
		return append(utxo.AppendVarInt(nil, uint64(n)+6), script...)
	}
	atLimit := raw(10_000)
	s, n, err := utxo.ReadCompressedScript(atLimit)
	if err != nil || n != len(atLimit) || len(s) != 10_000 {
		t.Errorf("10,000-byte script: %d bytes, %d used, %v", len(s), n, err)
	}
	over := raw(10_001)
	s, n, err = utxo.ReadCompressedScript(append(over, 0x42))
	if err != nil || n != len(over) || !bytes.Equal(s, []byte{0x6a}) {
		t.Errorf("10,001-byte script: %x, %d used (want %d), %v; want OP_RETURN", s, n, len(over), err)
	}
	// Written as Core writes it: raw, whatever its length.
	if got := utxo.AppendCompressedScript(nil, over[len(over)-10_001:]); !bytes.Equal(got, over) {
		t.Errorf("10,001-byte script not written raw")
	}

	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"nothing", nil, "cut short"},
		{"P2PKH one byte short", append([]byte{0x00}, make([]byte, 19)...), "needs 20 more bytes, 19 left"},
		{"P2SH with no hash", []byte{0x01}, "needs 20 more bytes, 0 left"},
		{"P2PK one byte short", append([]byte{0x02}, make([]byte, 31)...), "needs 32 more bytes, 31 left"},
		{"raw one byte short", raw(40)[:40], "needs 40 more bytes, 39 left"},
		{"oversized one byte short", over[:len(over)-1], "oversized script at offset 0 needs 10001 more bytes, 10000 left"},
		{"size above 32 bits", utxo.AppendVarInt(nil, 1<<32), "above 4294967295"},
	} {
		s, n, err := utxo.ReadCompressedScript(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || s != nil || n != 0 {
			t.Errorf("%s: %x, %d, %v; want an error containing %q", tc.name, s, n, err, tc.want)
		}
	}
}

// TestReadCompressedScriptCopies checks that the script returned is not a
// view of the input, which the store reuses.
func TestReadCompressedScriptCopies(t *testing.T) {
	in := append(utxo.AppendVarInt(nil, 3+6), 1, 2, 3)
	s, _, err := utxo.ReadCompressedScript(in)
	if err != nil {
		t.Fatal(err)
	}
	in[1] = 0x99
	if !bytes.Equal(s, []byte{1, 2, 3}) {
		t.Fatalf("script changed with its input: %x", s)
	}
}

// TestDecompressAmountWrapsAsCore checks that an x no amount compresses to
// decompresses with Core's unsigned 64-bit wrap-around (18446744074 * 10^9
// passes 2^64 by 290,448,384), and that CompressAmount then does not give
// x back, which is how DecodeCoin tells such an x apart.
func TestDecompressAmountWrapsAsCore(t *testing.T) {
	x := uint64(1 + 10*(18_446_744_074-1) + 9)
	if got := utxo.DecompressAmount(x); got != 290_448_384 {
		t.Fatalf("DecompressAmount(%d) = %d, want 290448384", x, got)
	}
	if utxo.CompressAmount(utxo.DecompressAmount(x)) == x {
		t.Fatal("a wrapped amount compressed back to its x")
	}
}
