package engine

import (
	"context"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// BenchmarkEngineSync: engine B syncs n headers from engine A over
// loopback, both in this process (for profiling the whole path: A's
// serving, both transports, B's validation and store).
func BenchmarkEngineSync(b *testing.B) {
	const n = 200_000
	dirA := b.TempDir()
	c, s, err := chain.Open(dirA, consensus.ParamsFor(protocol.Regtest), nil)
	if err != nil {
		b.Fatal(err)
	}
	ws := chaingen.Generate(n, chaingen.Options{Seed: 3})
	hs := make([]consensus.Header, len(ws))
	for i := range ws {
		hs[i] = consensus.FromWire(&ws[i])
	}
	res, err := c.Accept(hs, nil, time.Now().Unix())
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range res.Writes {
		s.Write(w)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	a, err := New(Config{Network: protocol.Regtest, DataDir: dirA, Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for a.Snapshot().Status.Listen == "" {
		time.Sleep(time.Millisecond)
	}
	for b.Loop() {
		e, err := New(Config{Network: protocol.Regtest, Connect: []string{a.Snapshot().Status.Listen}})
		if err != nil {
			b.Fatal(err)
		}
		bctx, bcancel := context.WithCancel(context.Background())
		bdone := make(chan error, 1)
		go func() { bdone <- e.Run(bctx) }()
		for e.Snapshot().Status.Height < n {
			time.Sleep(time.Millisecond)
		}
		_, recs, _ := e.Messages().Since(0, 4096)
		var lastRecv, lastSent time.Time
		var rtt, gap time.Duration
		nr, ng := 0, 0
		for _, r := range recs {
			switch {
			case r.Command == "getheaders" && !r.Inbound:
				if !lastRecv.IsZero() {
					gap += r.Time.Sub(lastRecv)
					ng++
				}
				lastSent = r.Time
			case r.Command == "headers" && r.Inbound:
				if !lastSent.IsZero() {
					rtt += r.Time.Sub(lastSent)
					nr++
				}
				lastRecv = r.Time
			}
		}
		if nr > 0 && ng > 0 {
			b.Logf("getheaders -> headers %s on average (%d), headers -> next getheaders %s (%d)", rtt/time.Duration(nr), nr, gap/time.Duration(ng), ng)
		}
		bcancel()
		<-bdone
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "headers/s")
}
