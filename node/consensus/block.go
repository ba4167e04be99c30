package consensus

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Block limits, as Bitcoin Core's consensus/consensus.h and amount.h.
const (
	// MaxBlockWeight is the most weight a block may have (BIP141): four
	// units per byte of the block without witness data, one per byte of
	// witness data.
	MaxBlockWeight = 4_000_000
	// WitnessScaleFactor is the weight of a non-witness byte.
	WitnessScaleFactor = 4
	// MaxBlockSigOpsCost is the most signature-operation cost a block may
	// have; a legacy sigop costs WitnessScaleFactor.
	MaxBlockSigOpsCost = 80_000
	// MaxMoney is the most satoshis an output, or the outputs of one
	// transaction together, may carry: 21 million bitcoin.
	MaxMoney = 21_000_000 * 100_000_000
	// CoinbaseScriptMin and CoinbaseScriptMax bound a coinbase's scriptSig.
	CoinbaseScriptMin, CoinbaseScriptMax = 2, 100
	// LocktimeThreshold divides lock times: below it they are heights, from
	// it on unix times (Core's LOCKTIME_THRESHOLD).
	LocktimeThreshold = 500_000_000
)

// Block is a decoded block together with what the rules and the store need
// from its bytes, computed once (on the peer's reader goroutine): its hash,
// every transaction's txid and wtxid, and its sizes. The rules treat it as
// read-only.
type Block struct {
	// Msg is the decoded block.
	Msg *wire.MsgBlock
	// Header is Msg's header in the rules' form, and Hash its hash.
	Header Header
	Hash   chainhash.Hash
	// TxIDs and WTxIDs hold each transaction's id without and with its
	// witness data, in block order; for a transaction without witness data
	// they are equal.
	TxIDs, WTxIDs []chainhash.Hash
	// MerkleRoot is the merkle root of TxIDs, and MerkleMutated whether the
	// tree pairs a hash with itself (see MerkleRoot).
	MerkleRoot    chainhash.Hash
	MerkleMutated bool
	// Size is the serialized size in bytes, StrippedSize the size without
	// witness data.
	Size, StrippedSize int
}

// Weight returns the block's weight (BIP141): StrippedSize counted three
// times more than the witness bytes.
func (b *Block) Weight() int { return b.StrippedSize*(WitnessScaleFactor-1) + b.Size }

// ErrBlockEncoding says a block's bytes are not the canonical serialization
// of the transactions they decode to (trailing bytes, or a witness marker
// with no witness data, which Core rejects as a superfluous witness record).
var ErrBlockEncoding = errors.New("block is not canonically serialized")

// NewBlock pairs msg with the raw bytes it was decoded from and computes the
// hashes: the block hash from the header, each transaction's txid and wtxid
// by hashing its slice of raw directly (a txid skips the marker, flag and
// witness bytes), which costs no re-serialization, and the merkle root. It fails with
// ErrBlockEncoding when raw is not exactly msg's serialization, the only case
// where slicing raw by msg's sizes would hash the wrong bytes.
func NewBlock(msg *wire.MsgBlock, raw []byte) (*Block, error) {
	b := &Block{
		Msg:    msg,
		Header: FromWire(&msg.Header),
		TxIDs:  make([]chainhash.Hash, len(msg.Transactions)),
		WTxIDs: make([]chainhash.Hash, len(msg.Transactions)),
		Size:   len(raw),
	}
	b.Hash = b.Header.Hash()
	off := HeaderSize + wire.VarIntSerializeSize(uint64(len(msg.Transactions)))
	b.StrippedSize = off
	h := sha256.New()
	for i, tx := range msg.Transactions {
		size, stripped := tx.SerializeSize(), tx.SerializeSizeStripped()
		if off+size > len(raw) {
			return nil, fmt.Errorf("%w: transaction %d ends at byte %d of %d", ErrBlockEncoding, i, off+size, len(raw))
		}
		txBytes := raw[off : off+size]
		b.WTxIDs[i] = doubleSHA256(h, txBytes)
		if size == stripped {
			b.TxIDs[i] = b.WTxIDs[i]
		} else {
			// version | marker flag | inputs outputs | witnesses | locktime:
			// the txid hashes all but the marker, flag and witnesses.
			body := txBytes[6 : 6+stripped-8]
			b.TxIDs[i] = doubleSHA256(h, txBytes[:4], body, txBytes[size-4:])
		}
		off += size
		b.StrippedSize += stripped
	}
	if off != len(raw) {
		return nil, fmt.Errorf("%w: %d bytes decode to %d", ErrBlockEncoding, len(raw), off)
	}
	b.MerkleRoot, b.MerkleMutated = MerkleRoot(b.TxIDs)
	return b, nil
}

// DecodeBlock decodes a serialized block (with witness data, as a block
// message or a block file carries it) and computes its hashes with
// NewBlock. Bytes after the block are an error: a block message's payload
// and a block file's record hold exactly one block.
func DecodeBlock(raw []byte) (*Block, error) {
	r := bytes.NewReader(raw)
	var msg wire.MsgBlock
	if err := msg.Deserialize(r); err != nil {
		return nil, fmt.Errorf("decoding a block of %d bytes: %w", len(raw), err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the block", ErrBlockEncoding, r.Len())
	}
	return NewBlock(&msg, raw)
}

// doubleSHA256 returns SHA-256(SHA-256(parts...)), reusing h.
func doubleSHA256(h hash.Hash, parts ...[]byte) chainhash.Hash {
	h.Reset()
	for _, p := range parts {
		h.Write(p)
	}
	var first chainhash.Hash
	h.Sum(first[:0])
	return sha256.Sum256(first[:])
}

// IsCoinbase reports whether tx is a coinbase: exactly one input, spending
// the null outpoint (Core's CTransaction::IsCoinBase).
func IsCoinbase(tx *wire.MsgTx) bool {
	return len(tx.TxIn) == 1 && isNullOutPoint(&tx.TxIn[0].PreviousOutPoint)
}

// isNullOutPoint reports whether op is the null outpoint: a zero hash and
// index 0xffffffff.
func isNullOutPoint(op *wire.OutPoint) bool {
	return op.Index == wire.MaxPrevOutIndex && op.Hash == (chainhash.Hash{})
}
