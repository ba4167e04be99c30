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
