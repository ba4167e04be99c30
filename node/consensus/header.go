package consensus

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// HeaderSize is the length of a serialized block header in bytes.
const HeaderSize = 80

// Header is a block header in a compact, allocation-free form: a plain value
// of 80 bytes of fields that chains can keep in flat arrays.
type Header struct {
	Version    int32
	PrevBlock  chainhash.Hash
	MerkleRoot chainhash.Hash
	Timestamp  uint32 // unix seconds
	Bits       uint32 // the target in compact form
	Nonce      uint32
}

// ParseHeader decodes a header from exactly HeaderSize bytes in the wire
// format (little-endian integers, hashes in internal byte order).
func ParseHeader(b []byte) (Header, error) {
	if len(b) != HeaderSize {
		return Header{}, fmt.Errorf("consensus: a header is %d bytes, got %d", HeaderSize, len(b))
	}
	var h Header
	h.Version = int32(binary.LittleEndian.Uint32(b[0:4]))
	copy(h.PrevBlock[:], b[4:36])
	copy(h.MerkleRoot[:], b[36:68])
	h.Timestamp = binary.LittleEndian.Uint32(b[68:72])
	h.Bits = binary.LittleEndian.Uint32(b[72:76])
	h.Nonce = binary.LittleEndian.Uint32(b[76:80])
	return h, nil
}

// put writes the header's wire form into b.
func (h *Header) put(b *[HeaderSize]byte) {
	binary.LittleEndian.PutUint32(b[0:4], uint32(h.Version))
	copy(b[4:36], h.PrevBlock[:])
	copy(b[36:68], h.MerkleRoot[:])
	binary.LittleEndian.PutUint32(b[68:72], h.Timestamp)
	binary.LittleEndian.PutUint32(b[72:76], h.Bits)
	binary.LittleEndian.PutUint32(b[76:80], h.Nonce)
}

// Serialize appends the header's 80-byte wire form to dst and returns the
// extended slice.
func (h *Header) Serialize(dst []byte) []byte {
	var b [HeaderSize]byte
	h.put(&b)
	return append(dst, b[:]...)
}

// Hash returns the block hash: the double SHA-256 of the header's 80 bytes,
// in internal byte order (chainhash.Hash's String reverses it for display).
// It does not allocate.
func (h *Header) Hash() chainhash.Hash {
	var b [HeaderSize]byte
	h.put(&b)
	first := sha256.Sum256(b[:])
	return sha256.Sum256(first[:])
}

// FromWire converts btcd's wire header.
func FromWire(w *wire.BlockHeader) Header {
	return Header{
		Version:    w.Version,
		PrevBlock:  w.PrevBlock,
		MerkleRoot: w.MerkleRoot,
		Timestamp:  uint32(w.Timestamp.Unix()),
		Bits:       w.Bits,
		Nonce:      w.Nonce,
	}
}

// ToWire converts the header to btcd's wire form.
func (h *Header) ToWire() wire.BlockHeader {
	return wire.BlockHeader{
		Version:    h.Version,
		PrevBlock:  h.PrevBlock,
		MerkleRoot: h.MerkleRoot,
		Timestamp:  time.Unix(int64(h.Timestamp), 0),
		Bits:       h.Bits,
		Nonce:      h.Nonce,
	}
}
