package utxo

import (
	"fmt"
	"math"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// Coin is an unspent output with the height of the block that created it
// and whether that was a coinbase (Core's Coin): what spending it needs to
// know beyond the output itself, for coinbase maturity and for BIP68's
// relative lock times.
type Coin struct {
	// Out is the output: its value in satoshis and its scriptPubKey.
	Out wire.TxOut
	// Height is the height of the block holding the transaction that
	// created the output. Core keeps it in 31 bits; it must be in
	// [0, 2^31-1] to be written faithfully.
	Height int32
	// Coinbase tells whether that transaction was the block's coinbase.
	Coinbase bool
}

// coinHeightMask keeps the 31 bits of a height Core's Coin has room for
// (its nHeight is a 31-bit bit-field next to the 1-bit fCoinBase).
const coinHeightMask = 1<<31 - 1

// coinCode is the first VARINT of Core's Coin and TxInUndo serializations:
// the height times two plus the coinbase bit, in 32-bit unsigned
// arithmetic as Core computes it. A height outside [0, 2^31-1] is cut to
// 31 bits, as assigning it to Core's bit-field would cut it.
func coinCode(c *Coin) uint32 {
	code := (uint32(c.Height) & coinHeightMask) * 2
	if c.Coinbase {
		code++
	}
	return code
}

// AppendCoin appends Core's Coin serialization of c (coins.h,
// Coin::Serialize): VARINT(height*2 + coinbase), then the output in
// TxOutCompression form, VARINT(CompressAmount(value)) and the compressed
// script. It is the value Core writes in its chainstate for the coin.
//
// c should be a coin consensus allowed, with a value in [0, MaxMoney] and
// a height in [0, 2^31-1]. Other values are written as Core would write
// them (the value's 64-bit pattern compressed, the height cut to 31 bits),
// not refused: the encoder has no error to return, and DecodeCoin refuses
// the value anyway.
func AppendCoin(dst []byte, c *Coin) []byte {
	dst = AppendVarInt(dst, uint64(coinCode(c)))
	return appendTxOut(dst, &c.Out)
}

// appendTxOut appends Core's TxOutCompression form of out.
func appendTxOut(dst []byte, out *wire.TxOut) []byte {
	dst = AppendVarInt(dst, CompressAmount(uint64(out.Value)))
	return AppendCompressedScript(dst, out.PkScript)
}

// DecodeCoin reads one Coin from the start of b, in Core's Coin
// serialization (see AppendCoin), and returns it with the number of bytes
// it took; bytes after it are left alone. The script is a new slice, not a
// view of b.
//
// It refuses, with an error saying what and at which offset: bytes that
// end early; a VARINT too large for the integer Core reads it into (the
// height code and the script size are 32 bits, the amount 64); an amount
// whose decompression overflows 64 bits or exceeds consensus.MaxMoney (Core
// itself would store such an amount unchecked; none can come from a valid
// chain); and a 0x04/0x05 script form whose x is not on the curve (see
// ReadCompressedScript). The height cannot exceed int32: it is the 32-bit
// code shifted right by one.
func DecodeCoin(b []byte) (Coin, int, error) {
	c := coinCursor{b: b}
	coin, err := c.coin(false)
	if err != nil {
		return Coin{}, 0, fmt.Errorf("utxo: coin: %w", err)
	}
	return coin, c.off, nil
}

// coin reads one coin at the cursor: Core's Coin serialization, or with
// undo set its TxInUndoFormatter form, which has a dummy VARINT between the
// code and the output whenever the height is above zero.
func (c *coinCursor) coin(undo bool) (Coin, error) {
	code, err := c.varInt("height code", math.MaxUint32)
	if err != nil {
		return Coin{}, err
	}
	coin := Coin{Height: int32(code >> 1), Coinbase: code&1 == 1}
	if undo && coin.Height > 0 {
		// Old undo files held the spending transaction's version
		// here; Core reads it into an unsigned int and drops it, so
		// any value that fits 32 bits is accepted (AppendBlockUndo
		// writes 0).
		if _, err := c.varInt("legacy version", math.MaxUint32); err != nil {
			return Coin{}, err
		}
	}
	if err := c.txOut(&coin.Out); err != nil {
		return Coin{}, err
	}
	return coin, nil
}

// txOut reads one output in TxOutCompression form into out.
func (c *coinCursor) txOut(out *wire.TxOut) error {
	at := c.off
	x, err := c.varInt("amount", math.MaxUint64)
	if err != nil {
		return err
	}
	value := DecompressAmount(x)
	// Compression is a bijection between amounts and the x whose
	// decompression does not wrap, so an x that does not come back is
	// one that wrapped.
	if CompressAmount(value) != x {
		return fmt.Errorf("amount at offset %d: compressed amount %d overflows 64 bits when decompressed", at, x)
	}
	if value > consensus.MaxMoney {
		return fmt.Errorf("amount at offset %d: %d satoshis is above MaxMoney", at, value)
	}
	script, err := c.script()
	if err != nil {
		return err
	}
	out.Value = int64(value) // at most MaxMoney: fits
	out.PkScript = script
	return nil
}

// coinCursor walks a buffer being decoded. Its errors name what was being
// read and its offset from the start of the buffer, so that a corrupt
// record can be found in a dump.
type coinCursor struct {
	b   []byte
	off int
}

// varInt reads a VARINT whose value must not exceed max.
func (c *coinCursor) varInt(what string, max uint64) (uint64, error) {
	v, n, err := readVarIntMax(c.b[c.off:], max)
	if err != nil {
		return 0, fmt.Errorf("%s at offset %d: %w", what, c.off, err)
	}
	c.off += n
	return v, nil
}

// take returns the next n bytes, a view of the buffer, or an error if
// fewer are left; at is where the item they belong to began, for the
// error.
func (c *coinCursor) take(what string, at int, n uint64) ([]byte, error) {
	left := len(c.b) - c.off
	if n > uint64(left) {
		return nil, fmt.Errorf("%s at offset %d needs %d more bytes, %d left", what, at, n, left)
	}
	s := c.b[c.off : c.off+int(n)]
	c.off += int(n)
	return s, nil
}
