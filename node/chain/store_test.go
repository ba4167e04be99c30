package chain

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// failingFile passes everything to the real file except the failAt-th
// Write, which writes half a record and fails with ENOSPC, as a disk that
// fills up does; it counts the calls that reach it after that.
type failingFile struct {
	storeFile
	failAt int
	writes int
	after  int // operations attempted after the failure
}

func (f *failingFile) Write(p []byte) (int, error) {
	f.writes++
	switch {
	case f.writes < f.failAt:
		return f.storeFile.Write(p)
	case f.writes == f.failAt:
		n, _ := f.storeFile.Write(p[:recordSize/2])
		return n, &os.PathError{Op: "write", Path: "headers.dat", Err: syscall.ENOSPC}
	}
	f.after++
	return 0, syscall.ENOSPC
}

func (f *failingFile) Truncate(size int64) error {
	if f.writes >= f.failAt {
		f.after++
	}
	return f.storeFile.Truncate(size)
}

// TestStoreWriteFailure: a full disk on the third write is reported once
// through OnError, with the path and the OS error; later writes are
// refused, Flush and Close return the error, and the file holds exactly
// the records written before the failure.
func TestStoreWriteFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	var calls atomic.Int32
	var reported error
	ff := &failingFile{failAt: 3}
	s, stored, err := openStore(path, nil, StoreOptions{OnError: func(err error) {
		calls.Add(1)
		reported = err
	}}, func(f *os.File) storeFile { ff.storeFile = f; return ff })
	if err != nil {
		t.Fatal(err)
	}
	c, writes, err := New(regtest(), stored)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range writes { // write 1: genesis
		s.Write(w)
	}
	hs := gen(6000, 30)
	acceptStored(t, c, s, hs[:2000]) // write 2
	if err := s.Flush(); err != nil {
		t.Fatalf("flush before the failure: %v", err)
	}
	acceptStored(t, c, s, hs[2000:4000]) // write 3: fails
	err = s.Flush()
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "writing header store "+path) {
		t.Fatalf("flush after the failure: %v", err)
	}
	if calls.Load() != 1 || reported != err || s.Err() != err {
		t.Fatalf("OnError called %d times with %v; Err %v", calls.Load(), reported, s.Err())
	}
	// A reorg (a cut and a write) and an append: both refused.
	acceptStored(t, c, s, grow(*c.HeaderAt(3990), 20, 31))
	acceptStored(t, c, s, hs[4000:])
	if err := s.Flush(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("second flush: %v", err)
	}
	if err := s.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("close: %v", err)
	}
	if calls.Load() != 1 || ff.writes != 3 || ff.after != 0 {
		t.Errorf("after the failure: OnError %d calls, %d writes, %d more operations", calls.Load(), ff.writes, ff.after)
	}

	// The half record is cut off at the next open; the rest is intact.
	s, stored, err = OpenStore(path, nil, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(stored) != 2001 || stored[0] != regtest().Genesis || stored[2000] != hs[1999] {
		t.Fatalf("reopened %d headers, want the 2001 written before the failure", len(stored))
	}
	for i, h := range stored[1:] {
		if h != hs[i] {
			t.Fatalf("stored header %d differs", i+1)
		}
	}
}

// TestStoreRefusesGap: a write that starts past the store's end (writes
// lost by the caller) would put records at the wrong offsets: it fails the
// store instead, leaving the file as it was.
func TestStoreRefusesGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	s, _, err := OpenStore(path, nil, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, writes, _ := New(regtest(), nil)
	s.Write(writes[0])
	accept(t, c, gen(10, 32)) // its write is lost
	res := accept(t, c, grow(c.TipHeader(), 5, 33))
	s.Write(res.Writes[0])
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "gap") {
		t.Fatalf("a gap: %v", err)
	}
	s, stored, err := OpenStore(path, nil, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(stored) != 1 {
		t.Errorf("%d headers stored, want the genesis alone", len(stored))
	}
}

// TestWritesRebuildTheChain: the writes of every Accept, applied to a
// store, leave exactly the main chain, through forks and reorgs of every
// depth (applied by hand here: cut to From, append).
func TestWritesRebuildTheChain(t *testing.T) {
	c, writes, _ := New(regtest(), nil)
	var file []byte
	apply := func(ws []Write) {
		for _, w := range ws {
			if int(w.From)*recordSize > len(file) {
				t.Fatalf("write from %d past the end (%d records)", w.From, len(file)/recordSize)
			}
			file = append(file[:int(w.From)*recordSize], w.Records()...)
		}
	}
	apply(writes)
	apply(accept(t, c, gen(500, 40)).Writes)
	for i, d := range []int32{1, 10, 300, 2} {
		res := accept(t, c, grow(*c.HeaderAt(c.Height() - d), int(d)+2, uint64(41+i)))
		if res.Reorg == nil {
			t.Fatal("no reorg")
		}
		apply(res.Writes)
		apply(accept(t, c, grow(c.TipHeader(), 7, uint64(50+i))).Writes)
	}
	if len(file) != int(c.Height()+1)*recordSize {
		t.Fatalf("%d records for height %d", len(file)/recordSize, c.Height())
	}
	for h := range c.Height() + 1 {
		want := appendRecord(nil, c.HeaderAt(h), h)
		if string(file[int(h)*recordSize:int(h+1)*recordSize]) != string(want) {
			t.Fatalf("record %d differs from the main chain", h)
		}
	}
}

// syncCountingFile counts the fsyncs that reach the file.
type syncCountingFile struct {
	storeFile
	syncs atomic.Int32
}

func (f *syncCountingFile) Sync() error {
	f.syncs.Add(1)
	return f.storeFile.Sync()
}

// TestStoreSyncsAtMostEveryInterval: batches written back to back, as a
// header sync brings them, share the fsyncs (at most one per
// syncInterval, plus the first); Flush still syncs at once, and Close
// leaves every record on disk.
func TestStoreSyncsAtMostEveryInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	cf := &syncCountingFile{}
	s, stored, err := openStore(path, nil, StoreOptions{}, func(f *os.File) storeFile { cf.storeFile = f; return cf })
	if err != nil {
		t.Fatal(err)
	}
	c, writes, err := New(regtest(), stored)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, w := range writes {
		s.Write(w)
	}
	const batches = 40
	hs := gen(batches*100, 34)
	for i := range batches {
		acceptStored(t, c, s, hs[i*100:(i+1)*100])
		time.Sleep(time.Millisecond) // the writer catches up between batches
	}
	elapsed := time.Since(start)
	synced := cf.syncs.Load()
	if bound := int32(elapsed/syncInterval) + 1; synced > bound {
		t.Errorf("%d fsyncs for %d batches written in %v, want at most %d", synced, batches, elapsed, bound)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if cf.syncs.Load() == synced {
		t.Error("Flush returned without an fsync of what was written")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, stored, err = OpenStore(path, nil, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(stored) != len(hs)+1 || stored[len(hs)] != hs[len(hs)-1] {
		t.Fatalf("reopened %d headers, want %d", len(stored), len(hs)+1)
	}
}
