package main

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

// writeNewFile writes path with the content write produces, so that path
// never holds a partial file: the content goes to a temporary file in the
// same folder, which is synced and then renamed to path (replace) or
// hard-linked to it, which fails if path exists meanwhile (!replace), as
// Bitcoin Core's dumptxoutset refuses to overwrite. On any failure the
// temporary file is removed and path is as it was.
func writeNewFile(path string, perm os.FileMode, replace bool, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a temporary file beside %s: %w", path, err)
	}
	defer func() {
		tmp.Close()
		// Gone already after a rename; after a link, path keeps the data.
		if rerr := os.Remove(tmp.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("removing the temporary file %s: %w", tmp.Name(), rerr)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return fmt.Errorf("setting the permissions of %s: %w", tmp.Name(), err)
	}
	if err := publish(tmp.Name(), path, replace); err != nil {
		return err
	}
	if err := syncFolder(dir); err != nil {
		return fmt.Errorf("syncing the folder %s: %w", dir, err)
	}
	return nil
}

// publish gives the finished temporary file tmp the name path.
func publish(tmp, path string, replace bool) error {
	if replace {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("replacing %s: %w", path, err)
		}
		return nil
	}
	err := os.Link(tmp, path)
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists; -force replaces it", path)
	}
	// A file system without hard links (FAT, some network ones): check,
	// then rename, which leaves a moment in which a file made by someone
	// else could be replaced.
	if _, serr := os.Lstat(path); serr == nil {
		return fmt.Errorf("%s exists; -force replaces it", path)
	}
	if rerr := os.Rename(tmp, path); rerr != nil {
		return fmt.Errorf("creating %s: %w", path, errors.Join(err, rerr))
	}
	return nil
}

// syncFolder makes a rename or link in dir durable. Windows cannot open a
// folder to sync it.
func syncFolder(dir string) error {
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
