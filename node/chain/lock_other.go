//go:build !unix

package chain

import "os"

// lockFile is a no-op where flock is not available; running two processes
// on one data folder is then the operator's responsibility.
func lockFile(*os.File) error { return nil }
