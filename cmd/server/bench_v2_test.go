package main

import (
	"testing"
	"time"
)

// BenchmarkHeadersV2AgainstV1: node B syncs 1,000,000 headers from node A
// over loopback, once over v1 (B with -v2transport=0) and once over BIP324
// in each iteration, interleaved so both see the same machine. Reports
// both times and v2/v1 (the target is at most 1.2).
func BenchmarkHeadersV2AgainstV1(b *testing.B) {
	useBenchBinary(b)
	const n = 1_000_000
	rootA := b.TempDir()
	importChain(b, rootA, n)
	a := startNodeIn(b, rootA)
	var v1, v2 time.Duration
	b.ResetTimer()
	for b.Loop() {
		for _, v2on := range []bool{false, true} {
			node := startNode(b, "-connect="+a.p2p, "-v2transport="+onOff(v2on))
			d := syncTime(b, node, a.p2p, n)
			checkTransport(b, node, v2on)
			node.stop()
			if v2on {
				v2 += d
			} else {
				v1 += d
			}
		}
	}
	k := float64(b.N)
	b.ReportMetric(v1.Seconds()/k, "s/sync-v1")
	b.ReportMetric(v2.Seconds()/k, "s/sync-v2")
	b.ReportMetric(v2.Seconds()/v1.Seconds(), "v2/v1")
}

// BenchmarkMainnetBlocksV2AgainstV1: node A imports btcd's file of the
// first 14,132 mainnet blocks; a fresh node B downloads and fully
// validates them from A, over v1 and over BIP324 in each iteration.
func BenchmarkMainnetBlocksV2AgainstV1(b *testing.B) {
	useBenchBinary(b)
	chain, a := startMainnetSource(b)
	var v1, v2 time.Duration
	b.ResetTimer()
	for b.Loop() {
		for _, v2on := range []bool{false, true} {
			node, d := downloadBlocks(b, chain.height(), 5*time.Minute, "-network=mainnet", "-minimumchainwork=0",
				"-connect="+a.p2p, "-v2transport="+onOff(v2on))
			checkTransport(b, node, v2on)
			node.stop()
			if v2on {
				v2 += d.elapsed
			} else {
				v1 += d.elapsed
			}
		}
	}
	k := float64(b.N)
	b.ReportMetric(v1.Seconds()/k, "s/ibd-v1")
	b.ReportMetric(v2.Seconds()/k, "s/ibd-v2")
	b.ReportMetric(v2.Seconds()/v1.Seconds(), "v2/v1")
}

func onOff(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// checkTransport fails the benchmark if the node's peer did not use the
// transport it was meant to measure.
func checkTransport(b *testing.B, n *nodeProc, v2 bool) {
	b.Helper()
	want := "v1"
	if v2 {
		want = "v2"
	}
	for _, p := range n.peers() {
		if p.Transport != want {
			b.Fatalf("peer %s used %q, want %s", p.Addr, p.Transport, want)
		}
	}
}
