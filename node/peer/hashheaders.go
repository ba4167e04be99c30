package peer

import (
	"runtime"
	"sync/atomic"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// hashChunk is how many headers a hashing goroutine claims at a time:
// about 30 µs of work, the longest the reader can wait for its helper.
const hashChunk = 128

// hashInParallel hashes a headers message's headers on the reader and one
// helper goroutine: the hashing is on header sync's critical path (the
// next request waits for the message, and the message for its hashes), and
// during a sync the other core is often idle at that moment (the serving
// peer is waiting for our request). Measured: 1M headers node to node,
// 1.36 s with the hashing on one goroutine; see BENCHMARKS.md.
//
// The two claim chunks from a shared counter rather than splitting the
// batch in halves: a helper that starts late (waking a sleeping CPU took
// 0.1–0.3 ms on this VM, as long as hashing half of 2,000 headers) then
// takes less, or nothing, and the reader never waits for it to start,
// only for a chunk it is hashing. Whoever finishes the last chunk says so;
// a helper that starts after that finds nothing left and touches nothing.
func hashInParallel(hs []consensus.Header, out []chainhash.Hash) {
	n := len(hs)
	if n < 2*hashChunk || runtime.GOMAXPROCS(0) < 2 {
		for i := range hs {
			out[i] = hs[i].Hash()
		}
		return
	}
	var claimed, hashed atomic.Int64
	done := make(chan struct{})
	work := func() {
		for {
			start := int(claimed.Add(hashChunk)) - hashChunk
			if start >= n {
				return
			}
			end := min(start+hashChunk, n)
			for i := start; i < end; i++ {
				out[i] = hs[i].Hash()
			}
			if hashed.Add(int64(end-start)) == int64(n) {
				close(done)
			}
		}
	}
	go work()
	work()
	<-done
}
