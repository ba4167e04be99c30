package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/watchnode/watchnode/node/engine"
)

// dashboardIBDTxsEnv overrides how many signed transactions the chain of
// BenchmarkIBDWithDashboards holds (default 100,000).
const dashboardIBDTxsEnv = "DASHBOARD_IBD_TXS"

// dashboards is how many sync pages watch the download.
const dashboards = 5

// watchSync is one sync page's feed: it connects to n's /ws, asks for the
// sync part as the page does, and reads everything until ctx ends,
// counting the bytes. It stands for a browser tab: the node's cost of a
// dashboard is building and writing its feed, which this pays in full;
// a browser would also take CPU for drawing, on the node's machine only
// if it ran there.
func watchSync(ctx context.Context, n *nodeProc, read *atomic.Int64) error {
	c, _, err := websocket.Dial(ctx, "ws://"+n.http+"/ws", nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(16 << 20)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"sync"}`)); err != nil {
		return err
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return nil // ctx ended, or the node stopped
		}
		read.Add(int64(len(data)))
	}
}

// BenchmarkIBDWithDashboards: a fresh node downloads and validates a
// generated chain of signed transactions from node A, once with no
// dashboard and once with five sync pages' feeds open, alternating in one
// run; it reports both times, their ratio (the target: at most
// 1.05) and the bytes the five feeds carried per second.
func BenchmarkIBDWithDashboards(b *testing.B) {
	useBenchBinary(b)
	file, chain, _ := signedChain(b, dashboardIBDTxsEnv, 100_000, 17)
	rootA := b.TempDir()
	importBlockFile(b, rootA, "-network=regtest", file)
	a := startNodeIn(b, rootA)
	a.waitFor(time.Hour, "A to validate the imported chain", func() bool {
		var st engine.Status
		a.get("/api/status", &st)
		return st.Blocks == chain.height()
	})

	b.ResetTimer()
	var bare, watched time.Duration
	var feedBytes int64
	for b.Loop() {
		for _, k := range []int{0, dashboards} {
			var read atomic.Int64
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			n, d := downloadBlocksWith(b, chain.height(), time.Hour, func(n *nodeProc) {
				for range k {
					wg.Go(func() {
						if err := watchSync(ctx, n, &read); err != nil {
							b.Errorf("a dashboard's feed: %v", err)
						}
					})
				}
			}, "-connect="+a.p2p, "-assumevalid=0")
			cancel()
			wg.Wait()
			n.stop()
			if k == 0 {
				bare += d.elapsed
			} else {
				watched += d.elapsed
				feedBytes += read.Load()
			}
			b.Logf("%d dashboards: %s (CPU %s), feeds read %d KiB", k, d.elapsed.Round(time.Millisecond), d.cpu.Round(time.Millisecond), read.Load()>>10)
		}
	}
	n := float64(b.N)
	b.ReportMetric(bare.Seconds()/n, "s/ibd")
	b.ReportMetric(watched.Seconds()/n, "s/ibd-5-dashboards")
	b.ReportMetric(watched.Seconds()/bare.Seconds(), "watched/bare")
	b.ReportMetric(float64(feedBytes)/watched.Seconds(), "feed-B/s")
}
