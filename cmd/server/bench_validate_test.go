package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/protocol"
)

// validatedIBDTxsEnv overrides how many signed transactions the chain of
// BenchmarkValidatedIBD holds (default 500,000, the floor).
const validatedIBDTxsEnv = "VALIDATED_IBD_TXS"

// validatedTxsPerBlock: spends per block of the generated chain.
const validatedTxsPerBlock = 250

// BenchmarkValidatedIBD: a generated regtest chain of at least 500,000
// signed transactions spending every script kind (P2PK, P2PKH, P2SH
// multisig, P2WPKH, P2WSH, P2TR key and script path) is imported into node
// A, which validates it; then a fresh node B (-assumevalid=0: every script;
// regtest has no default anyway) downloads and validates it from A over
// loopback, and in the same run a fresh btcd syncs it from A alone (btcd
// verifies every script on a network without checkpoints). It reports both
// times, their ratio, B's transactions per second and B's peak resident
// memory against its -dbcache.
func BenchmarkValidatedIBD(b *testing.B) {
	useBenchBinary(b)
	bin, err := benchBinary.get()
	if err != nil {
		b.Fatal(err)
	}
	file, chain, total := signedChain(b, validatedIBDTxsEnv, 500_000, 13)
	b.Logf("server %s", bin)
	rootA := b.TempDir()
	importBlockFile(b, rootA, "-network=regtest", file)
	a := startNodeIn(b, rootA)
	start := time.Now()
	a.waitFor(time.Hour, "A to validate the imported chain", func() bool {
		var st engine.Status
		a.get("/api/status", &st)
		return st.Blocks == chain.height()
	})
	b.Logf("A validated %d blocks, %d transactions, in %s", chain.height(), total, time.Since(start).Round(time.Millisecond))

	const dbcacheMiB = 450
	b.ResetTimer()
	var ours, theirs time.Duration
	var peak, checks int64
	for b.Loop() {
		node, d := downloadBlocks(b, chain.height(), time.Hour, "-connect="+a.p2p, "-assumevalid=0", fmt.Sprintf("-dbcache=%d", dbcacheMiB))
		var st engine.Status
		node.get("/api/status", &st)
		if st.Validation != nil {
			checks += st.Validation.SignatureChecks
		}
		node.stop()
		ours += d.elapsed
		peak = max(peak, d.peakRSS)
		bt := btcdtest.Start(b, btcdtest.Options{Args: []string{"--connect=" + a.p2p}})
		began := time.Now()
		bt.WaitForBlockCount(b, int(chain.height()), 2*time.Hour)
		elapsed := time.Since(began)
		theirs += elapsed
		b.Logf("ours: %s (peak RSS %d MiB, CPU %s); btcd: %s", d.elapsed.Round(time.Millisecond), d.peakRSS>>20, d.cpu.Round(time.Millisecond), elapsed.Round(time.Millisecond))
	}
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "s/ibd")
	b.ReportMetric(theirs.Seconds()/n, "s/btcd-ibd")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "btcd/ours")
	b.ReportMetric(float64(total)*n/ours.Seconds(), "tx/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
	// The signature checks libsecp256k1 made (none without it), a second:
	// against cores / one verification's cost (BenchmarkLibsecp256k1ECDSAVerify
	// in node/script), the floor ratio.
	b.ReportMetric(float64(checks)/ours.Seconds(), "sigchecks/s")
	b.ReportMetric(float64(peak)/float64(dbcacheMiB<<20), "rss/dbcache")
}

// signedChain generates a regtest chain of signed transactions of every
// script kind (chaingen, validatedTxsPerBlock spends a block) as a Core
// block file: txs transactions, or the number in the environment variable
// env, after 100 blocks of coinbases to spend. It returns the file, the
// chain read back and its transaction count.
func signedChain(b *testing.B, env string, txs int, seed int) (string, *blockChain, int) {
	b.Helper()
	if v := os.Getenv(env); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive number", env, v)
		}
		txs = n
	}
	blocks := 100 + (txs+validatedTxsPerBlock-1)/validatedTxsPerBlock
	dir := b.TempDir()
	chaingen := filepath.Join(dir, "chaingen")
	if out, err := exec.Command("go", "build", "-o", chaingen, "../chaingen").CombinedOutput(); err != nil {
		b.Fatalf("building chaingen: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "signed.dat")
	start := time.Now()
	out, err := exec.Command(chaingen, "-format", "blocks", "-n", strconv.Itoa(blocks), "-txs", strconv.Itoa(validatedTxsPerBlock),
		"-seed", strconv.Itoa(seed), "-o", file).CombinedOutput()
	if err != nil {
		b.Fatalf("chaingen: %v\n%s", err, out)
	}
	b.Logf("generated in %s: %s", time.Since(start).Round(time.Second), strings.TrimSpace(string(out)))
	m := regexp.MustCompile(`\((\d+) transactions`).FindSubmatch(out)
	if m == nil {
		b.Fatalf("chaingen's output names no transaction count: %s", out)
	}
	total, _ := strconv.Atoi(string(m[1]))
	chain, err := readChain(file, protocol.Regtest)
	if err != nil {
		b.Fatal(err)
	}
	return file, chain, total
}
