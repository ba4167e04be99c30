//go:build !linux

package web

import "time"

// restTimer is what a web worker sleeps on between jobs; where there is no
// timerfd (see rest_linux.go for why Linux uses one) it is Go's own timer.
type restTimer struct{}

func newRestTimer() (*restTimer, error) { return &restTimer{}, nil }

// sleep returns after d.
func (*restTimer) sleep(d time.Duration) error {
	time.Sleep(d)
	return nil
}

func (*restTimer) close() error { return nil }
