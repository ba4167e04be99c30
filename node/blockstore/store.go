package blockstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
)

// DefaultMaxFileSize is Core's MAX_BLOCKFILE_SIZE: a new blk file is begun
// when the next record would pass it.
const DefaultMaxFileSize = 128 << 20

// ErrNotFound is wrapped when the store has no such block.
var ErrNotFound = errors.New("block not found")

// ErrCorrupt is wrapped when the index or a file is not what the store
// wrote: damage from outside the store, since a crash cannot cause it.
var ErrCorrupt = errors.New("block store is corrupt")

// Options configures Open.
type Options struct {
	Dir         string          // the datadir; the store lives in Dir/blocks
	Magic       wire.BitcoinNet // the network's magic, written before every record
	MaxFileSize int64           // 0: DefaultMaxFileSize
	Logger      *slog.Logger    // nil: no log
}

// Location is where a record's payload starts in a numbered file.
type Location struct {
	File   int
	Offset int64
	Size   uint32
}

// Entry is what the index knows of one block.
type Entry struct {
	Hash   chainhash.Hash
	Height int32
	Block  Location // in blkNNNNN.dat, NNNNN being Block.File
	Undo   Location // in revNNNNN.dat of the same number; Size 0: no undo data yet
}

// Store is the block and undo files and their index. All methods are safe
// for concurrent use; writes (WriteBlock, WriteUndo, Sync, Prune, Close)
// are serialized among themselves, and readers (ReadBlock, ReadUndo, Has,
// Lookup) see committed entries and, within this process, staged ones too
// (their bytes are already in the file).
type Store struct {
	dir   string
	magic wire.BitcoinNet
	max   int64
	log   *slog.Logger
	db    *pebble.DB

	writeMu     sync.Mutex // serializes writers
	mu          sync.Mutex // guards the fields below
	files       map[int]*fileInfo
	last        int
	staged      map[chainhash.Hash]Entry
	touched     map[int]*os.File // blk files written since the last Sync
	touchedRev  map[int]*os.File // rev files likewise
	havePruned  bool             // Core's m_have_pruned
	pruneHeight int32            // the highest height of a pruned file
	err         error            // the first write failure; later writes are refused

	afterPruneCommit func() // tests: runs between Prune's commit and its deletes
}

func (s *Store) blkPath(n int) string { return filepath.Join(s.dir, fmt.Sprintf("blk%05d.dat", n)) }
func (s *Store) revPath(n int) string { return filepath.Join(s.dir, fmt.Sprintf("rev%05d.dat", n)) }

