package chain

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

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
		c, _, _ := New(regtest(), nil)
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
		c, _, _ := New(regtest(), nil)
		c.Reserve(int32(len(hs)))
		for i := 0; i < len(hs); i += 2000 {
			if _, err := c.Accept(hs[i:i+2000], hashes[i:i+2000], end.Unix()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(hs))*float64(b.N)/b.Elapsed().Seconds(), "headers/s")
}

// BenchmarkAcceptMillionStored is BenchmarkAcceptMillion with every
// result's writes handed to a Store, whose writer goroutine writes and
// fsyncs them in parallel.
func BenchmarkAcceptMillionStored(b *testing.B) {
	hs := millionHeaders()
	b.ResetTimer()
	for b.Loop() {
		c, s, err := Open(b.TempDir(), regtest(), nil)
		if err != nil {
			b.Fatal(err)
		}
		c.Reserve(int32(len(hs)))
		for i := 0; i < len(hs); i += 2000 {
			res, err := c.Accept(hs[i:i+2000], nil, end.Unix())
			if err != nil {
				b.Fatal(err)
			}
			for _, w := range res.Writes {
				s.Write(w)
			}
		}
		if err := s.Close(); err != nil {
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
	c, s, err := Open(dir, regtest(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(hs); i += 2000 {
		res, err := c.Accept(hs[i:i+2000], nil, end.Unix())
		if err != nil {
			b.Fatal(err)
		}
		for _, w := range res.Writes {
			s.Write(w)
		}
	}
	s.Close()
	b.ResetTimer()
	var perHeader float64
	for b.Loop() {
		c, s, err := Open(dir, regtest(), nil)
		if err != nil || c.Height() != 1_000_000 {
			b.Fatalf("reopen: %v height %d", err, c.Height())
		}
		s.Close()
		// What the chain keeps: the header array, the index and the work
		// table (80 + 8 + 0.5 bytes a header at half load).
		perHeader = float64(cap(c.headers)*80+len(c.index.table.slots)*4+cap(c.cumWork)*32) / float64(c.Height()+1)
	}
	b.ReportMetric(perHeader, "chain-bytes/header")
}

// millionChain returns a chain of genesis and the first n of
// millionHeaders, loaded as from a store, with room for the rest.
func millionChain(b *testing.B, n int) *Chain {
	hs := millionHeaders()
	stored := make([]consensus.Header, 0, len(hs)+1)
	stored = append(append(stored, regtest().Genesis), hs[:n]...)
	c, _, err := New(regtest(), stored)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

var viewSink *View

// BenchmarkViewMillion takes a View of a chain of about a million headers
// after every header it accepts, as the web layer would while the node
// syncs: view-ns/op is the View call alone (a copy of viewTail headers),
// ns/op includes accepting the header.
func BenchmarkViewMillion(b *testing.B) {
	hs := millionHeaders()
	hashes := make([]chainhash.Hash, len(hs))
	const base = 900_000
	for i := base; i < len(hs); i++ {
		hashes[i] = hs[i].Hash()
	}
	c, next := millionChain(b, base), base
	var inView time.Duration
	for b.Loop() {
		if next == len(hs) {
			b.StopTimer()
			c, next = millionChain(b, base), base
			b.StartTimer()
		}
		if _, err := c.Accept(hs[next:next+1], hashes[next:next+1], end.Unix()); err != nil {
			b.Fatal(err)
		}
		next++
		start := time.Now()
		viewSink = c.View()
		inView += time.Since(start)
	}
	b.ReportMetric(float64(inView.Nanoseconds())/float64(b.N), "view-ns/op")
}

// BenchmarkViewLookup looks up main-chain hashes at random heights in a
// View of a million headers: MainHeight (the index probe, checked against
// the view's headers) and Lookup (which adds the header's cumulative work,
// summed over up to 63 headers).
func BenchmarkViewLookup(b *testing.B) {
	c := millionChain(b, len(millionHeaders()))
	v := c.View()
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]chainhash.Hash, 1<<16)
	for i := range keys {
		keys[i] = v.HashAt(rng.Int32N(v.Height() + 1))
	}
	b.Run("MainHeight", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, ok := v.MainHeight(&keys[i&(len(keys)-1)]); !ok {
				b.Fatal("not found")
			}
			i++
		}
	})
	b.Run("Lookup", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, ok := v.Lookup(&keys[i&(len(keys)-1)]); !ok {
				b.Fatal("not found")
			}
			i++
		}
	})
}
