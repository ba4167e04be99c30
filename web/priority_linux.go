package web

import "syscall"

// lowestPriority is the nice value of the web workers' threads: Linux's
// lowest priority, which any process may take.
const lowestPriority = 19

// lowerThreadPriority gives the calling thread the lowest scheduling
// priority. On Linux setpriority(PRIO_PROCESS, tid) is per thread: the
// node's other threads keep theirs. A failure leaves the thread as it was,
// which only makes the web layer an equal of the node again.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), lowestPriority)
}
