package utxo

import (
	"encoding/binary"
	"fmt"

	"github.com/watchnode/watchnode/node/protocol"
)

// Undo data is what disconnecting a block needs to put back the coins it
// spent: Core's CBlockUndo, which its rev*.dat files hold. The format:
//
//	CBlockUndo: CompactSize(number of txs), then each CTxUndo
//	CTxUndo:    CompactSize(number of coins), then each coin in
//	            TxInUndoFormatter form
//	coin:       VARINT(height*2 + coinbase), a dummy VARINT(0) when the
//	            height is above zero (older versions stored the spending
//	            transaction's version there), then TxOutCompression
//
// The file's framing around it (magic, length, checksum) belongs to the
// block store.

// TxUndo is the undo data of one transaction (Core's CTxUndo): the coins
// its inputs spent, in input order, so that disconnecting it can restore
// each one to its outpoint.
type TxUndo struct {
	// Spent holds one coin per input, in input order.
	Spent []Coin
}

// BlockUndo is the undo data of one block (Core's CBlockUndo): one TxUndo
// per transaction but the coinbase, which spends no coin, in block order.
type BlockUndo struct {
	// Txs holds one TxUndo per non-coinbase transaction, in block order.
	Txs []TxUndo
}

// Bounds on what a count in undo data may promise. Each bounds the
// allocation a count can cause by the bytes actually present, so hostile
// input cannot make DecodeBlockUndo allocate more than a constant times
// len(b).
const (
	// undoMaxCompactSize is Core's MAX_SIZE (serialize.h, 0x02000000):
	// ReadCompactSize refuses a larger length, so a count above it is
	// refused here too, before anything else is looked at.
	undoMaxCompactSize = 0x02000000
	// undoMinCoinSize is the fewest bytes a coin takes: one each for the
	// height code, the amount and the script's size (an empty raw
	// script), with no dummy version (height 0).
	undoMinCoinSize = 3
	// undoMinTxSize is the fewest bytes a TxUndo takes: its count, 0.
	undoMinTxSize = 1
)

// AppendBlockUndo appends u in Core's CBlockUndo serialization, with the
// dummy version written as a single 0 byte, as Core writes it. The coins
// should satisfy what AppendCoin asks.
func AppendBlockUndo(dst []byte, u *BlockUndo) []byte {
	dst = protocol.AppendCompactSize(dst, uint64(len(u.Txs)))
	for i := range u.Txs {
		spent := u.Txs[i].Spent
		dst = protocol.AppendCompactSize(dst, uint64(len(spent)))
		for j := range spent {
			dst = appendTxInUndo(dst, &spent[j])
		}
	}
	return dst
}

// appendTxInUndo appends one coin in TxInUndoFormatter form: AppendCoin's
// bytes with the dummy version between the code and the output when the
// height is above zero.
func appendTxInUndo(dst []byte, c *Coin) []byte {
	code := coinCode(c)
	dst = AppendVarInt(dst, uint64(code))
	if code>>1 > 0 {
		// Required by Core for compatibility with the older undo
		// format; the byte is VARINT(0).
		dst = append(dst, 0)
	}
	return appendTxOut(dst, &c.Out)
}

// DecodeBlockUndo reads a CBlockUndo that must fill b exactly: trailing
// bytes are an error, as are bytes that end early. Each coin is checked as
// DecodeCoin checks it, with the dummy version accepted at any value that
// fits 32 bits (Core reads it and drops it), so a decoded BlockUndo can
// re-encode to fewer bytes than it came from. Counts must be canonical
// CompactSizes no larger than Core's MAX_SIZE, and no count may promise
// more items than the bytes left could hold (three bytes a coin, one a
// transaction): that is checked before anything is allocated for them, so
// hostile input cannot make this allocate more than O(len(b)).
func DecodeBlockUndo(b []byte) (*BlockUndo, error) {
	c := coinCursor{b: b}
	nTx, err := c.count("transaction count", undoMinTxSize)
	if err != nil {
		return nil, fmt.Errorf("utxo: block undo: %w", err)
	}
	u := &BlockUndo{Txs: make([]TxUndo, nTx)}
	for i := range u.Txs {
		nCoin, err := c.count("spent-coin count", undoMinCoinSize)
		if err != nil {
			return nil, fmt.Errorf("utxo: block undo: tx %d: %w", i, err)
		}
		spent := make([]Coin, nCoin)
		for j := range spent {
			if spent[j], err = c.coin(true); err != nil {
				return nil, fmt.Errorf("utxo: block undo: tx %d: coin %d: %w", i, j, err)
			}
		}
		u.Txs[i].Spent = spent
	}
	if c.off != len(b) {
		return nil, fmt.Errorf("utxo: block undo: %d trailing bytes at offset %d", len(b)-c.off, c.off)
	}
	return u, nil
}

// count reads a CompactSize count of items that each take at least
// minSize bytes, and refuses it unless that many could fit in the bytes
// left.
func (c *coinCursor) count(what string, minSize uint64) (int, error) {
	at := c.off
	n, err := c.compactSize(what)
	if err != nil {
		return 0, err
	}
	if left := uint64(len(c.b) - c.off); n > left/minSize {
		return 0, fmt.Errorf("%s at offset %d: %d items need at least %d bytes each, %d left", what, at, n, minSize, left)
	}
	return int(n), nil // at most len(b): fits
}

// compactSize reads a CompactSize with Core's ReadCompactSize checks
// (range_check on): the shortest form only ("non-canonical
// ReadCompactSize()" otherwise) and at most MAX_SIZE ("size too large").
func (c *coinCursor) compactSize(what string) (uint64, error) {
	at := c.off
	first, err := c.take(what, at, 1)
	if err != nil {
		return 0, err
	}
	var n, least uint64
	switch first[0] {
	case 0xfd:
		b, err := c.take(what, at, 2)
		if err != nil {
			return 0, err
		}
		n, least = uint64(binary.LittleEndian.Uint16(b)), 0xfd
	case 0xfe:
		b, err := c.take(what, at, 4)
		if err != nil {
			return 0, err
		}
		n, least = uint64(binary.LittleEndian.Uint32(b)), 0x10000
	case 0xff:
		b, err := c.take(what, at, 8)
		if err != nil {
			return 0, err
		}
		n, least = binary.LittleEndian.Uint64(b), 0x100000000
	default:
		n = uint64(first[0])
	}
	if n < least {
		return 0, fmt.Errorf("%s at offset %d: non-canonical CompactSize (%d in %d bytes)", what, at, n, c.off-at)
	}
	if n > undoMaxCompactSize {
		return 0, fmt.Errorf("%s at offset %d: %d is above Core's MAX_SIZE (%d)", what, at, n, undoMaxCompactSize)
	}
	return n, nil
}
