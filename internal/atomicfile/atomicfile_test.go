package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, content := range []string{"first", "second, longer"} {
		if err := Write(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestWriteIntoMissingFolderFails(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "no", "such", "file"), []byte("x")); err == nil {
		t.Fatal("want an error for a missing folder")
	}
}

// TestCreateFunc: a write that fails halfway leaves no file at all; a file
// that appears at path while the content is written is not replaced by
// CreateFunc, and is replaced whole by WriteFunc.
func TestCreateFunc(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	broken := errors.New("disk gone")
	err := CreateFunc(path, 0o644, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte{1}, 3<<20)) // past the buffer: on disk in the temporary file
		return broken
	})
	if !errors.Is(err, broken) {
		t.Fatalf("a failed write: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed write left %v", entries)
	}

	theirs := []byte("made by someone else meanwhile")
	err = CreateFunc(path, 0o644, func(w io.Writer) error {
		if err := os.WriteFile(path, theirs, 0o600); err != nil {
			return err
		}
		_, err := w.Write([]byte("ours"))
		return err
	})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("a file made meanwhile: %v, want a refusal wrapping fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, theirs) {
		t.Fatalf("the file made meanwhile was replaced: %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("files left after the refusal: %v", entries)
	}

	if err := WriteFunc(path, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("ours")); return err }); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if got, _ := os.ReadFile(path); err != nil || string(got) != "ours" || info.Mode().Perm() != 0o644 {
		t.Fatalf("replaced: %q, %v, mode %v", got, err, info.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("files left after replacing: %v", entries)
	}

	fresh := filepath.Join(dir, "new.bin")
	if err := CreateFunc(fresh, 0o640, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }); err != nil {
		t.Fatal(err)
	}
	info, err = os.Stat(fresh)
	if got, _ := os.ReadFile(fresh); err != nil || string(got) != "new" || info.Mode().Perm() != 0o640 {
		t.Fatalf("created: %q, %v, mode %v", got, err, info.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("files left after creating (the temporary name must go): %v", entries)
	}
}
