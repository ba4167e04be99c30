package web

import (
	"context"
	"runtime"
	"syscall"
	"testing"
)

// threadNice is the calling thread's nice value (the raw syscall returns
// 20 minus it).
func threadNice(t *testing.T) int {
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return 20 - prio
}

// Handlers run on threads at workerNice; the caller's thread, and
// so the node's, keeps its own.
func TestWorkersRunAtALowPriority(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNice(t)
	p := newWorkerPool(2, noRest)
	defer p.close()
	for range 4 {
		var nice int
		p.do(context.Background(), func() { nice = threadNice(t) })
		if nice != workerNice {
			t.Fatalf("a handler ran at nice %d, want %d", nice, workerNice)
		}
	}
	if after := threadNice(t); after != before {
		t.Fatalf("the caller's thread went from nice %d to %d", before, after)
	}
}
