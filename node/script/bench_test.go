package script

import (
	"crypto/sha256"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"

	"github.com/watchnode/watchnode/internal/blockgen"
)

// benchKey and benchHash are what the floor benchmarks sign.
var (
	benchKeySeed = sha256.Sum256([]byte("watchnode script bench key"))
	benchKey, _  = btcec.PrivKeyFromBytes(benchKeySeed[:])
	benchHash    = sha256.Sum256([]byte("watchnode script bench message"))
)

// BenchmarkECDSAVerify is one btcec ECDSA verification: the floor under
// the cost of a legacy or segwit v0 signature check.
func BenchmarkECDSAVerify(b *testing.B) {
	sig := ecdsa.Sign(benchKey, benchHash[:])
	pub := benchKey.PubKey()
	for b.Loop() {
		if !sig.Verify(benchHash[:], pub) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkSchnorrVerify is one btcec BIP340 verification: the floor
// under a taproot signature check.
func BenchmarkSchnorrVerify(b *testing.B) {
	sig, err := schnorr.Sign(benchKey, benchHash[:])
	if err != nil {
		b.Fatal(err)
	}
	pub := benchKey.PubKey()
	for b.Loop() {
		if !sig.Verify(benchHash[:], pub) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkLibsecp256k1ECDSAVerify is one libsecp256k1 ECDSA
// verification, through the same cgo call verifyStandard makes: the floor
// when the build links it.
func BenchmarkLibsecp256k1ECDSAVerify(b *testing.B) {
	cv := requireFastCurve(b)
	rs, pub := benchECDSA()
	for b.Loop() {
		if !cv.verifyECDSA(&rs, benchHash[:], pub) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkLibsecp256k1ECDSAVerifyParallel runs the same verification on
// every core at once (GOMAXPROCS goroutines): its ns/op is the time per
// verification of all the cores together, the floor a block's checks
// can reach on this machine when the cores slow each other down (shared
// caches, a busy host), against the one-core figure divided by cores.
func BenchmarkLibsecp256k1ECDSAVerifyParallel(b *testing.B) {
	cv := requireFastCurve(b)
	rs, pub := benchECDSA()
	b.RunParallel(func(pb *testing.PB) {
		rs := rs
		for pb.Next() {
			if !cv.verifyECDSA(&rs, benchHash[:], pub) {
				b.Error("signature does not verify")
				return
			}
		}
	})
}

// BenchmarkLibsecp256k1SchnorrVerify is one libsecp256k1 BIP340
// verification.
func BenchmarkLibsecp256k1SchnorrVerify(b *testing.B) {
	cv := requireFastCurve(b)
	sig, err := schnorr.Sign(benchKey, benchHash[:])
	if err != nil {
		b.Fatal(err)
	}
	sb, xOnly := sig.Serialize(), schnorr.SerializePubKey(benchKey.PubKey())
	for b.Loop() {
		if !cv.verifySchnorr(sb, benchHash[:], xOnly) {
			b.Fatal("signature does not verify")
		}
	}
}

// benchECDSA returns benchKey's signature of benchHash as r and s, and
// its compressed key.
func benchECDSA() ([64]byte, []byte) {
	sig := ecdsa.Sign(benchKey, benchHash[:])
	r, s := sig.R(), sig.S()
	var rs [64]byte
	r.PutBytesUnchecked(rs[:32])
	s.PutBytesUnchecked(rs[32:])
	return rs, benchKey.PubKey().SerializeCompressed()
}

// ecdsaCost measures one ECDSA verification on this goroutine, for the
// floor ratio: the median of eleven batches, since on a shared machine
// some batches measure the neighbours too. It measures libsecp256k1 when
// the build links it (the fastest verification the node has, so the
// floor), btcec otherwise.
func ecdsaCost(b *testing.B) time.Duration {
	sig := ecdsa.Sign(benchKey, benchHash[:])
	pub := benchKey.PubKey()
	verify := func() bool { return sig.Verify(benchHash[:], pub) }
	if cv := newFastCurve(); cv != nil {
		defer cv.close()
		rs, compressed := benchECDSA()
		verify = func() bool { return cv.verifyECDSA(&rs, benchHash[:], compressed) }
	}
	const n = 50
	var batches [11]time.Duration
	for i := range batches {
		start := time.Now()
		for range n {
			if !verify() {
				b.Fatal("signature does not verify")
			}
		}
		batches[i] = time.Since(start) / n
	}
	slices.Sort(batches[:])
	return batches[len(batches)/2]
}

// benchChain is a regtest chain whose last blocks are full of signed
// spends (about 4,000 inputs each): past coinbase maturity the wallet's
// outputs grow eightfold a block until 2,000 spends fit.
var benchChain = sync.OnceValues(func() ([]chainBlock, error) {
	return generateChain(blockgen.Options{Seed: 2, Blocks: 107, TxPerBlock: 2000,
		Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
})

// BenchmarkVerifyBlock verifies the generated block with the most inputs
// on GOMAXPROCS workers without a signature cache (a cache would answer
// every iteration after the first). It reports sigchecks/s, the signature
// verifications done per second (see keysTried), and floor-ratio, that
// rate over the floor of GOMAXPROCS cores doing nothing but ECDSA
// verifications (GOMAXPROCS / one verification's cost, measured here).
func BenchmarkVerifyBlock(b *testing.B) {
	chain, err := benchChain()
	if err != nil {
		b.Fatal(err)
	}
	best := chain[0]
	for _, cb := range chain {
		if inputCount(cb.block) > inputCount(best.block) {
			best = cb
		}
	}
	sigChecks, schnorr := 0, 0
	for ti, tx := range best.block.Msg.Transactions[1:] {
		for j, in := range tx.TxIn {
			kind := kindOf(best.prevouts[ti+1][j].PkScript, in)
			if kind == "" {
				b.Fatalf("tx %d input %d spends an output of no known kind", ti+1, j)
			}
			n := keysTried(best.prevouts[ti+1][j].PkScript, in)
			sigChecks += n
			if kind == kindP2TRKey || kind == kindP2TRScript {
				schnorr += n
			}
		}
	}
	cost := ecdsaCost(b)
	cores := runtime.GOMAXPROCS(0)
	v := NewVerifier(cores, 0)
	defer v.Close()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := processCPU()
	n := 0
	for b.Loop() {
		if err := v.Start(best.block, best.prevouts, best.flags).Wait(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	cpu1, _ := processCPU()
	rate := float64(sigChecks*n) / b.Elapsed().Seconds()
	floor := float64(cores) / cost.Seconds()
	b.ReportMetric(float64(inputCount(best.block)), "inputs/block")
	b.ReportMetric(float64(schnorr)/float64(sigChecks), "schnorr-share")
	b.ReportMetric(rate, "sigchecks/s")
	b.ReportMetric(rate/floor, "floor-ratio")
	b.ReportMetric(float64(cost.Nanoseconds()), "floor-ns/sig")
	if cpuOK && cpu1 > cpu0 {
		// The same ratio per CPU second the process got rather than per
		// wall second: on a machine whose cores are shared it tells the
		// overhead of verification apart from the cores others took.
		b.ReportMetric(float64(sigChecks*n)*cost.Seconds()/(cpu1-cpu0).Seconds(), "cpu-floor-ratio")
		b.ReportMetric((cpu1-cpu0).Seconds()/b.Elapsed().Seconds(), "cores-used")
	}
}

// BenchmarkVerifyInput runs one input of each kind of the generated chain
// on one goroutine as a worker does (midstate computed beforehand;
// verifyStandard with libsecp256k1 when the build links it, txscript
// otherwise), and reports floor-ratio, the ECDSA floor's share of the
// input's cost (signature checks, see keysTried, × one ECDSA
// verification, see ecdsaCost / the input's time): what is left above 1
// is the sighash, the hashes and parsing around the signatures (with
// btcec, txscript's engine and key parsing too), and for taproot
// Schnorr's and the script path's commitment's extra cost.
func BenchmarkVerifyInput(b *testing.B) {
	chain, err := testChain()
	if err != nil {
		b.Fatal(err)
	}
	first := firstOfEachKind(b, chain)
	cost := ecdsaCost(b)
	for _, k := range allKinds {
		r := first[k]
		b.Run(k, func(b *testing.B) {
			cb := chain[r.block]
			tx := cb.block.Msg.Transactions[r.tx]
			prevouts := cb.prevouts[r.tx]
			cv := newFastCurve()
			if cv != nil {
				defer cv.close()
			}
			f := newStandardFetcher()
			f.reset(tx, prevouts, 0)
			hashes := txscript.NewTxSigHashes(tx, f)
			for b.Loop() {
				if err := verifyInput(cv, nil, tx, prevouts, r.input, cb.flags, hashes, f); err != nil {
					b.Fatal(err)
				}
			}
			checks := keysTried(prevouts[r.input].PkScript, tx.TxIn[r.input])
			perInput := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(checks)*cost.Seconds()/perInput, "floor-ratio")
		})
	}
}
