package utxo_test

import (
	"bytes"
	"testing"

	"github.com/watchnode/watchnode/node/utxo"
)

// serCoinSeeds are FuzzDecodeCoin's seed corpus: Core's vectors, every
// kind of script, and the refusals the tests check.
func serCoinSeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{
		serHex(tb, "97f23c835800816115944e077fe7c803cfa57f29b36bf87c1d35"),
		serHex(tb, "8ddf77bbd123008c988f1a4a4de2161e0f50aac7f17e7f9555caa4"),
		serHex(tb, "000006"),
		serHex(tb, "000007"),
		serHex(tb, "00008a95c0bb00"),
		serHex(tb, "8efefeff000006"),
		serHex(tb, "0080fefefefefefefefe7f06"),
		append(serHex(tb, "000004"), serOffCurveX(tb)...),
		append(serHex(tb, "000005"), serHex(tb, serGx)...),
		// A P2PKH stored raw, which re-encodes compressed.
		serHex(tb, "00001f76a914816115944e077fe7c803cfa57f29b36bf87c1d3588ac"),
		// A script just over MAX_SCRIPT_SIZE, which reads as OP_RETURN.
		append(append(serHex(tb, "0000"), utxo.AppendVarInt(nil, 10_001+6)...), make([]byte, 10_001)...),
	}
	for _, tx := range serMixedUndo(tb).Txs {
		for i := range tx.Spent {
			seeds = append(seeds, utxo.AppendCoin(nil, &tx.Spent[i]))
		}
	}
	return seeds
}

// FuzzDecodeCoin feeds arbitrary bytes to DecodeCoin. It must never panic;
// a coin it decodes must re-encode to bytes that decode to the same coin
// (not necessarily the bytes it came from: a raw script with a special
// form, or one over MAX_SCRIPT_SIZE, is written back differently), and
// those bytes must be a fixed point, no longer than what was consumed.
func FuzzDecodeCoin(f *testing.F) {
	for _, s := range serCoinSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, n, err := utxo.DecodeCoin(data)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with %d bytes used", err, n)
			}
			return
		}
		if n <= 0 || n > len(data) {
			t.Fatalf("%d bytes used of %d", n, len(data))
		}
		enc := utxo.AppendCoin(nil, &c)
		if len(enc) > n {
			t.Fatalf("%x re-encoded longer: %x", data[:n], enc)
		}
		c2, n2, err := utxo.DecodeCoin(enc)
		if err != nil || n2 != len(enc) || !serCoinsEqual(c, c2) {
			t.Fatalf("%x: re-encoded %x decodes to %+v, %d, %v; want %+v", data[:n], enc, c2, n2, err, c)
		}
		if again := utxo.AppendCoin(nil, &c2); !bytes.Equal(again, enc) {
			t.Fatalf("%x: not a fixed point: %x then %x", data[:n], enc, again)
		}
	})
}

// FuzzDecodeBlockUndo feeds arbitrary bytes to DecodeBlockUndo, with the
// same demands as FuzzDecodeCoin: no panic, and what decodes re-encodes to
// bytes (a fixed point, no longer) that decode to the same undo data.
func FuzzDecodeBlockUndo(f *testing.F) {
	mixed := utxo.AppendBlockUndo(nil, serMixedUndo(f))
	f.Add(mixed)
	f.Add(mixed[:len(mixed)-1])
	f.Add(append(append([]byte(nil), mixed...), 0))
	f.Add([]byte{0})
	f.Add(serHex(f, "0101020801 0751"))
	f.Add(append(serHex(f, "fdfd00"), make([]byte, 0xfd)...))
	for _, tc := range serHostileCounts {
		f.Add(serHex(f, tc.hex))
	}
	for _, s := range serCoinSeeds(f) {
		f.Add(append([]byte{1, 1}, s...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := utxo.DecodeBlockUndo(data)
		if err != nil {
			if u != nil {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		enc := utxo.AppendBlockUndo(nil, u)
		if len(enc) > len(data) {
			t.Fatalf("%x re-encoded longer: %x", data, enc)
		}
		u2, err := utxo.DecodeBlockUndo(enc)
		if err != nil || !serUndoEqual(u, u2) {
			t.Fatalf("%x: re-encoded %x decodes to %+v, %v", data, enc, u2, err)
		}
		if again := utxo.AppendBlockUndo(nil, u2); !bytes.Equal(again, enc) {
			t.Fatalf("%x: not a fixed point", data)
		}
	})
}
