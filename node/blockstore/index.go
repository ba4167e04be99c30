package blockstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
)

// The index's keys. Every key starts with one letter naming its kind, so
// each kind is one contiguous range for iteration.
var (
	keyLast    = []byte("l") // the number of the file being written
	keyVersion = []byte("v") // the index format (formatVersion)
	keyPruned  = []byte("p") // present once a file was pruned: the highest height pruned
)

// formatVersion is the index format this code writes. Format 1 (no "v"
// key) had 12-byte file entries without height range, undo size or pruned
// flag, and no per-file list of blocks; Open upgrades such an index in
// place (upgradeIndex), so old stores still open. A newer format is
// refused rather than misread.
const formatVersion = 2

func blockKey(h chainhash.Hash) []byte { return append([]byte("b"), h[:]...) }
func fileKey(n int) []byte             { return binary.BigEndian.AppendUint32([]byte("f"), uint32(n)) }

// fileBlockKey lists hash under file n ("n" + file number big-endian +
// hash, empty value): pruning a file must find its blocks' entries
// without walking every block of the chain, and without the store holding
// them all in memory as Core's block index does.
func fileBlockKey(n int, h chainhash.Hash) []byte {
	return append(binary.BigEndian.AppendUint32([]byte("n"), uint32(n)), h[:]...)
}

// fileBlockBounds are the bounds of file n's fileBlockKey range.
func fileBlockBounds(n int) (lower, upper []byte) {
	lower = binary.BigEndian.AppendUint32([]byte("n"), uint32(n))
	if n == 1<<32-1 {
		return lower, []byte("o")
	}
	return lower, binary.BigEndian.AppendUint32([]byte("n"), uint32(n+1))
}

// An entry is version 1 (21 bytes: height, file, offset, size) while the
// block has no undo data, and version 2 (33 bytes: the same, then the undo
// record's offset and size in the paired rev file) once it has: most
// entries of a pruned node's index never get undo data written again, and
// old entries stay valid as they are.
const (
	entryV1Size = 21
	entryV2Size = 33
)

func encodeEntry(e Entry) []byte {
	v := byte(1)
	if e.Undo.Size != 0 {
		v = 2
	}
	b := []byte{v}
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Height))
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Block.File))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Block.Offset))
	b = binary.LittleEndian.AppendUint32(b, e.Block.Size)
	if v == 2 {
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Undo.Offset))
		b = binary.LittleEndian.AppendUint32(b, e.Undo.Size)
	}
	return b
}

func decodeEntry(h chainhash.Hash, b []byte) (Entry, error) {
	if !(len(b) == entryV1Size && b[0] == 1) && !(len(b) == entryV2Size && b[0] == 2) {
		return Entry{}, fmt.Errorf("%w: index entry of block %s is %d bytes (version %v)", ErrCorrupt, h, len(b), b[:min(1, len(b))])
	}
	e := Entry{Hash: h, Height: int32(binary.LittleEndian.Uint32(b[1:]))}
	e.Block = Location{File: int(binary.LittleEndian.Uint32(b[5:])), Offset: int64(binary.LittleEndian.Uint64(b[9:])), Size: binary.LittleEndian.Uint32(b[17:])}
	if e.Block.Offset < recordHeaderSize || e.Block.Size == 0 || e.Block.Size > wire.MaxBlockPayload {
		return Entry{}, fmt.Errorf("%w: index entry of block %s has a bad location %+v", ErrCorrupt, h, e.Block)
	}
	if b[0] == 2 {
		e.Undo = Location{File: e.Block.File, Offset: int64(binary.LittleEndian.Uint64(b[21:])), Size: binary.LittleEndian.Uint32(b[29:])}
		if e.Undo.Offset < recordHeaderSize || e.Undo.Size == 0 {
			return Entry{}, fmt.Errorf("%w: index entry of block %s has a bad undo location %+v", ErrCorrupt, h, e.Undo)
		}
	}
	return e, nil
}

// fileInfo is what the index keeps of one blk/rev pair: Core's
// CBlockFileInfo (nBlocks, nSize, nUndoSize, nHeightFirst, nHeightLast)
// plus a pruned flag.
type fileInfo struct {
	Records     int
	Bytes       int64 // blk bytes used: the end of the last committed record
	UndoBytes   int64 // rev bytes used, likewise
	HeightFirst int32 // lowest height of the file's blocks; meaningless while Records is 0
	HeightLast  int32 // highest height, likewise: pruning decides on it
	Pruned      bool  // the pair was pruned: its files are gone (or must go) and stay gone
}

