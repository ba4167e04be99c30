package blockstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// testUndo derives a block's undo data (1 to 2000 bytes) from its hash.
func testUndo(h chainhash.Hash) []byte {
	r := rand.New(rand.NewPCG(uint64(h[3])|uint64(h[4])<<8, uint64(h[5])))
	b := make([]byte, 1+r.IntN(2000))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeBlocksWithUndo(t *testing.T, s *Store, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		h := testHash(i)
		if _, err := s.WriteBlock(h, int32(i), testBlock(h)); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteUndo(h, testUndo(h)); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestUndoRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	const n = 40
	for i := range n {
		h := testHash(i)
		if _, err := s.WriteBlock(h, int32(i), testBlock(h)); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 { // undo of a committed block, not only of a staged one
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		if i%4 == 3 {
			continue // no undo data for these
		}
		if err := s.WriteUndo(h, testUndo(h)); err != nil {
			t.Fatal(err)
		}
		// Staged undo data is readable by this process.
		if got, err := s.ReadUndo(h); err != nil || !bytes.Equal(got, testUndo(h)) {
			t.Fatalf("undo %d before sync: %v", i, err)
		}
		// A second write keeps the first, as Core writes undo data once.
		if err := s.WriteUndo(h, []byte("other")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteUndo(testHash(n), []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("undo of a missing block: %v", err)
	}
	if err := s.WriteUndo(testHash(0), nil); err == nil {
		t.Fatal("empty undo data accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	defer s.Close()
	for i := range n {
		h := testHash(i)
		got, err := s.ReadUndo(h)
		if i%4 == 3 {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("undo %d (none written): %v", i, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, testUndo(h)) {
			t.Fatalf("undo %d after reopen: %v", i, err)
		}
		if got, err := s.ReadBlock(h); err != nil || !bytes.Equal(got, testBlock(h)) {
			t.Fatalf("block %d after reopen: %v", i, err)
		}
	}

	// The record is Core's: magic, size, data, then SHA256d of the
	// parent's hash (the block header's bytes 4 to 36) and the data.
	h := testHash(5)
	e, _ := s.Lookup(h)
	if e.Undo.File != e.Block.File || e.Undo.Size != uint32(len(testUndo(h))) {
		t.Fatalf("undo location %+v of block in %+v", e.Undo, e.Block)
	}
	rev, err := os.ReadFile(s.revPath(e.Undo.File))
	if err != nil {
		t.Fatal(err)
	}
	rec := rev[e.Undo.Offset-8 : e.Undo.Offset+int64(e.Undo.Size)+32]
	if !bytes.Equal(rec[:4], magicBytes(wire.MainNet)) || binary.LittleEndian.Uint32(rec[4:]) != e.Undo.Size || !bytes.Equal(rec[8:8+e.Undo.Size], testUndo(h)) {
		t.Fatalf("undo record header %x", rec[:8])
	}
	first := sha256.Sum256(append(append([]byte{}, testBlock(h)[4:36]...), testUndo(h)...))
	if sum := sha256.Sum256(first[:]); !bytes.Equal(rec[8+e.Undo.Size:], sum[:]) {
		t.Fatalf("checksum %x, want %x", rec[8+e.Undo.Size:], sum)
	}
}

func TestUndoChecksumCorruption(t *testing.T) {
	for _, what := range []string{"data", "checksum", "parent"} {
		t.Run(what, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir)
			defer s.Close()
			writeBlocksWithUndo(t, s, 0, 10)
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			h := testHash(7)
			e, _ := s.Lookup(h)
			path, off := s.revPath(e.Undo.File), e.Undo.Offset+int64(e.Undo.Size)/2
			switch what {
			case "checksum":
				off = e.Undo.Offset + int64(e.Undo.Size) + 5
			case "parent": // the checksum covers the parent's hash too
				path, off = s.blkPath(e.Block.File), e.Block.Offset+10
			}
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			var b [1]byte
			f.ReadAt(b[:], off)
			b[0] ^= 0x40
			f.WriteAt(b[:], off)
			f.Close()
			if _, err := s.ReadUndo(h); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			if got, err := s.ReadUndo(testHash(6)); err != nil || !bytes.Equal(got, testUndo(testHash(6))) {
				t.Fatalf("neighbour: %v", err)
			}
		})
	}
}

func TestOpenCutsUndoTail(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	writeBlocksWithUndo(t, s, 0, 30)
	s.Close()
	s = openT(t, dir)
	last := s.last
	want := s.files[last].UndoBytes
	s.Close()
	rev := s.revPath(last)
	f, _ := os.OpenFile(rev, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("torn undo tail"))
	f.Close()
	os.WriteFile(s.revPath(last+1), []byte("unknown"), 0o600)
	s = openT(t, dir)
	if st, _ := os.Stat(rev); st.Size() != want {
		t.Fatalf("undo tail not cut: %d, want %d", st.Size(), want)
	}
	if _, err := os.Stat(s.revPath(last + 1)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unknown rev file kept: %v", err)
	}
	for i := range 30 {
		if got, err := s.ReadUndo(testHash(i)); err != nil || !bytes.Equal(got, testUndo(testHash(i))) {
			t.Fatalf("undo %d: %v", i, err)
		}
	}
	s.Close()
	// A rev file shorter than the index says is outside damage.
	os.Truncate(rev, want-1)
	if _, err := Open(Options{Dir: dir, Magic: wire.MainNet, MaxFileSize: 20000}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short rev file: got %v, want ErrCorrupt", err)
	}
}
