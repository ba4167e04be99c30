package chaingen

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// fixedEnd pins End so tests are deterministic and independent of the clock.
var fixedEnd = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// bigTarget expands compact bits with math/big, independently of
// compactToTarget, so the tests do not check the generator with itself.
func bigTarget(bits uint32) *big.Int {
	mantissa := big.NewInt(int64(bits & 0x007fffff))
	exponent := uint(bits >> 24)
	if exponent <= 3 {
		return mantissa.Rsh(mantissa, 8*(3-exponent))
	}
	return mantissa.Lsh(mantissa, 8*(exponent-3))
}

// hashNum reads a block hash as the little-endian number consensus compares.
func hashNum(h chainhash.Hash) *big.Int {
	var be [32]byte
	for i := range h {
		be[31-i] = h[i]
	}
	return new(big.Int).SetBytes(be[:])
}

// checkChain verifies every header rule chaingen promises for headers built
// on parent, using wire's own hashing and big.Int targets.
func checkChain(t *testing.T, parent wire.BlockHeader, headers []wire.BlockHeader, net protocol.Network, end time.Time) {
	t.Helper()
	params := net.Params()
	prevHash := parent.BlockHash()
	prevTime := parent.Timestamp
	genesisTime := params.GenesisBlock.Header.Timestamp
	limit := bigTarget(params.PowLimitBits)
	if limit.Cmp(params.PowLimit) > 0 {
		t.Fatalf("pow limit bits %#x expand above PowLimit", params.PowLimitBits)
	}
	for i, h := range headers {
		if h.PrevBlock != prevHash {
			t.Fatalf("header %d: PrevBlock %s, want %s", i, h.PrevBlock, prevHash)
		}
		if h.Bits != params.PowLimitBits {
			t.Fatalf("header %d: bits %#x, want %#x", i, h.Bits, params.PowLimitBits)
		}
		hash := h.BlockHash()
		if hashNum(hash).Cmp(bigTarget(h.Bits)) > 0 {
			t.Fatalf("header %d: hash %s above target of bits %#x", i, hash, h.Bits)
		}
		if !h.Timestamp.After(prevTime) {
			t.Fatalf("header %d: timestamp %v not after parent's %v", i, h.Timestamp, prevTime)
		}
		if !h.Timestamp.After(genesisTime) || !h.Timestamp.Before(end) {
			t.Fatalf("header %d: timestamp %v outside (%v, %v)", i, h.Timestamp, genesisTime, end)
		}
		if h.Version != 4 {
			t.Fatalf("header %d: version %d, want 4", i, h.Version)
		}
		prevHash, prevTime = hash, h.Timestamp
	}
}

func genesis(net protocol.Network) wire.BlockHeader {
	return net.Params().GenesisBlock.Header
}

func TestGenerateValidChain(t *testing.T) {
	headers := Generate(2000, Options{End: fixedEnd})
	if len(headers) != 2000 {
		t.Fatalf("got %d headers, want 2000", len(headers))
	}
	checkChain(t, genesis(protocol.Regtest), headers, protocol.Regtest, fixedEnd)
	if headers[0].PrevBlock != *protocol.Regtest.Params().GenesisHash {
		t.Errorf("first header does not link to the regtest genesis hash")
	}
	// The default schedule ends the chain an hour before End at the
	// network's ten-minute pace.
	if got, want := headers[len(headers)-1].Timestamp, fixedEnd.Add(-time.Hour); !got.Equal(want) {
		t.Errorf("last timestamp %v, want %v", got, want)
	}
	if d := headers[1].Timestamp.Sub(headers[0].Timestamp); d != 10*time.Minute {
		t.Errorf("default spacing %v, want 10m", d)
	}
}

func TestGenerateDefaultEndIsNow(t *testing.T) {
	before := time.Now()
	headers := Generate(50, Options{})
	checkChain(t, genesis(protocol.Regtest), headers, protocol.Regtest, before.Add(-59*time.Minute))
}

func TestGenerateLongChainSqueezesSpacing(t *testing.T) {
	// More headers than ten-minute steps fit since the 2011 genesis: the
	// default must shrink the step, not start before genesis.
	end := time.Date(2012, 2, 1, 0, 0, 0, 0, time.UTC)
	headers := Generate(100_000, Options{End: end})
	checkChain(t, genesis(protocol.Regtest), headers, protocol.Regtest, end)
}