// Open opens (or creates) the store in opts.Dir/blocks, upgrading a format
// 1 index. Data past what the index records for each blk or rev file is the
// tail of a write never committed: it is cut off (logged at INFO); files
// beyond the last one the index knows, and files of pruned pairs, are
// deleted. A file shorter than the index says is ErrCorrupt.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" || opts.Magic == 0 {
		return nil, errors.New("opening block store: Dir and Magic are required")
	}
	s := &Store{dir: filepath.Join(opts.Dir, "blocks"), magic: opts.Magic, max: opts.MaxFileSize, log: opts.Logger,
		files: map[int]*fileInfo{}, staged: map[chainhash.Hash]Entry{}, touched: map[int]*os.File{}, touchedRev: map[int]*os.File{}, pruneHeight: -1}
	if s.max <= 0 {
		s.max = DefaultMaxFileSize
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating block store directory: %w", err)
	}
	db, err := pebble.Open(filepath.Join(s.dir, "index"), &pebble.Options{Logger: quietLogger{s.log}})
	if err != nil {
		return nil, fmt.Errorf("opening block index: %w", err)
	}
	s.db = db
	if err := s.recover(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) recover() error {
	if v, c, err := s.db.Get(keyLast); err == nil {
		if len(v) != 4 {
			c.Close()
			return fmt.Errorf("%w: last file number is %d bytes", ErrCorrupt, len(v))
		}
		s.last = int(binary.LittleEndian.Uint32(v))
		c.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("reading block index: %w", err)
	}
	version, err := s.readVersion()
	if err != nil {
		return err
	}
	if version > formatVersion {
		return fmt.Errorf("opening block index: format %d is newer than this program's %d", version, formatVersion)
	}
	for n := 0; n <= s.last; n++ {
		fi := &fileInfo{}
		if v, c, err := s.db.Get(fileKey(n)); err == nil {
			var legacy bool
			fi, legacy, err = decodeFileInfo(n, v)
			c.Close()
			if err != nil {
				return err
			}
			if legacy && version != 1 {
				return fmt.Errorf("%w: format %d index has a format 1 entry for file %d", ErrCorrupt, version, n)
			}
		} else if !errors.Is(err, pebble.ErrNotFound) {
			return fmt.Errorf("reading block index: %w", err)
		}
		s.files[n] = fi
	}
	switch version {
	case 0:
		// A new store: say its format before anything else is written.
		if err := s.db.Set(keyVersion, binary.LittleEndian.AppendUint32(nil, formatVersion), pebble.Sync); err != nil {
			return fmt.Errorf("writing block index format: %w", err)
		}
	case 1:
		if err := s.upgradeIndex(); err != nil {
			return err
		}
	}
	if v, c, err := s.db.Get(keyPruned); err == nil {
		if len(v) != 4 {
			c.Close()
			return fmt.Errorf("%w: prune height is %d bytes", ErrCorrupt, len(v))
		}
		s.havePruned, s.pruneHeight = true, int32(binary.LittleEndian.Uint32(v))
		c.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("reading block index: %w", err)
	}
	for n := 0; n <= s.last; n++ {
		fi := s.files[n]
		if fi.Pruned {
			// Prune deletes the files only after the batch that marks
			// them pruned commits: a crash in between leaves them.
			for _, p := range []string{s.blkPath(n), s.revPath(n)} {
				if err := os.Remove(p); err == nil {
					s.log.Info("block store: deleting a pruned file", "file", p)
				} else if !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("deleting pruned %s: %w", p, err)
				}
			}
			continue
		}
		if err := s.cutTail(s.blkPath(n), fi.Bytes); err != nil {
			return err
		}
		if err := s.cutTail(s.revPath(n), fi.UndoBytes); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("listing block store directory: %w", err)
	}
	for _, e := range ents {
		var n int
		_, errBlk := fmt.Sscanf(e.Name(), "blk%05d.dat", &n)
		_, errRev := fmt.Sscanf(e.Name(), "rev%05d.dat", &n)
		if (errBlk == nil || errRev == nil) && n > s.last {
			s.log.Info("block store: deleting a file the index never knew", "file", e.Name())
			if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil {
				return fmt.Errorf("deleting %s: %w", e.Name(), err)
			}
		}
	}
	return syncDir(s.dir)
}