// addBlock widens the height range to height, as Core's
// CBlockFileInfo::AddBlock does.
func (fi *fileInfo) addBlock(height int32) {
	if fi.Records == 0 || height < fi.HeightFirst {
		fi.HeightFirst = height
	}
	if fi.Records == 0 || height > fi.HeightLast {
		fi.HeightLast = height
	}
	fi.Records++
}

const (
	fileInfoV1Size = 12 // format 1: records, bytes
	fileInfoV2Size = 29 // format 2: records, bytes, undo bytes, height first, height last, flags
)

func encodeFileInfo(fi *fileInfo) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(fi.Records))
	b = binary.LittleEndian.AppendUint64(b, uint64(fi.Bytes))
	b = binary.LittleEndian.AppendUint64(b, uint64(fi.UndoBytes))
	b = binary.LittleEndian.AppendUint32(b, uint32(fi.HeightFirst))
	b = binary.LittleEndian.AppendUint32(b, uint32(fi.HeightLast))
	var flags byte
	if fi.Pruned {
		flags |= 1
	}
	return append(b, flags)
}

// decodeFileInfo reads a file entry of either format; legacy reports a
// format 1 entry, whose height range is unknown.
func decodeFileInfo(n int, b []byte) (fi *fileInfo, legacy bool, err error) {
	fi = &fileInfo{}
	switch len(b) {
	case fileInfoV1Size, fileInfoV2Size:
	default:
		return nil, false, fmt.Errorf("%w: index entry of file %d is %d bytes", ErrCorrupt, n, len(b))
	}
	fi.Records = int(binary.LittleEndian.Uint32(b))
	fi.Bytes = int64(binary.LittleEndian.Uint64(b[4:]))
	if len(b) == fileInfoV1Size {
		return fi, true, nil
	}
	fi.UndoBytes = int64(binary.LittleEndian.Uint64(b[12:]))
	fi.HeightFirst = int32(binary.LittleEndian.Uint32(b[20:]))
	fi.HeightLast = int32(binary.LittleEndian.Uint32(b[24:]))
	if b[28]&^1 != 0 {
		return nil, false, fmt.Errorf("%w: index entry of file %d has unknown flags %#x", ErrCorrupt, n, b[28])
	}
	fi.Pruned = b[28]&1 != 0
	if fi.Bytes < 0 || fi.UndoBytes < 0 {
		return nil, false, fmt.Errorf("%w: index entry of file %d has negative sizes", ErrCorrupt, n)
	}
	return fi, false, nil
}

// readVersion returns the index's format: 0 for an empty index, 1 for a
// format 1 index (no "v" key but data).
func (s *Store) readVersion() (int, error) {
	v, c, err := s.db.Get(keyVersion)
	if err == nil {
		defer c.Close()
		if len(v) != 4 {
			return 0, fmt.Errorf("%w: format version is %d bytes", ErrCorrupt, len(v))
		}
		return int(binary.LittleEndian.Uint32(v)), nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return 0, fmt.Errorf("reading block index format: %w", err)
	}
	it, err := s.db.NewIter(nil)
	if err != nil {
		return 0, fmt.Errorf("reading block index: %w", err)
	}
	defer it.Close()
	if it.First() {
		return 1, nil
	}
	return 0, it.Error()
}

// upgradeIndex rewrites a format 1 index as format 2: one walk of the block
// entries gives every file its height range and its list of blocks. The
// list is written in batches that need not be synced (rewriting it is
// harmless); the file entries and the version go last, in one synced batch,
// so a crash during the upgrade leaves a format 1 index that the next Open
// upgrades again.
func (s *Store) upgradeIndex() error {
	s.log.Info("block store: upgrading the block index to format 2")
	ranges := map[int]*fileInfo{}
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	err := s.Entries(func(e Entry) error {
		fi := ranges[e.Block.File]
		if fi == nil {
			fi = &fileInfo{}
			ranges[e.Block.File] = fi
		}
		fi.addBlock(e.Height)
		b.Set(fileBlockKey(e.Block.File, e.Hash), nil, nil)
		if b.Len() > 4<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("upgrading block index: %w", err)
			}
			b.Close()
			b = s.db.NewBatch()
		}
		return nil
	})
	if err != nil {
		return err
	}
	for n, fi := range s.files {
		if r := ranges[n]; r != nil {
			fi.HeightFirst, fi.HeightLast = r.HeightFirst, r.HeightLast
		}
		b.Set(fileKey(n), encodeFileInfo(fi), nil)
	}
	b.Set(keyVersion, binary.LittleEndian.AppendUint32(nil, formatVersion), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("upgrading block index: %w", err)
	}
	return nil
}
