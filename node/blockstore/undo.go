package blockstore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// undoChecksumSize is the size of the checksum Core writes after each undo
// record.
const undoChecksumSize = chainhash.HashSize

// MaxUndoSize is the largest undo record WriteUndo takes: the record's size
// field is a uint32 and the checksum follows it. Undo data is not bounded
// by the block size (it holds the scripts of the outputs a block spends,
// which earlier blocks paid for).
const MaxUndoSize = math.MaxUint32 - undoChecksumSize

// undoChecksum is Core's checksum of an undo record (UndoWriteToDisk in
// node/blockstorage.cpp): SHA256d of the hash of the block's parent
// (WriteUndoDataForBlock passes block.pprev->GetBlockHash()) followed by
// the undo data. Keying it to the parent, not the block, is Core's choice;
// following it keeps rev files readable by Core's tools.
func undoChecksum(prev chainhash.Hash, undo []byte) chainhash.Hash {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(undo)
	first := h.Sum(nil)
	return sha256.Sum256(first)
}

// prevHash reads the parent's hash from the stored block's header (bytes 4
// to 36: after the version), so WriteUndo and ReadUndo need only the
// block's hash, as the index entry is keyed.
func (s *Store) prevHash(e Entry) (chainhash.Hash, error) {
	var prev chainhash.Hash
	if e.Block.Size < wire.MaxBlockHeaderPayload {
		return prev, fmt.Errorf("block %s is %d bytes, shorter than a block header: it cannot have undo data", e.Hash, e.Block.Size)
	}
	f, err := os.Open(s.blkPath(e.Block.File))
	if err != nil {
		return prev, fmt.Errorf("reading the header of block %s: %w", e.Hash, err)
	}
	defer f.Close()
	if _, err := f.ReadAt(prev[:], e.Block.Offset+4); err != nil {
		if errors.Is(err, io.EOF) {
			err = ErrCorrupt
		}
		return prev, fmt.Errorf("reading the header of block %s from %s: %w", e.Hash, s.blkPath(e.Block.File), err)
	}
	return prev, nil
}

// WriteUndo appends undo, the undo data of block hash, to the rev file
// paired with the blk file that holds the block (as Core's
// WriteUndoDataForBlock), as a record of magic, size, undo and Core's
// checksum, and stages the block's entry with its location; Sync makes
// both durable. A block that already has undo data keeps it (Core writes
// undo data once, when it first connects the block). The block must be in
// the store (ErrNotFound otherwise) and be at least a header long: the
// checksum covers its parent's hash, read from its header.
func (s *Store) WriteUndo(hash chainhash.Hash, undo []byte) error {
	if len(undo) == 0 || int64(len(undo)) > MaxUndoSize {
		return fmt.Errorf("writing undo data of block %s: size %d is not 1 to %d", hash, len(undo), MaxUndoSize)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	e, ok, err := s.lookup(hash)
	if err != nil {
		return fmt.Errorf("writing undo data of block %s: %w", hash, err)
	}
	if !ok {
		return fmt.Errorf("writing undo data of block %s: %w", hash, ErrNotFound)
	}
	if e.Undo.Size != 0 {
		return nil
	}
	s.mu.Lock()
	err = s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	prev, err := s.prevHash(e)
	if err != nil {
		return fmt.Errorf("writing undo data: %w", err)
	}
	n := e.Block.File
	s.mu.Lock()
	fi := s.files[n]
	s.mu.Unlock()
	if fi == nil || fi.Pruned {
		return fmt.Errorf("%w: block %s is in file %d, which the index does not have", ErrCorrupt, hash, n)
	}
	off := fi.UndoBytes  // only writers change it
	f := s.touchedRev[n] // only writers (under writeMu) use touchedRev
	if f == nil {
		if f, err = os.OpenFile(s.revPath(n), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
			return fmt.Errorf("opening %s: %w", s.revPath(n), err)
		}
		s.touchedRev[n] = f
	}
	// Three writes, as WriteBlock does two: joining them would copy the
	// undo data once more.
	var header [recordHeaderSize]byte
	copy(header[:], magicBytes(s.magic))
	binary.LittleEndian.PutUint32(header[4:], uint32(len(undo)))
	sum := undoChecksum(prev, undo)
	end := off + recordHeaderSize + int64(len(undo))
	for _, w := range []struct {
		b   []byte
		off int64
	}{{header[:], off}, {undo, off + recordHeaderSize}, {sum[:], end}} {
		if _, err := f.WriteAt(w.b, w.off); err != nil {
			return s.fail(fmt.Errorf("writing undo data of block %s to %s: %w", hash, s.revPath(n), err))
		}
	}
	e.Undo = Location{File: n, Offset: off + recordHeaderSize, Size: uint32(len(undo))}
	s.mu.Lock()
	fi.UndoBytes = end + undoChecksumSize
	s.staged[hash] = e
	s.mu.Unlock()
	return nil
}

// ReadUndo returns the undo data of block hash, checking its record's
// magic and size against the index and its checksum against the block's
// parent hash (ErrCorrupt on a mismatch). A block not in the store, or
// without undo data, is ErrNotFound.
func (s *Store) ReadUndo(hash chainhash.Hash) ([]byte, error) {
	e, ok, err := s.lookup(hash)
	if err != nil {
		return nil, fmt.Errorf("reading undo data of block %s: %w", hash, err)
	}
	if !ok {
		return nil, fmt.Errorf("reading undo data of block %s: %w", hash, ErrNotFound)
	}
	if e.Undo.Size == 0 {
		return nil, fmt.Errorf("reading undo data of block %s: it has none: %w", hash, ErrNotFound)
	}
	undo, err := s.readUndo(e)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrCorrupt) {
		// Prune may have deleted the pair, or forgotten its file, since
		// the lookup: then the block is simply gone.
		if _, ok, _ := s.lookup(hash); !ok {
			return nil, fmt.Errorf("reading undo data of block %s: %w", hash, ErrNotFound)
		}
	}
	return undo, err
}

