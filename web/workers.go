package web

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// workerPool runs the handlers of pages and API calls on a few goroutines
// of its own, each locked to an OS thread that runs at a low scheduling
// priority (lowerThreadPriority, nice 10 on Linux). Clients
// hitting the server as fast as they can then get the CPU the node's own
// threads (peers, sync, validation) leave free, mostly, not an equal share:
// on a two-core machine, in alternated runs under 50 clients, ping handling
// p99 was 1.82–2.54x its idle figure with plain goroutines, 1.71–1.78x
// with locked threads at nice 0, 1.47–1.68x at nice 10; header sync was
// 1.11–1.27x slower against 1.05–1.14x (BENCHMARKS.md). Workers rest on a
// restTimer, not a Go timer: see rest_linux.go.
//
// Why locked threads, not a goroutine priority: Go has none, and the
// kernel schedules threads. A thread's priority cannot be raised back
// without privileges, so a worker's thread is never handed back to the
// runtime: the worker exits still locked, and Go ends the thread with it.
// Threads the runtime starts while a worker runs are started by its
// template thread (a locked thread's state is not cloned), so nothing
// else inherits the low priority.
//
// The price is a priority inversion when other processes keep every core
// busy: a worker the kernel preempts while it holds a lock the node's
// goroutines take too (the message log's, read by /api/messages) or its
// P during a collection's stop-the-world makes them wait until the kernel
// gives it a moment, tens of milliseconds at worst where a normal thread
// would wait a few. The node's own goroutines never starve a worker: Go
// runs at most GOMAXPROCS of them at once, so on an otherwise idle
// machine a worker always finds a core. We take that price for the
// measured gain under a flood of calls, and keep it small with a nice
// value of 10, not 19 (see workerNice).
type workerPool struct {
	size  int
	jobs  chan poolJob
	quit  chan struct{}
	start sync.Once
	stop  sync.Once
	wg    sync.WaitGroup
	// rest is how long a worker rests after a job that took d.
	rest func(d time.Duration) time.Duration
}

// poolJob is one handler call and where its end is reported.
type poolJob struct {
	run  func()
	done chan any // the handler's panic value, or nil
}

func newWorkerPool(size int, rest func(time.Duration) time.Duration) *workerPool {
	return &workerPool{size: size, jobs: make(chan poolJob), quit: make(chan struct{}), rest: rest}
}

// do runs f on a worker and returns when it has finished, or returns false
// without running it when ctx ends or the pool stops before a worker is
// free. A panic in f is raised again here, on the caller's goroutine,
// where net/http recovers and logs it as it would have without the pool.
func (p *workerPool) do(ctx context.Context, f func()) bool {
	p.start.Do(func() {
		for range p.size {
			p.wg.Go(p.work)
		}
	})
	j := poolJob{run: f, done: make(chan any, 1)}
	select {
	case p.jobs <- j:
	case <-ctx.Done():
		return false
	case <-p.quit:
		return false
	}
	if v := <-j.done; v != nil {
		panic(v)
	}
	return true
}

// close stops the workers once their current jobs end and waits for them.
func (p *workerPool) close() {
	p.stop.Do(func() { close(p.quit) })
	p.wg.Wait()
}

func (p *workerPool) work() {
	runtime.LockOSThread() // never unlocked: see workerPool
	lowerThreadPriority()
	timer, err := newRestTimer() // nil on error: rest then falls back to Go's timer
	if err == nil {
		defer timer.close()
	}
	for {
		select {
		case j := <-p.jobs:
			start := time.Now()
			j.done <- runJob(j.run)
			restOn(timer, p.rest(time.Since(start)))
		case <-p.quit:
			return
		}
	}
}

// restOn puts a worker to sleep for d on its timer, or on Go's when it has
// none or the timer fails. The rest is not cut short when the pool closes:
// it is bounded (maxRest), and so is how long close waits.
func restOn(timer *restTimer, d time.Duration) {
	if d <= 0 {
		return
	}
	if timer == nil || timer.sleep(d) != nil {
		time.Sleep(d)
	}
}

// runJob runs f and returns its panic value, if any.
func runJob(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}