// cutTail makes the file at path as long as the index says (want bytes):
// anything past is the tail of a write the index never committed. A file
// shorter than that cannot come from a crash (its bytes were durable before
// the index said so), so it is ErrCorrupt.
func (s *Store) cutTail(path string, want int64) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && want == 0:
		return nil
	case err != nil:
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	case st.Size() < want:
		return fmt.Errorf("%w: %s is %d bytes, but the index has records up to %d", ErrCorrupt, path, st.Size(), want)
	case st.Size() > want:
		s.log.Info("block store: cutting off an uncommitted tail", "file", path, "dropped_bytes", st.Size()-want)
		if err := os.Truncate(path, want); err != nil {
			return fmt.Errorf("truncating %s: %w", path, err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// WriteBlock appends raw to the current blk file and stages its index
// entry; Sync makes both durable. A block already stored is not written
// again: its location is returned.
func (s *Store) WriteBlock(hash chainhash.Hash, height int32, raw []byte) (Location, error) {
	if len(raw) == 0 || len(raw) > wire.MaxBlockPayload {
		return Location{}, fmt.Errorf("writing block %s: size %d is not 1 to %d", hash, len(raw), wire.MaxBlockPayload)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if e, ok, err := s.lookup(hash); err != nil || ok {
		return e.Block, err
	}
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return Location{}, s.err
	}
	n := s.last
	fi := s.files[n]
	if fi == nil {
		fi = &fileInfo{}
		s.files[n] = fi
	}
	if fi.Bytes > 0 && fi.Bytes+recordHeaderSize+int64(len(raw)) > s.max {
		n++
		fi = &fileInfo{}
	}
	off := fi.Bytes
	s.mu.Unlock()
	f := s.touched[n] // only writers (under writeMu) use touched
	if f == nil {
		var err error
		if f, err = os.OpenFile(s.blkPath(n), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
			return Location{}, fmt.Errorf("opening %s: %w", s.blkPath(n), err)
		}
		s.touched[n] = f
	}
	// The record's header and the block go in two writes: joining them
	// would copy every block (up to 4 MB) once more.
	var header [recordHeaderSize]byte
	copy(header[:], magicBytes(s.magic))
	binary.LittleEndian.PutUint32(header[4:], uint32(len(raw)))
	if _, err := f.WriteAt(header[:], off); err != nil {
		return Location{}, s.fail(fmt.Errorf("writing block %s to %s: %w", hash, s.blkPath(n), err))
	}
	if _, err := f.WriteAt(raw, off+recordHeaderSize); err != nil {
		return Location{}, s.fail(fmt.Errorf("writing block %s to %s: %w", hash, s.blkPath(n), err))
	}
	loc := Location{File: n, Offset: off + recordHeaderSize, Size: uint32(len(raw))}
	s.mu.Lock()
	s.files[n] = fi
	s.last = n
	fi.addBlock(height)
	fi.Bytes = loc.Offset + int64(loc.Size)
	s.staged[hash] = Entry{Hash: hash, Height: height, Block: loc}
	s.mu.Unlock()
	return loc, nil
}

func (s *Store) fail(err error) error {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	return err
}

// Sync fsyncs the files written since the last Sync, then commits the
// staged index entries in one synced batch: the index never points at data
// that is not durable.
func (s *Store) Sync() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.sync()
}

func (s *Store) sync() error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if len(s.touched) == 0 && len(s.touchedRev) == 0 {
		return nil
	}
	// Only the files written since the last Sync change in the index: a
	// mainnet store has thousands of files.
	dirty := map[int]bool{}
	for _, t := range []struct {
		files map[int]*os.File
		path  func(int) string
	}{{s.touched, s.blkPath}, {s.touchedRev, s.revPath}} {
		for n, f := range t.files {
			if err := f.Sync(); err != nil {
				return s.fail(fmt.Errorf("syncing %s: %w", t.path(n), err))
			}
			f.Close()
			delete(t.files, n)
			dirty[n] = true
		}
	}
	if err := syncDir(s.dir); err != nil {
		return s.fail(err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	s.mu.Lock()
	staged := s.staged
	for h, e := range staged {
		b.Set(blockKey(h), encodeEntry(e), nil)
		// Rewritten with every change of the entry (undo data added):
		// cheaper than remembering which entries are new.
		b.Set(fileBlockKey(e.Block.File, h), nil, nil)
	}
	for n := range dirty {
		b.Set(fileKey(n), encodeFileInfo(s.files[n]), nil)
	}
	b.Set(keyLast, binary.LittleEndian.AppendUint32(nil, uint32(s.last)), nil)
	s.mu.Unlock()
	if err := b.Commit(pebble.Sync); err != nil {
		return s.fail(fmt.Errorf("committing block index: %w", err))
	}
	s.mu.Lock()
	for h := range staged {
		delete(s.staged, h)
	}
	s.mu.Unlock()
	return nil
}

func (s *Store) lookup(hash chainhash.Hash) (Entry, bool, error) {
	s.mu.Lock()
	e, ok := s.staged[hash]
	s.mu.Unlock()
	if ok {
		return e, true, nil
	}
	v, c, err := s.db.Get(blockKey(hash))
	if errors.Is(err, pebble.ErrNotFound) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("reading block index: %w", err)
	}
	defer c.Close()
	e, err = decodeEntry(hash, v)
	return e, err == nil, err
}

// Lookup returns the index entry of hash, if any.
func (s *Store) Lookup(hash chainhash.Hash) (Entry, bool) {
	e, ok, err := s.lookup(hash)
	return e, ok && err == nil
}

// Has reports whether the store holds hash.
func (s *Store) Has(hash chainhash.Hash) bool {
	_, ok := s.Lookup(hash)
	return ok
}

// ReadBlock returns the serialized block hash, checking that its record's
// magic and size are the ones the index expects. A block the store does
// not have, pruned or never stored, is ErrNotFound: ReadBlockAt tells the
// two apart.
func (s *Store) ReadBlock(hash chainhash.Hash) ([]byte, error) {
	e, ok, err := s.lookup(hash)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("reading block %s: %w", hash, ErrNotFound)
	}
	f, err := os.Open(s.blkPath(e.Block.File))
	if err != nil {
		if _, ok, _ := s.lookup(hash); !ok && errors.Is(err, os.ErrNotExist) {
			// Prune deleted the file since the lookup.
			return nil, fmt.Errorf("reading block %s: %w", hash, ErrNotFound)
		}
		return nil, fmt.Errorf("reading block %s: %w", hash, err)
	}
	defer f.Close()
	buf := make([]byte, recordHeaderSize+int(e.Block.Size))
	if _, err := f.ReadAt(buf, e.Block.Offset-recordHeaderSize); err != nil {
		if errors.Is(err, io.EOF) {
			err = ErrCorrupt
		}
		return nil, fmt.Errorf("reading block %s from %s at offset %d: %w", hash, s.blkPath(e.Block.File), e.Block.Offset, err)
	}
	if wire.BitcoinNet(binary.LittleEndian.Uint32(buf)) != s.magic || binary.LittleEndian.Uint32(buf[4:]) != e.Block.Size {
		return nil, fmt.Errorf("%w: block %s in %s at offset %d: record header %x does not match the index", ErrCorrupt, hash, s.blkPath(e.Block.File), e.Block.Offset, buf[:8])
	}
	return buf[recordHeaderSize:], nil
}

