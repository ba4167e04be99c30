package consensus

import (
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/protocol"
)

// benchSegment runs fn once per b.N header over the mainnet segment after
// its trusted prefix, cycling, with a reused context, and reports
// headers/s.
func benchSegment(b *testing.B, fn func(ctx *Context, h *Header, hash *chainhash.Hash) error, hashEach bool) {
	hs, hashes := segment(b)
	p := ParamsFor(protocol.Mainnet)
	anc := &sliceAnc{base: segmentBase}
	ctx := &Context{Params: p, Ancestors: anc, Now: now2026}
	n := len(hs) - segmentTrusted
	var hash chainhash.Hash
	b.ReportAllocs()
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		i := segmentTrusted + k%n
		anc.hs = hs[:i]
		ctx.Height, ctx.Parent, ctx.ParentHash = int32(segmentBase+i), &hs[i-1], hashes[i-1]
		hash = hashes[i]
		if hashEach {
			hash = hs[i].Hash()
		}
		if err := fn(ctx, &hs[i], &hash); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "headers/s")
}

// BenchmarkValidateMainnetSegment hashes and fully validates real mainnet
// headers (822,539 to 830,592, crossing four retargets), one header an op.
func BenchmarkValidateMainnetSegment(b *testing.B) {
	benchSegment(b, CheckHeader, true)
}

// BenchmarkCheckHeaderNoHash is BenchmarkValidateMainnetSegment with the
// hashes computed beforehand: the cost of the rules alone.
func BenchmarkCheckHeaderNoHash(b *testing.B) {
	benchSegment(b, CheckHeader, false)
}

// BenchmarkHeaderHash is the double SHA-256 of one header.
func BenchmarkHeaderHash(b *testing.B) {
	h := ParamsFor(protocol.Mainnet).Genesis
	b.ReportAllocs()
	for b.Loop() {
		h.Nonce++
		_ = h.Hash()
	}
}

// BenchmarkRule times each rule alone over the mainnet segment.
func BenchmarkRule(b *testing.B) {
	for _, r := range Rules {
		b.Run(r.Name, func(b *testing.B) { benchSegment(b, r.Check, false) })
	}
}

// BenchmarkWork is Core's GetBlockProof for a recent mainnet bits value,
// uncached and through a WorkCache.
func BenchmarkWork(b *testing.B) {
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Work(0x17034219)
		}
	})
	b.Run("cached", func(b *testing.B) {
		var wc WorkCache
		b.ReportAllocs()
		for b.Loop() {
			_ = wc.Work(0x17034219)
		}
	})
}

// BenchmarkDecodeBlock measures what a peer's reader does with a received
// block: decoding it and hashing its transactions (block 830,000, 1.7 MB,
// 1,851 transactions).
func BenchmarkDecodeBlock(b *testing.B) {
	raw := mainnetdata.Read(b, "blocks/830000.bin")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBlock(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckBlock measures every block rule on block 830,000.
func BenchmarkCheckBlock(b *testing.B) {
	ctx, blk := block830000(b)
	b.SetBytes(int64(blk.Size))
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckBlock(ctx, blk); err != nil {
			b.Fatal(err)
		}
	}
}