func TestGenerateStartAndSpacing(t *testing.T) {
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	headers := Generate(10, Options{Start: start, Spacing: 90 * time.Second, End: fixedEnd})
	checkChain(t, genesis(protocol.Regtest), headers, protocol.Regtest, fixedEnd)
	for i, h := range headers {
		if want := start.Add(time.Duration(i) * 90 * time.Second); !h.Timestamp.Equal(want) {
			t.Fatalf("header %d at %v, want %v", i, h.Timestamp, want)
		}
	}

	// Start without Spacing spreads the headers over [Start, End).
	end := start.Add(1000 * time.Second)
	headers = Generate(10, Options{Start: start, End: end})
	checkChain(t, genesis(protocol.Regtest), headers, protocol.Regtest, end)
	if d := headers[1].Timestamp.Sub(headers[0].Timestamp); d != 100*time.Second {
		t.Errorf("spread spacing %v, want 100s", d)
	}

	// A Start before genesis cannot be honoured; timestamps are pushed
	// forward so the chain stays valid.
	headers = Generate(5, Options{Start: time.Unix(0, 0), Spacing: time.Second, End: fixedEnd})
	checkChain(t, genesis(protocol.Regtest), headers, protocol.Regtest, fixedEnd)
}

func TestGenerateVersionOption(t *testing.T) {
	headers := Generate(3, Options{Version: 0x20000000, End: fixedEnd})
	for i, h := range headers {
		if h.Version != 0x20000000 {
			t.Fatalf("header %d: version %#x", i, h.Version)
		}
	}
}

func TestGenerateZeroAndNegative(t *testing.T) {
	if got := Generate(0, Options{}); got != nil {
		t.Errorf("Generate(0) = %d headers", len(got))
	}
	if got := Generate(-1, Options{}); got != nil {
		t.Errorf("Generate(-1) = %d headers", len(got))
	}
}

func TestDeterministicAndSeeded(t *testing.T) {
	opts := Options{End: fixedEnd, Seed: 7}
	a := Generate(300, opts)
	b := Generate(300, opts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed and options gave different chains")
	}
	opts.Seed = 8
	c := Generate(300, opts)
	checkChain(t, genesis(protocol.Regtest), c, protocol.Regtest, fixedEnd)
	if a[0].BlockHash() == c[0].BlockHash() {
		t.Fatal("different seeds gave the same first header")
	}
	seen := make(map[chainhash.Hash]bool, 2*len(a))
	for _, h := range append(a, c...) {
		hash := h.BlockHash()
		if seen[hash] {
			t.Fatalf("hash %s appears twice across the two seeds", hash)
		}
		seen[hash] = true
	}
}

func TestExtendForks(t *testing.T) {
	main := Generate(100, Options{End: fixedEnd, Seed: 1})
	const at = 60
	parent := main[at]
	fork := Extend(parent, parent.Timestamp, 80, Options{End: fixedEnd, Seed: 2})
	if len(fork) != 80 {
		t.Fatalf("fork has %d headers, want 80", len(fork))
	}
	if fork[0].PrevBlock != parent.BlockHash() {
		t.Fatal("fork does not link to its parent")
	}
	if fork[0].BlockHash() == main[at+1].BlockHash() {
		t.Fatal("fork's first header equals the main chain's next header")
	}
	checkChain(t, parent, fork, protocol.Regtest, fixedEnd)

	// A later parentTime holds the whole branch after it.
	later := parent.Timestamp.Add(3 * time.Hour)
	fork = Extend(parent, later, 5, Options{End: fixedEnd, Seed: 3})
	checkChain(t, parent, fork, protocol.Regtest, fixedEnd)
	if !fork[0].Timestamp.After(later) {
		t.Fatalf("first fork header %v not after parentTime %v", fork[0].Timestamp, later)
	}

	// A parent near End leaves no room before End: timestamps still
	// strictly increase.
	tip := main[len(main)-1]
	fork = Extend(tip, tip.Timestamp, 10, Options{End: tip.Timestamp, Seed: 4})
	prev := tip.Timestamp
	for i, h := range fork {
		if !h.Timestamp.After(prev) {
			t.Fatalf("header %d: %v not after %v", i, h.Timestamp, prev)
		}
		prev = h.Timestamp
	}
}

func TestEmptyNetworkIsRegtest(t *testing.T) {
	a := Generate(3, Options{End: fixedEnd})
	b := Generate(3, Options{Network: protocol.Regtest, End: fixedEnd})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("empty Network differs from explicit regtest")
	}
}

