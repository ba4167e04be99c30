package peer

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// Every header's hash lands in its own slot whatever the batch's size
// against the chunks (under -race, the two goroutines' writes too).
func TestHashInParallel(t *testing.T) {
	for _, n := range []int{0, 1, 2*hashChunk - 1, 2 * hashChunk, 2000, 2*hashChunk*7 + 3} {
		hs := make([]consensus.Header, n)
		for i := range hs {
			hs[i].Nonce = uint32(i)
			hs[i].Timestamp = uint32(i * 7)
		}
		for range 20 {
			out := make([]chainhash.Hash, n)
			hashInParallel(hs, out)
			for i := range hs {
				if out[i] != hs[i].Hash() {
					t.Fatalf("%d headers: hash %d wrong", n, i)
				}
			}
		}
	}
}
