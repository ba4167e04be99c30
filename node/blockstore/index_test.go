package blockstore

import (
	"encoding/binary"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestUpgradeFormat1 turns a store's index back into format 1 (12-byte
// file entries, no per-file block list, no version) and checks that Open
// upgrades it: every block still reads, and the files have their height
// ranges and block lists.
func TestUpgradeFormat1(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	const n = 60
	for i := range n {
		h := testHash(i)
		if _, err := s.WriteBlock(h, int32(1000+i), testBlock(h)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	want := map[int]fileInfo{}
	s = openT(t, dir)
	for k, fi := range s.files {
		want[k] = *fi
	}
	s.Close()
	if len(want) < 3 {
		t.Fatalf("only %d files", len(want))
	}
	// Blocks were written in height order, so the files' ranges tile
	// 1000..1059 in file order.
	next := int32(1000)
	for k := range len(want) {
		fi := want[k]
		if fi.HeightFirst != next || fi.HeightLast != next+int32(fi.Records)-1 {
			t.Fatalf("file %d: %+v, want heights from %d", k, fi, next)
		}
		next += int32(fi.Records)
	}
	if next != 1000+n {
		t.Fatalf("files hold heights up to %d", next-1)
	}

	db, err := pebble.Open(filepath.Join(dir, "blocks", "index"), &pebble.Options{Logger: quietLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	b.Delete(keyVersion, nil)
	b.DeleteRange([]byte("n"), []byte("o"), nil)
	for k, fi := range want {
		v := binary.LittleEndian.AppendUint32(nil, uint32(fi.Records))
		b.Set(fileKey(k), binary.LittleEndian.AppendUint64(v, uint64(fi.Bytes)), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = openT(t, dir)
	defer s.Close()
	for k, w := range want {
		if got := *s.files[k]; got != w {
			t.Errorf("file %d after upgrade: %+v, want %+v", k, got, w)
		}
	}
	if v, err := s.readVersion(); err != nil || v != formatVersion {
		t.Fatalf("version %d, %v", v, err)
	}
	listed := 0
	for k := range want {
		lo, hi := fileBlockBounds(k)
		it, _ := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		for it.First(); it.Valid(); it.Next() {
			listed++
		}
		it.Close()
	}
	if listed != n {
		t.Fatalf("%d blocks listed under their files, want %d", listed, n)
	}
	for i := range n {
		if _, err := s.ReadBlock(testHash(i)); err != nil {
			t.Fatal(err)
		}
	}
}
