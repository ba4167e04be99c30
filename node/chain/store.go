package chain

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/watchnode/watchnode/node/consensus"
)

// syncInterval is the least time between two fsyncs of the header store
// while headers keep coming. A sync from btcd brings a batch every 2 to
// 3 ms, and an fsync after each cost the 40,000-header sync from process
// start 3 to 4 ms of CPU on a machine the sync keeps busy; Core writes its
// block index far less often still (when it flushes its state).
const syncInterval = 100 * time.Millisecond

// Store is the main chain on disk: one file of records in height order. It
// is the shell's I/O piece: the Chain returns its changes as Writes and the
// Chain's owner passes them to Write, in order.
//
// Writes go to a writer goroutine in order, which writes them and fsyncs
// once it has caught up, at most every syncInterval (at once for Flush), so
// the owner never waits for the disk and a batch of 2000 headers costs one
// write. A crash (kill -9, or power loss after the last fsync) leaves a
// prefix of what was accepted; a torn or corrupt record at the end is found
// by its checksum at the next open and cut off, never accepted. Headers
// lost that way are fetched again; what must not outlive them (the UTXO
// set's best block) flushes the store first.
//
// The first failure (a full disk, an I/O error) stops the store: every
// later operation is refused, so what is on disk stays a valid prefix, and
// the failure is reported through StoreOptions.OnError, Err, Flush and
// Close.
//
// One process writes a store: OpenStore takes an exclusive lock on the
// file. Readers do not take it: ReadStore and OpenReadOnly read the file
// while a Store writes it (export-headers while the node runs), and never
// write or cut it. That is safe because the file changes only at its end:
// whole records are appended after the last one, and a reorg cuts the
// branch it leaves and appends the new one. A record appended while a
// reader reads is torn or missing for it, and its checksum (which covers
// its height) stops the reader there; a reader that races a reorg stops
// where a header no longer follows the one before it.
type Store struct {
	f    storeFile
	path string
	log  *slog.Logger
	opts StoreOptions

	ops  chan storeOp
	done chan struct{}

	mu  sync.Mutex
	err error // the first failure; later operations are refused
}

// StoreOptions configures a Store.
type StoreOptions struct {
	// OnError, if not nil, is called once, on the store's writer
	// goroutine, with the first failure, as soon as it happens: the owner
	// learns that headers are no longer being saved without polling Err.
	// It must return promptly and must not call the store's Write, Flush
	// or Close (the writer goroutine is the one that would serve them).
	OnError func(error)
	// WrapFile, if not nil, wraps the opened file for the writer
	// goroutine: tests of the store's owners inject write failures (a full
	// disk) with it.
	WrapFile func(*os.File) WritableFile
}

// WritableFile is what a Store writes through: the *os.File it opened, or
// a test's wrapper around it that fails on demand.
type WritableFile = storeFile

// storeFile is the file interface a Store needs.
type storeFile interface {
	Write(p []byte) (int, error)
	Truncate(size int64) error
	Seek(offset int64, whence int) (int64, error)
	Sync() error
	Close() error
}

type storeOp struct {
	truncateTo int64 // cut the file to this many records first (when it holds more)
	write      Write
	// flushed, if not nil, makes this a flush: it is closed once
	// everything queued before it is synced.
	flushed chan struct{}
}

// OpenStore opens (or creates) the store at path, locks it against other
// processes and returns the headers of every intact record, in height
// order. Everything after the first bad record is cut off and reported in
// the log (nil: no log).
func OpenStore(path string, log *slog.Logger, opts StoreOptions) (*Store, []consensus.Header, error) {
	return openStore(path, log, opts, opts.WrapFile)
}

// openStore is OpenStore; wrap, if not nil, wraps the opened file for the
// writer goroutine (tests inject failures with it).
func openStore(path string, log *slog.Logger, opts StoreOptions, wrap func(*os.File) storeFile) (*Store, []consensus.Header, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening header store: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("reading header store %s: %w", path, err)
	}
	headers, good := decodeRecords(data)
	if good != len(data) {
		log.Warn("header store: cutting off a torn or corrupt tail", "kept_records", good/recordSize, "dropped_bytes", len(data)-good)
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("truncating header store %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("syncing header store %s: %w", path, err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("seeking header store %s: %w", path, err)
	}
	s := &Store{f: f, path: path, log: log, opts: opts, ops: make(chan storeOp, 1024), done: make(chan struct{})}
	if wrap != nil {
		s.f = wrap(f)
	}
	go s.writeLoop(int64(good / recordSize))
	return s, headers, nil
}

