package blockstore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// byFile returns the committed entries grouped by file.
func byFile(t *testing.T, s *Store) map[int]map[chainhash.Hash]Entry {
	t.Helper()
	m := map[int]map[chainhash.Hash]Entry{}
	if err := s.Entries(func(e Entry) error {
		if m[e.Block.File] == nil {
			m[e.Block.File] = map[chainhash.Hash]Entry{}
		}
		m[e.Block.File][e.Hash] = e
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	const n, keepFrom = 200, 100
	for i := range n {
		h := testHash(i)
		height := int32(i)
		if i == 3 {
			height = 1000 // arrived early (out of order): its file must stay
		}
		if _, err := s.WriteBlock(h, height, testBlock(h)); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteUndo(h, testUndo(h)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	before := byFile(t, s)
	if s.files[0].HeightLast != 1000 || len(before) < 10 {
		t.Fatalf("file 0 %+v, %d files", s.files[0], len(before))
	}
	if s.HavePruned() || s.PruneHeight() != -1 {
		t.Fatal("pruned before pruning")
	}
	// A target that needs three files gone: files 1, 2 and 3 are the
	// oldest that qualify.
	size := s.SizeOnDisk()
	pairSize := func(k int) int64 { return s.files[k].Bytes + s.files[k].UndoBytes }
	target := size - pairSize(1) - pairSize(2) - pairSize(3)/2
	res, err := s.Prune(target, keepFrom)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 3 || res.Files[0] != 1 || res.Files[1] != 2 || res.Files[2] != 3 {
		t.Fatalf("pruned files %v, want [1 2 3]", res.Files)
	}
	if s.SizeOnDisk() > target || s.SizeOnDisk() != size-res.Bytes {
		t.Fatalf("size %d after pruning %d bytes from %d, target %d", s.SizeOnDisk(), res.Bytes, size, target)
	}
	check := func(s *Store, pruned map[int]bool) {
		t.Helper()
		after := byFile(t, s)
		for k, ents := range before {
			if pruned[k] {
				if after[k] != nil || exists(s.blkPath(k)) || exists(s.revPath(k)) || !s.files[k].Pruned {
					t.Fatalf("file %d is pruned but has %d entries or files", k, len(after[k]))
				}
				if s.files[k].HeightLast >= keepFrom || k == s.last {
					t.Fatalf("file %d (%+v) pruned, keepFrom %d, last %d", k, s.files[k], keepFrom, s.last)
				}
				for h, e := range ents {
					if _, err := s.ReadBlock(h); !errors.Is(err, ErrNotFound) {
						t.Fatalf("pruned block: %v", err)
					}
					if _, err := s.ReadBlockAt(h, e.Height); !errors.Is(err, ErrPruned) || errors.Is(err, ErrNotFound) {
						t.Fatalf("pruned block at its height: %v", err)
					}
					if _, err := s.ReadUndo(h); !errors.Is(err, ErrNotFound) {
						t.Fatalf("undo of a pruned block: %v", err)
					}
				}
				continue
			}
			if len(after[k]) != len(ents) {
				t.Fatalf("file %d kept %d of %d entries", k, len(after[k]), len(ents))
			}
			for h, e := range ents {
				if got, err := s.ReadBlockAt(h, e.Height); err != nil || !bytes.Equal(got, testBlock(h)) {
					t.Fatalf("kept block %d: %v", e.Height, err)
				}
				if got, err := s.ReadUndo(h); err != nil || !bytes.Equal(got, testUndo(h)) {
					t.Fatalf("kept undo %d: %v", e.Height, err)
				}
			}
		}
		want := int32(-1)
		for k := range pruned {
			want = max(want, s.files[k].HeightLast)
		}
		if !s.HavePruned() || s.PruneHeight() != want {
			t.Fatalf("HavePruned %v, PruneHeight %d, want %d", s.HavePruned(), s.PruneHeight(), want)
		}
		if _, err := s.ReadBlockAt(testHash(n), s.PruneHeight()+1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown block above the prune height: %v", err)
		}
	}
	pruned := map[int]bool{1: true, 2: true, 3: true}
	wantBlocks := len(before[1]) + len(before[2]) + len(before[3])
	if res.Blocks != wantBlocks {
		t.Fatalf("removed %d entries, want %d", res.Blocks, wantBlocks)
	}
	check(s, pruned)
	// Nothing more to do under a target already met.
	if res, err := s.Prune(target, keepFrom); err != nil || len(res.Files) != 0 {
		t.Fatalf("second prune: %+v, %v", res, err)
	}
	s.Close()

	s = openT(t, dir)
	check(s, pruned)
	// Target 0 (Core's manual pruning): every file wholly below keepFrom
	// goes, never file 0 (height 1000), never the current file.
	res, err = s.Prune(0, keepFrom)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range res.Files {
		pruned[k] = true
	}
	for k := 1; k < s.last; k++ {
		if fi := s.files[k]; fi.HeightLast < keepFrom && !pruned[k] {
			t.Fatalf("file %d (%+v) not pruned", k, fi)
		}
	}
	if pruned[0] || pruned[s.last] {
		t.Fatalf("pruned %v: file 0 or the current one", res.Files)
	}
	check(s, pruned)
	// Everything but the current file, and the store still takes blocks.
	if _, err := s.Prune(0, math.MaxInt32); err != nil {
		t.Fatal(err)
	}
	last := s.last
	if len(byFile(t, s)) != 1 || byFile(t, s)[last] == nil {
		t.Fatalf("after pruning all: files %v", byFile(t, s))
	}
	writeBlocksWithUndo(t, s, n, n+50)
	s.Close()
	s = openT(t, dir)
	defer s.Close()
	for i := n; i < n+50; i++ {
		if got, err := s.ReadUndo(testHash(i)); err != nil || !bytes.Equal(got, testUndo(testHash(i))) {
			t.Fatalf("undo %d after pruning all: %v", i, err)
		}
	}
}

// TestPruneOrphanFiles puts back a pruned pair's files, as a crash between
// Prune's commit and its deletes leaves them: Open deletes them.
func TestPruneOrphanFiles(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	writeBlocksWithUndo(t, s, 0, 100)
	s.Sync()
	blk, _ := os.ReadFile(s.blkPath(0))
	rev, _ := os.ReadFile(s.revPath(0))
	if res, err := s.Prune(s.SizeOnDisk()-1, 1000); err != nil || len(res.Files) != 1 || res.Files[0] != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	s.Close()
	os.WriteFile(s.blkPath(0), blk, 0o600)
	os.WriteFile(s.revPath(0), rev, 0o600)
	var log bytes.Buffer
	s, err := Open(Options{Dir: dir, Magic: wire.MainNet, MaxFileSize: 20000, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if exists(s.blkPath(0)) || exists(s.revPath(0)) {
		t.Fatal("orphan files of a pruned pair kept")
	}
	if strings.Count(log.String(), "deleting a pruned file") != 2 {
		t.Fatalf("log: %s", log.String())
	}
	if !s.HavePruned() {
		t.Fatal("HavePruned lost")
	}
}

// TestPruneConcurrentReads reads blocks and undo data while Prune deletes
// their files: a read gets the right bytes or ErrNotFound, nothing else.
func TestPruneConcurrentReads(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	const n = 300
	writeBlocksWithUndo(t, s, 0, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				h := testHash(mrand.IntN(n))
				if got, err := s.ReadBlock(h); err == nil && !bytes.Equal(got, testBlock(h)) || err != nil && !errors.Is(err, ErrNotFound) {
					t.Errorf("block: %v", err)
				}
				if got, err := s.ReadUndo(h); err == nil && !bytes.Equal(got, testUndo(h)) || err != nil && !errors.Is(err, ErrNotFound) {
					t.Errorf("undo: %v", err)
				}
			}
		})
	}
	for keep := int32(0); keep < n; keep += 10 {
		if _, err := s.Prune(0, keep); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

const pruneCrashEnv = "BLOCKSTORE_PRUNE_CRASH_DIR"

// pruneKeep is how far below the newest block the prune crash child
// keeps blocks.
const pruneKeep = 30

// TestPruneCrashChild is the child of TestPruneCrash: it connects blocks
// (each with undo data, heights rising from the store's highest) and
// prunes after every Sync, until it is killed.
func TestPruneCrashChild(t *testing.T) {
	dir := os.Getenv(pruneCrashEnv)
	if dir == "" {
		t.Skip("only run as TestPruneCrash's child")
	}
	s, err := Open(Options{Dir: dir, Magic: wire.MainNet, MaxFileSize: 30000})
	if err != nil {
		t.Fatal(err)
	}
	// Widen the window between Prune's commit and its deletes, so that
	// kills land in it and the parent sees Open delete orphan files.
	s.afterPruneCommit = func() { time.Sleep(3 * time.Millisecond) }
	height := int32(0)
	s.Entries(func(e Entry) error {
		height = max(height, e.Height+1)
		return nil
	})
	for ; ; height++ {
		var h chainhash.Hash
		rand.Read(h[:])
		if _, err := s.WriteBlock(h, height, testBlock(h)); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteUndo(h, testUndo(h)); err != nil {
			t.Fatal(err)
		}
		if mrand.IntN(4) == 0 {
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Prune(120000, height-pruneKeep); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestPruneCrash kills a child that writes and prunes with SIGKILL at
// random moments, 20 times on the same store, and checks after each kill
// that every entry's block and undo data read back, pruned pairs' files are
// gone, kept ones have no unindexed tail, the kept heights are one run up
// to the newest block (pruning took only the oldest files), and the pruned
// state only grows.
func TestPruneCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child 20 times")
	}
	dir := t.TempDir()
	prevHeight, orphans := int32(-1), 0
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPruneCrashChild$")
		cmd.Env = append(os.Environ(), pruneCrashEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+mrand.IntN(300)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		var log bytes.Buffer
		s, err := Open(Options{Dir: dir, Magic: wire.MainNet, MaxFileSize: 30000, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		orphans += strings.Count(log.String(), "deleting a pruned file")
		heights := map[int32]bool{}
		top := int32(-1)
		if err := s.Entries(func(e Entry) error {
			heights[e.Height] = true
			top = max(top, e.Height)
			if fi := s.files[e.Block.File]; fi == nil || fi.Pruned {
				t.Fatalf("round %d: block %d in pruned file %d", round, e.Height, e.Block.File)
			}
			got, err := s.ReadBlock(e.Hash)
			if err != nil || !bytes.Equal(got, testBlock(e.Hash)) {
				t.Fatalf("round %d: block %d: %v", round, e.Height, err)
			}
			if e.Undo.Size != 0 {
				if got, err := s.ReadUndo(e.Hash); err != nil || !bytes.Equal(got, testUndo(e.Hash)) {
					t.Fatalf("round %d: undo %d: %v", round, e.Height, err)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var onDisk int64
		for num, fi := range s.files {
			for _, f := range []struct {
				path string
				want int64
			}{{s.blkPath(num), fi.Bytes}, {s.revPath(num), fi.UndoBytes}} {
				st, err := os.Stat(f.path)
				switch {
				case fi.Pruned && err == nil:
					t.Fatalf("round %d: pruned %s exists", round, f.path)
				case err == nil && st.Size() != f.want, err != nil && f.want != 0:
					t.Fatalf("round %d: %s has %v bytes, index says %d (%v)", round, f.path, st, f.want, err)
				case err == nil:
					onDisk += st.Size()
				}
			}
		}
		if onDisk != s.SizeOnDisk() {
			t.Fatalf("round %d: %d bytes on disk, SizeOnDisk %d", round, onDisk, s.SizeOnDisk())
		}
		for h := top - int32(len(heights)) + 1; h <= top; h++ {
			if !heights[h] {
				t.Fatalf("round %d: height %d missing below the top %d (%d kept)", round, h, top, len(heights))
			}
		}
		// Nothing pruned yet (-1) is fine however few blocks the child
		// wrote before the kill (a loaded machine may let it write few).
		if ph := s.PruneHeight(); ph < prevHeight || (s.HavePruned() != (ph >= 0)) || (ph >= 0 && ph > top-pruneKeep-1) {
			t.Fatalf("round %d: prune height %d (was %d), have pruned %v, top %d", round, ph, prevHeight, s.HavePruned(), top)
		}
		prevHeight = s.PruneHeight()
		s.Close()
	}
	if prevHeight < 0 {
		t.Fatal("the child never pruned")
	}
	t.Logf("pruned up to height %d; %d orphan files deleted at Open", prevHeight, orphans)
}
