package web

import "syscall"

// workerNice is the nice value of the web workers' threads. At nice 10 the
// kernel weighs a worker at a tenth of a normal thread (110 against 1024):
// it takes a tenth of a contended core and yields as soon as the node's
// threads wake. Nice 19 (weight 15) measured within the noise of nice 10
// in BenchmarkHTTPLoad while it would stretch the priority inversion
// described at workerPool seven times. Any process may lower its threads'
// priority this far.
const workerNice = 10

// lowerThreadPriority gives the calling thread the workers' priority. On
// Linux setpriority(PRIO_PROCESS, tid) is per thread: the node's other
// threads keep theirs. A failure leaves the thread as it was, which only
// makes the web layer an equal of the node again.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), workerNice)
}
