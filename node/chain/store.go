package chain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/watchnode/watchnode/node/consensus"
)

// recordSize is one stored header: 80 bytes, then a CRC-32C over those bytes
// and the header's height. The height in the checksum catches a record that
// is intact but in the wrong place.
const recordSize = 84

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordCRC checksums buf, which holds a header's 80 bytes followed by its
// height (4 bytes, little endian).
func recordCRC(buf []byte) uint32 { return crc32.Checksum(buf, castagnoli) }

func appendRecord(dst []byte, hdr *consensus.Header, height int32) []byte {
	start := len(dst)
	dst = hdr.Serialize(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(height))
	// The height was only there to be checksummed: the CRC takes its place.
	binary.LittleEndian.PutUint32(dst[start+80:], recordCRC(dst[start:]))
	return dst
}

// Store is the main chain on disk: one file of records in height order.
//
// Appends and truncations go to a writer goroutine in order, which writes
// them and fsyncs whenever it has caught up, so the engine never waits for
// the disk and a batch of 2000 headers costs one write. A crash (kill -9, or
// power loss after the last fsync) leaves a prefix of what was accepted; a
// torn or corrupt record at the end is found by its checksum at the next
// open and cut off, never accepted.
type Store struct {
	f   *os.File
	log *slog.Logger

	ops  chan storeOp
	done chan struct{}

	mu  sync.Mutex
	err error // the first write error; later operations are refused
}

type storeOp struct {
	truncateTo int64 // >= 0: cut the file to this many records first
	data       []byte
	flushed    chan struct{} // closed once everything before it is synced
}

// openStore opens (or creates) the store at path and returns the headers
// of every intact record, in height order. Everything after the first bad
// record is cut off and reported in the log.
func openStore(path string, log *slog.Logger) (*Store, []consensus.Header, error) {
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
	headers := make([]consensus.Header, 0, len(data)/recordSize+4096)
	good := 0
	scratch := make([]byte, recordSize)
	for off := 0; off+recordSize <= len(data); off += recordSize {
		rec := data[off : off+recordSize]
		height := int32(off / recordSize)
		copy(scratch, rec[:80])
		binary.LittleEndian.PutUint32(scratch[80:], uint32(height))
		if binary.LittleEndian.Uint32(rec[80:]) != recordCRC(scratch) {
			log.Warn("header store: bad checksum; keeping the records before it", "height", height, "offset", off)
			break
		}
		h, err := consensus.ParseHeader(rec[:80])
		if err != nil {
			break
		}
		headers = append(headers, h)
		good = off + recordSize
	}
	if good != len(data) {
		log.Warn("header store: cutting off a torn or corrupt tail", "kept_records", good/recordSize, "dropped_bytes", len(data)-good)
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("truncating header store: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("syncing header store: %w", err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("seeking header store: %w", err)
	}
	s := &Store{f: f, log: log, ops: make(chan storeOp, 1024), done: make(chan struct{})}
	go s.writeLoop(int64(good / recordSize))
	return s, headers, nil
}

func (s *Store) writeLoop(records int64) {
	defer close(s.done)
	dirty := false
	var waiting []chan struct{}
	for {
		var op storeOp
		var ok bool
		if dirty || len(waiting) > 0 {
			select {
			case op, ok = <-s.ops:
			default:
				// Caught up: make everything written so far durable.
				s.fail(s.f.Sync())
				dirty = false
				for _, w := range waiting {
					close(w)
				}
				waiting = waiting[:0]
				continue
			}
		} else {
			op, ok = <-s.ops
		}
		if !ok {
			if dirty {
				s.fail(s.f.Sync())
			}
			for _, w := range waiting {
				close(w)
			}
			return
		}
		if s.failed() {
			if op.flushed != nil {
				close(op.flushed)
			}
			continue
		}
		if op.truncateTo >= 0 && op.truncateTo < records {
			records = op.truncateTo
			if err := s.f.Truncate(records * recordSize); err != nil {
				s.fail(fmt.Errorf("truncating header store: %w", err))
				continue
			}
			if _, err := s.f.Seek(records*recordSize, io.SeekStart); err != nil {
				s.fail(fmt.Errorf("seeking header store: %w", err))
				continue
			}
			dirty = true
		}
		if len(op.data) > 0 {
			if _, err := s.f.Write(op.data); err != nil {
				s.fail(fmt.Errorf("writing header store: %w", err))
				continue
			}
			records += int64(len(op.data) / recordSize)
			dirty = true
		}
		if op.flushed != nil {
			waiting = append(waiting, op.flushed)
		}
	}
}

func (s *Store) fail(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		s.log.Error("header store failed; no further headers will be saved", "err", err)
	}
}

func (s *Store) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

// Err returns the first write error, if any.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// write queues records (made with appendRecord) to be written after the
// file has been cut to truncateTo records (-1: no cut).
func (s *Store) write(truncateTo int64, records []byte) {
	s.ops <- storeOp{truncateTo: truncateTo, data: records}
}

// Flush waits until everything queued so far is written and synced.
func (s *Store) Flush() error {
	ch := make(chan struct{})
	s.ops <- storeOp{truncateTo: -1, flushed: ch}
	<-ch
	return s.Err()
}

// Close flushes and closes the file.
func (s *Store) Close() error {
	close(s.ops)
	<-s.done
	return errors.Join(s.Err(), s.f.Close())
}
