package blockstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// testBlock derives a block's bytes (80 to 3079 of them: at least a
// header, whose bytes 4 to 36 WriteUndo takes as the parent's hash) from
// its hash, so a reader can verify what it reads.
func testBlock(h chainhash.Hash) []byte {
	r := rand.New(rand.NewPCG(uint64(h[0])|uint64(h[1])<<8, uint64(h[2])))
	b := make([]byte, 80+r.IntN(3000))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testHash(i int) chainhash.Hash {
	return sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
}

func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, Magic: wire.MainNet, MaxFileSize: 20000})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	const n = 60
	for i := range n {
		h := testHash(i)
		if _, err := s.WriteBlock(h, int32(n-i), testBlock(h)); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		// Staged blocks are readable by this process.
		if got, err := s.ReadBlock(h); err != nil || !bytes.Equal(got, testBlock(h)) {
			t.Fatalf("block %d before sync: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	defer s.Close()
	count := 0
	if err := s.Entries(func(e Entry) error {
		count++
		got, err := s.ReadBlock(e.Hash)
		if err != nil || !bytes.Equal(got, testBlock(e.Hash)) {
			t.Fatalf("block %s after reopen: %v", e.Hash, err)
		}
		return nil
	}); err != nil || count != n {
		t.Fatalf("entries: %d, %v", count, err)
	}
	if _, err := s.ReadBlock(testHash(n)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing block: %v", err)
	}
	// The files are Core's format: parse them back.
	files, _ := filepath.Glob(filepath.Join(dir, "blocks", "blk*.dat"))
	if len(files) < 3 {
		t.Fatalf("only %d files", len(files))
	}
	parsed := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := ScanBlockFile(f, wire.MainNet, func(off int64, raw []byte) error {
			parsed++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if parsed != n {
		t.Fatalf("parsed %d blocks back, want %d", parsed, n)
	}
}

func TestOpenCutsUncommittedTail(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	h := testHash(1)
	s.WriteBlock(h, 1, testBlock(h))
	s.Close()
	blk := filepath.Join(dir, "blocks", "blk00000.dat")
	st, _ := os.Stat(blk)
	f, _ := os.OpenFile(blk, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("torn tail"))
	f.Close()
	os.WriteFile(filepath.Join(dir, "blocks", "blk00007.dat"), []byte("unknown"), 0o600)
	s = openT(t, dir)
	defer s.Close()
	if st2, _ := os.Stat(blk); st2.Size() != st.Size() {
		t.Fatalf("tail not cut: %d, want %d", st2.Size(), st.Size())
	}
	if _, err := os.Stat(filepath.Join(dir, "blocks", "blk00007.dat")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unknown file kept: %v", err)
	}
	if got, err := s.ReadBlock(h); err != nil || !bytes.Equal(got, testBlock(h)) {
		t.Fatal(err)
	}
}

func TestOpenTruncatedFileIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	h := testHash(1)
	s.WriteBlock(h, 1, testBlock(h))
	s.Close()
	os.Truncate(filepath.Join(dir, "blocks", "blk00000.dat"), 10)
	if _, err := Open(Options{Dir: dir, Magic: wire.MainNet}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}