// Entries calls fn with every committed index entry, in hash order (the
// chain learns at start which blocks it has); fn's error stops it.
func (s *Store) Entries(fn func(Entry) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("b"), UpperBound: []byte("c")})
	if err != nil {
		return fmt.Errorf("walking block index: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		var h chainhash.Hash
		if len(it.Key()) != 33 {
			return fmt.Errorf("%w: index key %x", ErrCorrupt, it.Key())
		}
		copy(h[:], it.Key()[1:])
		e, err := decodeEntry(h, it.Value())
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return it.Error()
}

// SizeOnDisk returns the bytes of the blk and rev files, staged writes
// included: what Prune holds under its target (Core's
// CalculateCurrentUsage).
func (s *Store) SizeOnDisk() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, fi := range s.files {
		n += fi.Bytes + fi.UndoBytes
	}
	return n
}

// Close syncs staged writes and closes the store.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return errors.Join(s.sync(), s.db.Close())
}

// quietLogger sends pebble's log to slog.
type quietLogger struct{ log *slog.Logger }

func (l quietLogger) Infof(format string, args ...any) {
	l.log.Debug("block index: " + fmt.Sprintf(format, args...))
}
func (l quietLogger) Errorf(format string, args ...any) {
	l.log.Error("block index: " + fmt.Sprintf(format, args...))
}
func (l quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("block index: "+format, args...))
}
