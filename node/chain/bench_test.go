package chain

import (
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

var (
	millionOnce sync.Once
	million     []consensus.Header
)

// millionHeaders is a generated regtest chain of 1,000,000 headers, made
// once per test binary.
func millionHeaders() []consensus.Header {
	millionOnce.Do(func() { million = gen(1_000_000, 77) })
	return million
}

// BenchmarkAcceptMillion validates and adds 1,000,000 generated headers in
// batches of 2000, hashing included, on one goroutine: the node's full
// per-header cost. Reported as headers/s.
func BenchmarkAcceptMillion(b *testing.B) {
	hs := millionHeaders()
	b.ResetTimer()
	for b.Loop() {
		c, _ := Open("", regtest(), nil)
		c.Reserve(int32(len(hs)))
		for i := 0; i < len(hs); i += 2000 {
			if _, err := c.Accept(hs[i:i+2000], nil, end.Unix()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(hs))*float64(b.N)/b.Elapsed().Seconds(), "headers/s")
}

// BenchmarkAcceptMillionPrehashed is the same with hashes computed before,
// as the peers' reader goroutines do in the node: the engine's share.
func BenchmarkAcceptMillionPrehashed(b *testing.B) {
	hs := millionHeaders()
	hashes := make([]chainhash.Hash, len(hs))
	for i := range hs {
		hashes[i] = hs[i].Hash()
	}
	b.ResetTimer()
	for b.Loop() {
		c, _ := Open("", regtest(), nil)
		c.Reserve(int32(len(hs)))
		for i := 0; i < len(hs); i += 2000 {
			if _, err := c.Accept(hs[i:i+2000], hashes[i:i+2000], end.Unix()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(hs))*float64(b.N)/b.Elapsed().Seconds(), "headers/s")
}

// BenchmarkAcceptMillionStored is BenchmarkAcceptMillion with the store
// on: records built and handed to the writer goroutine, which writes and
// fsyncs them in parallel.
func BenchmarkAcceptMillionStored(b *testing.B) {
	hs := millionHeaders()
	b.ResetTimer()
	for b.Loop() {
		c, err := Open(b.TempDir(), regtest(), nil)
		if err != nil {
			b.Fatal(err)
		}
		c.Reserve(int32(len(hs)))
		for i := 0; i < len(hs); i += 2000 {
			if _, err := c.Accept(hs[i:i+2000], nil, end.Unix()); err != nil {
				b.Fatal(err)
			}
		}
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(hs))*float64(b.N)/b.Elapsed().Seconds(), "headers/s")
}

// BenchmarkReopenMillion opens a store of 1,000,000 headers: read, check
// every record's checksum, rebuild the index and the work table.
func BenchmarkReopenMillion(b *testing.B) {
	hs := millionHeaders()
	dir := b.TempDir()
	c, err := Open(dir, regtest(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(hs); i += 2000 {
		if _, err := c.Accept(hs[i:i+2000], nil, end.Unix()); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	b.ResetTimer()
	for b.Loop() {
		c, err := Open(dir, regtest(), nil)
		if err != nil || c.Height() != 1_000_000 {
			b.Fatalf("reopen: %v height %d", err, c.Height())
		}
		c.Close()
	}
}