func TestCompactToTarget(t *testing.T) {
	for _, bits := range []uint32{
		0x207fffff, 0x1d00ffff, 0x1e0377ae, 0x1b0404cb, 0x170331db,
		0x03123456, 0x04123456, 0x02123456, 0x01123456, 0x00000000, 0x2100ffff,
	} {
		got := compactToTarget(bits)
		want := bigTarget(bits).FillBytes(make([]byte, 32))
		if !bytes.Equal(got[:], want) {
			t.Errorf("bits %#08x: target %x, want %x", bits, got, want)
		}
	}
	for _, bits := range []uint32{0x1d80ffff, 0x22010000} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("bits %#08x: want a panic", bits)
				}
			}()
			compactToTarget(bits)
		}()
	}
}

func TestMeetsTargetMatchesBigInt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bits := range []uint32{0x207fffff, 0x1d00ffff, 0x1e0377ae} {
		target := compactToTarget(bits)
		big := bigTarget(bits)
		for i := 0; i < 20000; i++ {
			var h chainhash.Hash
			for j := range h {
				h[j] = byte(rng.Uint32())
			}
			// Bias towards the boundary so equal leading bytes get tested.
			if i%2 == 0 {
				for j := 0; j < rng.IntN(32); j++ {
					h[31-j] = target[j]
				}
			}
			if got, want := meetsTarget((*[32]byte)(&h), &target), hashNum(h).Cmp(big) <= 0; got != want {
				t.Fatalf("bits %#08x hash %s: meetsTarget %v, want %v", bits, h, got, want)
			}
		}
		// Exactly the target qualifies; one more does not.
		var h chainhash.Hash
		for j := range h {
			h[j] = target[31-j]
		}
		if !meetsTarget((*[32]byte)(&h), &target) {
			t.Errorf("bits %#08x: hash equal to target rejected", bits)
		}
	}
}

func TestEncodeMatchesWire(t *testing.T) {
	for _, h := range Generate(20, Options{End: fixedEnd, Seed: 9}) {
		var buf [HeaderSize]byte
		encodeHeader(&buf, &h)
		var w bytes.Buffer
		if err := h.Serialize(&w); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:], w.Bytes()) {
			t.Fatalf("encodeHeader differs from wire:\n%x\n%x", buf, w.Bytes())
		}
		var back wire.BlockHeader
		if err := back.Deserialize(bytes.NewReader(buf[:])); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(decodeHeader(buf[:]), back) {
			t.Fatal("decodeHeader differs from wire's Deserialize")
		}
	}
}

func TestFileRoundTrip(t *testing.T) {
	headers := Generate(1234, Options{End: fixedEnd, Seed: 5})
	path := filepath.Join(t.TempDir(), "chain.hdr")
	if err := WriteFile(path, headers); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != int64(len(headers))*HeaderSize {
		t.Fatalf("file size %d, want %d", info.Size(), len(headers)*HeaderSize)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, headers) {
		t.Fatal("ReadFile(WriteFile(h)) != h")
	}
	// Overwriting replaces the file and leaves no temporary behind.
	if err := WriteFile(path, headers[:10]); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(path); err != nil || len(got) != 10 {
		t.Fatalf("after overwrite: %d headers, %v", len(got), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// An empty chain is an empty file.
	if err := WriteFile(path, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(path); err != nil || len(got) != 0 {
		t.Fatalf("empty file: %d headers, %v", len(got), err)
	}
}

func TestReadFileTruncated(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{79, 2*HeaderSize + 5} {
		path := filepath.Join(dir, "bad.hdr")
		if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadFile(path)
		if err == nil {
			t.Fatalf("size %d: want an error", size)
		}
		offset := size - size%HeaderSize
		if want := "offset " + strconv.Itoa(offset); !strings.Contains(err.Error(), want) {
			t.Errorf("size %d: error %q does not name %q", size, err, want)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("want an error for a missing file")
	}
}

func TestWriteFileMissingFolder(t *testing.T) {
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "chain"), nil); err == nil {
		t.Fatal("want an error for a missing folder")
	}
}

func TestGenerate100k(t *testing.T) {
	start := time.Now()
	headers := Generate(100_000, Options{End: fixedEnd})
	elapsed := time.Since(start)
	t.Logf("generated %d headers in %v (%.0f headers/s)", len(headers), elapsed, float64(len(headers))/elapsed.Seconds())
	checkChain(t, genesis(protocol.Regtest), headers, protocol.Regtest, fixedEnd)
}

func BenchmarkGenerate(b *testing.B) {
	const n = 10_000
	total := 0
	for b.Loop() {
		total += len(Generate(n, Options{End: fixedEnd}))
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "headers/s")
}
