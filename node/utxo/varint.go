package utxo

import (
	"fmt"
	"math"
)

// Bitcoin Core's VARINT (serialize.h, WriteVarInt and ReadVarInt) is the
// integer encoding of its chainstate and undo files: base 128, the most
// significant group first, the high bit set on every byte but the last,
// and one taken off every group but the last. That offset is what makes
// the encoding a bijection: 0x80 0x00 is 128, not a padded 0, so no value
// has a second, longer spelling, and the only encodings "too long" to
// accept are the ones whose value does not fit the integer being read.
//
// (CompactSize, the network's length prefix, is a different encoding; the
// undo format uses both: CompactSize for its vector lengths, VARINT
// inside each spent coin.)

// maxVarIntLen is the longest VARINT a uint64 has: 2^64-1 takes ten bytes
// (0x80, eight 0xfe, 0x7f); it is also the buffer AppendVarInt needs.
const maxVarIntLen = 10

// AppendVarInt appends n in Bitcoin Core's VARINT encoding, as Core's
// WriteVarInt does for a uint64. The UTXO store's keys use it: Core's
// chainstate key for an outpoint is 'C', the txid, then VARINT(vout).
func AppendVarInt(dst []byte, n uint64) []byte {
	// The groups come out least significant first; fill a buffer from
	// its end so they can be appended in one go, most significant first.
	var tmp [maxVarIntLen]byte
	i := len(tmp) - 1
	tmp[i] = byte(n & 0x7f)
	for n > 0x7f {
		n = n>>7 - 1
		i--
		tmp[i] = byte(n&0x7f) | 0x80
	}
	return append(dst, tmp[i:]...)
}

// ReadVarInt reads one VARINT from the start of b and returns it with the
// number of bytes it took. It fails if b ends inside the VARINT or if the
// value is above 2^64-1 (Core's "ReadVarInt(): size too large"): that is
// at most maxVarIntLen bytes read, whatever b holds.
func ReadVarInt(b []byte) (uint64, int, error) {
	c := coinCursor{b: b}
	v, err := c.varInt("VARINT", math.MaxUint64)
	if err != nil {
		return 0, 0, fmt.Errorf("utxo: %w", err)
	}
	return v, c.off, nil
}

// readVarIntMax reads a VARINT from the start of b whose value must not
// exceed max, with exactly Core's checks for an integer type whose largest
// value is max: before taking in another group the value so far must be at
// most max>>7, and before adding a continuation's one it must be below
// max. Core reads the coin's height code, a script's size and the undo
// format's dummy version into 32-bit integers, so those callers pass
// math.MaxUint32 and get Core's refusal of anything larger. The errors
// carry no offset; coinCursor.varInt adds it.
func readVarIntMax(b []byte, max uint64) (uint64, int, error) {
	var n uint64
	for i, ch := range b {
		if n > max>>7 {
			return 0, 0, fmt.Errorf("VARINT above %d", max)
		}
		n = n<<7 | uint64(ch&0x7f)
		if ch&0x80 == 0 {
			return n, i + 1, nil
		}
		if n == max {
			return 0, 0, fmt.Errorf("VARINT above %d", max)
		}
		n++
	}
	return 0, 0, fmt.Errorf("VARINT cut short after %d bytes", len(b))
}
