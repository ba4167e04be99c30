package blockstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/wire/v2"
)

// recordHeaderSize is the size of a record's magic and size fields.
const recordHeaderSize = 8

// ErrBadRecord is wrapped by every error ScanBlockFile returns for a
// malformed file (wrong magic, bad size, truncated record).
var ErrBadRecord = errors.New("malformed block file record")

// ScanBlockFile reads a Core-format block file (blkNNNNN.dat, or a
// bootstrap.dat, which uses the same records) from r and calls fn with each
// record's serialized block and the offset of its first byte, in file
// order. It skips the zero padding Core leaves between and after records
// (Core preallocates files in 16 MiB chunks). A wrong magic, a size of 0 or
// above wire.MaxBlockPayload, or a truncated record stops it with an error
// wrapping ErrBadRecord that names the offset; an error from fn stops it
// and is returned wrapped. It does not decode the blocks. raw is fn's to
// keep. The bytes are untrusted: nothing in them can make it panic or
// allocate more than about the bytes it has read plus one record's size.
func ScanBlockFile(r io.Reader, magic wire.BitcoinNet, fn func(offset int64, raw []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	var hdr [recordHeaderSize]byte
	for {
		// Skip zero padding one byte at a time: Core's magics never start
		// with a zero byte, so a record starts at the first non-zero byte.
		b, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading block file at offset %d: %w", off, err)
		}
		if b == 0 {
			off++
			continue
		}
		hdr[0] = b
		n, err := io.ReadFull(br, hdr[1:])
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: record header at offset %d is truncated (%d of %d bytes)", ErrBadRecord, off, n+1, recordHeaderSize)
			}
			return fmt.Errorf("reading block file at offset %d: %w", off, err)
		}
		if got := wire.BitcoinNet(binary.LittleEndian.Uint32(hdr[:4])); got != magic {
			return fmt.Errorf("%w: wrong magic at offset %d: found %x, want %x", ErrBadRecord, off, hdr[:4], magicBytes(magic))
		}
		size := binary.LittleEndian.Uint32(hdr[4:])
		if size == 0 || size > wire.MaxBlockPayload {
			return fmt.Errorf("%w: record at offset %d has size %d, want 1 to %d", ErrBadRecord, off, size, wire.MaxBlockPayload)
		}
		// ReadAll over a LimitReader grows with the data actually there,
		// so a lying size on a short file costs no 4 MB allocation.
		raw, err := io.ReadAll(io.LimitReader(br, int64(size)))
		if err != nil {
			return fmt.Errorf("reading block file record at offset %d: %w", off, err)
		}
		if len(raw) != int(size) {
			return fmt.Errorf("%w: record at offset %d is truncated: %d of %d block bytes", ErrBadRecord, off, len(raw), size)
		}
		blockOff := off + recordHeaderSize
		if err := fn(blockOff, raw); err != nil {
			return fmt.Errorf("block at offset %d: %w", blockOff, err)
		}
		off = blockOff + int64(size)
	}
}

// magicBytes returns magic as it is on the wire and on disk.
func magicBytes(magic wire.BitcoinNet) []byte {
	return binary.LittleEndian.AppendUint32(nil, uint32(magic))
}
