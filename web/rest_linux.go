package web

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// restTimer is what a web worker sleeps on between jobs: on Linux a timerfd,
// read through Go's network poller.
//
// Why not a Go timer: a Go timer fires inside the scheduler of whichever P
// checks it, and the goroutine it wakes takes that P's next slot. When that
// P had just been given the engine (a peer's reader wakes it, then parks),
// the engine went to the back of the P's queue, behind the worker and the
// connection goroutines it then woke one after the other: runtime traces of
// BenchmarkHTTPLoad showed the engine waiting up to 800 µs to answer a ping
// while the P ran that chain. A goroutine the network poller wakes is queued
// behind the work already there instead, and while it sleeps the worker
// holds no P. Measured in alternated runs (BENCHMARKS.md): ping p99 under
// load 119–125 µs against 143–206 µs with the Go timer.
type restTimer struct {
	fd   int
	file *os.File
}

func newRestTimer() (*restTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating a timerfd: %w", err)
	}
	// A non-blocking descriptor makes os.NewFile register it with the poller.
	return &restTimer{fd: fd, file: os.NewFile(uintptr(fd), "web worker rest")}, nil
}

// sleep returns after d.
func (t *restTimer) sleep(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
		return fmt.Errorf("arming the timerfd: %w", err)
	}
	var expirations [8]byte
	if _, err := t.file.Read(expirations[:]); err != nil {
		return fmt.Errorf("reading the timerfd: %w", err)
	}
	return nil
}

func (t *restTimer) close() error { return t.file.Close() }
