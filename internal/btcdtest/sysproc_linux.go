//go:build linux

package btcdtest

import "syscall"

// sysProcAttr asks the kernel to SIGKILL btcd if the test binary dies
// without running its cleanups (for example on a `go test -timeout` panic),
// so no btcd is left running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
