package p2p_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// A frame's Cost must cover what a queued frame keeps on the heap (the
// Frame, its bytes, its summary, a queue slot of 16 bytes), or a peer that
// never reads could make us keep more than the outbound bound says.
func TestFrameCostCoversHeap(t *testing.T) {
	c, err := p2p.New(p2p.Config{Network: protocol.Regtest}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  func(i int) wire.Message
	}{
		{"pong", func(i int) wire.Message { return wire.NewMsgPong(uint64(i) * 0x9e3779b97f4a7c15) }},
		{"notfound", func(i int) wire.Message {
			nf := wire.NewMsgNotFound()
			nf.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, protocol.Regtest.Params().GenesisHash))
			return nf
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 20000
			frames := make([]*p2p.Frame, n)
			slots := make([][2]uintptr, n) // stands in for the queue's slots
			heap := func() uint64 {
				runtime.GC()
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				return ms.HeapAlloc
			}
			before := heap()
			cost := 0
			for i := range frames {
				f, err := c.NewFrame(tc.msg(i))
				if err != nil {
					t.Fatal(err)
				}
				frames[i] = f
				cost += f.Cost()
			}
			used := int(heap()-before) + len(slots)*16
			runtime.KeepAlive(frames)
			runtime.KeepAlive(slots)
			t.Logf("%s: %d bytes of heap per frame, Cost %d", tc.name, used/n, cost/n)
			if used > cost {
				t.Fatalf("%d frames keep %d bytes, counted %d", n, used, cost)
			}
		})
	}
}