func (s *Store) writeLoop(records int64) {
	defer close(s.done)
	dirty := false
	var waiting []chan struct{}
	var lastSync time.Time
	// wait runs while dirty data waits out syncInterval.
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	defer wait.Stop()
	for {
		var op storeOp
		var ok bool
		early := time.Since(lastSync) < syncInterval
		switch {
		case dirty && len(waiting) == 0 && early:
			// Caught up or not, the last sync is too recent: write on,
			// or sync when the interval is over.
			wait.Reset(syncInterval - time.Since(lastSync))
			select {
			case op, ok = <-s.ops:
				wait.Stop()
			case <-wait.C:
				continue
			}
		case dirty || len(waiting) > 0:
			select {
			case op, ok = <-s.ops:
			default:
				// Caught up: make everything written so far durable (after
				// a failure too: the records before it are good).
				if dirty {
					s.fail(s.wrapErr("syncing", s.f.Sync()))
					lastSync = time.Now()
				}
				dirty = false
				for _, w := range waiting {
					close(w)
				}
				waiting = waiting[:0]
				continue
			}
		default:
			op, ok = <-s.ops
		}
		if !ok {
			if dirty {
				s.fail(s.wrapErr("syncing", s.f.Sync()))
			}
			for _, w := range waiting {
				close(w)
			}
			return
		}
		if op.flushed != nil {
			waiting = append(waiting, op.flushed)
			continue
		}
		if s.failed() {
			continue
		}
		if op.truncateTo > records {
			// A gap: the records in between were never handed to the
			// store. Writing would put records at the wrong offsets; refuse
			// instead, leaving the file as it is.
			s.fail(fmt.Errorf("header store %s holds %d records; refusing a write at height %d that would leave a gap", s.path, records, op.truncateTo))
			continue
		}
		if op.truncateTo < records {
			records = op.truncateTo
			if err := s.f.Truncate(records * recordSize); err != nil {
				s.fail(s.wrapErr("truncating", err))
				continue
			}
			if _, err := s.f.Seek(records*recordSize, io.SeekStart); err != nil {
				s.fail(s.wrapErr("seeking", err))
				continue
			}
			dirty = true
		}
		if op.write.Count() > 0 {
			// A short write leaves at most a torn record after the last
			// whole one, which the next open cuts off by its checksum.
			if _, err := s.f.Write(op.write.Records()); err != nil {
				s.fail(s.wrapErr("writing", err))
				continue
			}
			records += int64(op.write.Count())
			dirty = true
		}
	}
}

func (s *Store) wrapErr(doing string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s header store %s: %w", doing, s.path, err)
}

// fail records the first failure and reports it; it runs on the writer
// goroutine.
func (s *Store) fail(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = err
	}
	s.mu.Unlock()
	if !first {
		return
	}
	s.log.Error("header store failed; no further headers will be saved", "err", err)
	if s.opts.OnError != nil {
		s.opts.OnError(err)
	}
}

func (s *Store) failed() bool { return s.Err() != nil }

// Err returns the first failure, if any.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Write queues w for the writer goroutine; writes are applied in the order
// they are queued, and w.Headers now belongs to the store. After a failure
// it does nothing. It blocks only when the writer is 1024 writes behind.
// It must not be called after Close, and panics on a negative From (a
// caller's bug, not a disk's).
func (s *Store) Write(w Write) {
	if w.From < 0 {
		panic(fmt.Sprintf("chain: bad store write from %d", w.From))
	}
	if s.failed() {
		return
	}
	s.ops <- storeOp{truncateTo: int64(w.From), write: w}
}

// Flush waits until everything queued so far is written and synced, and
// returns the first failure, if any.
func (s *Store) Flush() error {
	ch := make(chan struct{})
	s.ops <- storeOp{flushed: ch}
	<-ch
	return s.Err()
}

// Close flushes and closes the file (releasing its lock) and returns the
// first failure, if any.
func (s *Store) Close() error {
	close(s.ops)
	<-s.done
	return errors.Join(s.Err(), s.f.Close())
}
