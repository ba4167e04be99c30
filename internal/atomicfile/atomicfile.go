// Package atomicfile writes files whole: small state files it replaces
// (the address book, the ban list), so that a crash at any moment leaves
// either the old file or the new one, never a torn mix; and new files it
// creates only if they do not exist (an exported chain), so that a crash
// leaves either no file or the whole one.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Write replaces path with data (mode 0600): it writes a temporary file in
// the same folder, syncs it, renames it over path and syncs the folder so
// the rename itself survives a crash.
func Write(path string, data []byte) error {
	return WriteFunc(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc is Write for content too large to build in memory first: write
// streams it (buffered) into the temporary file, which gets mode perm.
func WriteFunc(path string, perm os.FileMode, write func(io.Writer) error) error {
	return writeVia(path, perm, write, func(tmp string) error {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("replacing %s: %w", path, err)
		}
		return nil
	})
}

// CreateFunc is WriteFunc for a file that must not exist yet, as Bitcoin
// Core's dumptxoutset refuses to overwrite: the finished temporary file is
// hard-linked to path, which fails if path exists by then, so a file that
// someone made while the content was written is never replaced. The error
// for an existing path wraps fs.ErrExist. On a file system without hard
// links (FAT, some network ones) it checks and then renames, which leaves a
// moment in which a file made meanwhile could be replaced.
func CreateFunc(path string, perm os.FileMode, write func(io.Writer) error) error {
	return writeVia(path, perm, write, func(tmp string) error {
		err := os.Link(tmp, path)
		if err == nil {
			// path holds the data now; the temporary name must go.
			if rerr := os.Remove(tmp); rerr != nil {
				return fmt.Errorf("removing the temporary file %s: %w", tmp, rerr)
			}
			return nil
		}
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating %s: %w", path, err)
		}
		if _, serr := os.Lstat(path); serr == nil {
			return fmt.Errorf("creating %s: %w", path, fs.ErrExist)
		}
		if rerr := os.Rename(tmp, path); rerr != nil {
			return fmt.Errorf("creating %s: %w", path, errors.Join(err, rerr))
		}
		return nil
	})
}

// writeVia writes the content to a temporary file beside path, syncs it,
// gives it mode perm, has publish give it the name path and syncs the
// folder. On any failure the temporary file is removed.
func writeVia(path string, perm os.FileMode, write func(io.Writer) error, publish func(tmp string) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary file for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(bw); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err = os.Chmod(tmp.Name(), perm); err != nil {
		return fmt.Errorf("setting permissions of %s: %w", tmp.Name(), err)
	}
	if err = publish(tmp.Name()); err != nil {
		return err
	}
	if err = syncDir(dir); err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}

// syncDir makes a rename or link durable. Windows cannot open a folder for fsync.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
