package web

import (
	"context"
	"testing"
	"time"
)

func noRest(time.Duration) time.Duration { return 0 }

// A job runs on a worker and do returns once it has finished; a panic in it
// reaches the caller, the worker survives it, and after close nothing runs.
func TestWorkerPool(t *testing.T) {
	p := newWorkerPool(1, noRest)
	ran := false
	if !p.do(context.Background(), func() { ran = true }) || !ran {
		t.Fatal("the job did not run before do returned")
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("the caller recovered %v, want the job's panic", v)
			}
		}()
		p.do(context.Background(), func() { panic("boom") })
		t.Error("do returned normally after the job panicked")
	}()
	if !p.do(context.Background(), func() {}) {
		t.Fatal("the worker did not survive a panicking job")
	}
	p.close()
	if p.do(context.Background(), func() { t.Error("a job ran after close") }) {
		t.Fatal("do ran a job after close")
	}
}

// A request that waits for a worker gives up when its client does.
func TestWorkerPoolCanceledWait(t *testing.T) {
	p := newWorkerPool(1, noRest)
	defer p.close()
	release := make(chan struct{})
	taken := make(chan struct{})
	go p.do(context.Background(), func() { close(taken); <-release })
	<-taken
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if p.do(ctx, func() { t.Error("ran although its context ended first") }) {
		t.Error("do reported a job run while every worker was busy")
	}
	close(release)
}

// A worker rests as long as rest says before it takes the next job, on its
// rest timer (a timerfd on Linux), and the timer can be armed again.
func TestWorkerRests(t *testing.T) {
	const rest = 30 * time.Millisecond
	p := newWorkerPool(1, func(time.Duration) time.Duration { return rest })
	defer p.close()
	var ended time.Time
	p.do(context.Background(), func() { ended = time.Now() })
	for range 3 {
		var started time.Time
		p.do(context.Background(), func() { started = time.Now() })
		if gap := started.Sub(ended); gap < rest {
			t.Fatalf("the next job started %v after the last one ended, before the worker's %v rest", gap, rest)
		}
		ended = started
	}
}

func TestRestTimerSleeps(t *testing.T) {
	timer, err := newRestTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer timer.close()
	for _, d := range []time.Duration{0, time.Millisecond, 20 * time.Millisecond} {
		start := time.Now()
		if err := timer.sleep(d); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < d {
			t.Errorf("sleep(%v) returned after %v", d, took)
		}
	}
}
