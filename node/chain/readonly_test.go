package chain

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/watchnode/watchnode/node/consensus"
)

// mainChain returns c's main chain, genesis first.
func mainChain(c *Chain) []consensus.Header {
	out := make([]consensus.Header, c.Height()+1)
	for h := range out {
		out[h] = *c.HeaderAt(int32(h))
	}
	return out
}

func sameHeaders(t *testing.T, what string, got, want []consensus.Header) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d headers, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: header %d differs", what, i)
		}
	}
}

// TestReadStoreWhileWriting: a store open for writing (and locked) is read
// without the lock, a record being appended (torn) is not read, and the
// reader neither cuts nor changes the file; the writer then carries on
// over the torn bytes and a later read sees everything.
func TestReadStoreWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StoreFile)
	c, s := mustOpen(t, dir)
	defer s.Close()
	acceptStored(t, c, s, gen(3000, 60))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStore(path, nil)
	if err != nil {
		t.Fatalf("reading a store open for writing: %v", err)
	}
	sameHeaders(t, "read while open", got, mainChain(c))

	// Half a record after the last one: an append caught mid-write.
	next := grow(c.TipHeader(), 1, 61)
	torn := Write{From: c.Height() + 1, Headers: next}.Records()[:recordSize/2]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(torn); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before, _ := os.ReadFile(path)
	ro, err := OpenReadOnly(dir, regtest(), nil)
	if err != nil {
		t.Fatalf("opening read-only a store open for writing: %v", err)
	}
	sameHeaders(t, "read with a torn last record", mainChain(ro), mainChain(c))
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Fatalf("the reader changed the file: %d bytes, were %d", len(after), len(before))
	}

	// The writer's next append overwrites the torn bytes from its own
	// offset, as it would have finished them.
	acceptStored(t, c, s, next)
	acceptStored(t, c, s, grow(c.TipHeader(), 500, 62))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err = ReadStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameHeaders(t, "read after more writes", got, mainChain(c))
}

// TestReadStoreStopsAtAReorgBeingWritten: a reader that read the old
// branch's first records and then, the writer having cut the file and
// appended the new branch meanwhile, the new branch's next ones, gets the
// old branch up to where it stopped: records with good checksums that do
// not form a chain are not read.
func TestReadStoreStopsAtAReorgBeingWritten(t *testing.T) {
	c, writes, _ := New(regtest(), nil)
	var file []byte
	apply := func(ws []Write) {
		for _, w := range ws {
			file = append(file[:int(w.From)*recordSize], w.Records()...)
		}
	}
	apply(writes)
	apply(accept(t, c, gen(100, 63)).Writes)
	old := mainChain(c)
	oldFile := append([]byte(nil), file...)
	res := accept(t, c, branch(t, c, 50, 60, 64))
	if res.Reorg == nil {
		t.Fatal("no reorg")
	}
	apply(res.Writes)
	// Records 0..79 as they were, 80.. as they are now.
	mixed := append(append([]byte(nil), oldFile[:80*recordSize]...), file[80*recordSize:]...)
	path := filepath.Join(t.TempDir(), StoreFile)
	if err := os.WriteFile(path, mixed, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameHeaders(t, "read across a reorg", got, old[:80])
}

// TestOpenReadOnlyCreatesNothing: a missing store is an error that says
// so, and no file or folder is made.
func TestOpenReadOnlyCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "regtest")
	_, err := OpenReadOnly(dir, regtest(), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing store: %v, want an error wrapping fs.ErrNotExist", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the read-only open made %s: %v", dir, err)
	}
}