func (s *Store) readUndo(e Entry) ([]byte, error) {
	path := s.revPath(e.Undo.File)
	end := e.Undo.Offset + int64(e.Undo.Size) + undoChecksumSize
	s.mu.Lock()
	fi := s.files[e.Undo.File]
	inFile := fi != nil && end <= fi.UndoBytes
	s.mu.Unlock()
	if !inFile {
		// Checked before allocating: the size is not to be trusted blindly.
		return nil, fmt.Errorf("%w: undo data of block %s at %s offset %d size %d lies past what the index has of the file", ErrCorrupt, e.Hash, path, e.Undo.Offset, e.Undo.Size)
	}
	prev, err := s.prevHash(e)
	if err != nil {
		return nil, fmt.Errorf("reading undo data: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading undo data of block %s: %w", e.Hash, err)
	}
	defer f.Close()
	buf := make([]byte, recordHeaderSize+int(e.Undo.Size)+undoChecksumSize)
	if _, err := f.ReadAt(buf, e.Undo.Offset-recordHeaderSize); err != nil {
		if errors.Is(err, io.EOF) {
			err = ErrCorrupt
		}
		return nil, fmt.Errorf("reading undo data of block %s from %s at offset %d: %w", e.Hash, path, e.Undo.Offset, err)
	}
	if wire.BitcoinNet(binary.LittleEndian.Uint32(buf)) != s.magic || binary.LittleEndian.Uint32(buf[4:]) != e.Undo.Size {
		return nil, fmt.Errorf("%w: undo data of block %s in %s at offset %d: record header %x does not match the index", ErrCorrupt, e.Hash, path, e.Undo.Offset, buf[:8])
	}
	undo := buf[recordHeaderSize : recordHeaderSize+int(e.Undo.Size)]
	if sum := undoChecksum(prev, undo); sum != chainhash.Hash(buf[len(buf)-undoChecksumSize:]) {
		return nil, fmt.Errorf("%w: undo data of block %s in %s at offset %d: checksum mismatch", ErrCorrupt, e.Hash, path, e.Undo.Offset)
	}
	return undo, nil
}
