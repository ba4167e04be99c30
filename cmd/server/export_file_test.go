package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteNewFile: a write that fails halfway leaves no file at all; a
// file that appears at path while the content is written is not replaced
// (without replace), and is replaced whole with it.
func TestWriteNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	broken := errors.New("disk gone")
	err := writeNewFile(path, 0o644, false, func(w io.Writer) error {
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
	err = writeNewFile(path, 0o644, false, func(w io.Writer) error {
		if err := os.WriteFile(path, theirs, 0o600); err != nil {
			return err
		}
		_, err := w.Write([]byte("ours"))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a file made meanwhile: %v, want a refusal", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, theirs) {
		t.Fatalf("the file made meanwhile was replaced: %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("files left after the refusal: %v", entries)
	}

	if err := writeNewFile(path, 0o644, true, func(w io.Writer) error { _, err := w.Write([]byte("ours")); return err }); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if got, _ := os.ReadFile(path); err != nil || string(got) != "ours" || info.Mode().Perm() != 0o644 {
		t.Fatalf("replaced: %q, %v, mode %v", got, err, info.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("files left after replacing: %v", entries)
	}
}
