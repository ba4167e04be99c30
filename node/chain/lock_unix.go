//go:build unix

package chain

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on the store, so a second
// process (another node, or import-headers while the node runs) cannot
// write the same file.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("header store %s is in use by another process", f.Name())
	}
	if err != nil {
		return fmt.Errorf("locking header store %s: %w", f.Name(), err)
	}
	return nil
}
