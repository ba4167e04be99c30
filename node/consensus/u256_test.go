package consensus

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// randU256 returns a random value whose magnitude is spread over all bit
// lengths, so small and large numbers are both exercised.
func randU256(r *rand.Rand) U256 {
	a := U256{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
	return a.rsh(uint(r.IntN(257)))
}

func TestU256AddCmpHex(t *testing.T) {
	max := U256{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	cases := []struct {
		a, b, sum U256
	}{
		{U256{}, U256{}, U256{}},
		{U256{1}, U256{2}, U256{3}},
		{U256{^uint64(0)}, U256{1}, U256{0, 1}},                               // carry into limb 1
		{U256{^uint64(0), ^uint64(0), ^uint64(0)}, U256{1}, U256{0, 0, 0, 1}}, // carry through
		{max, U256{1}, U256{}},                                                // wraps modulo 2^256
	}
	for _, c := range cases {
		if got := c.a.Add(c.b); got != c.sum {
			t.Errorf("%v + %v = %v, want %v", c.a, c.b, got, c.sum)
		}
	}
	ordered := []U256{{}, {1}, {2}, {0, 1}, {5, 1}, {0, 0, 1}, {0, 0, 0, 1}, max}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Cmp(b); got != want {
				t.Errorf("Cmp(%v, %v) = %d, want %d", a, b, got, want)
			}
		}
	}
	if !(U256{}).IsZero() || (U256{0, 0, 0, 1}).IsZero() {
		t.Error("IsZero wrong")
	}
	if got, want := (U256{0x100010001}).Hex(), strings.Repeat("0", 55)+"100010001"; got != want {
		t.Errorf("Hex = %s, want %s", got, want)
	}
	if got, want := (U256{1, 2, 3, 4}).Hex(), "0000000000000004000000000000000300000000000000020000000000000001"; got != want {
		t.Errorf("Hex = %s, want %s", got, want)
	}
}

func TestU256AgainstBig(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	mask := new(big.Int).Sub(two256, big.NewInt(1))
	for i := 0; i < 20000; i++ {
		a, b := randU256(r), randU256(r)
		ab, bb := a.Big(), b.Big()
		if U256FromBig(ab) != a {
			t.Fatalf("FromBig(Big(%v)) round trip", a)
		}
		if got, want := a.Add(b).Big(), new(big.Int).And(new(big.Int).Add(ab, bb), mask); got.Cmp(want) != 0 {
			t.Fatalf("%v + %v = %v, want %x", a, b, a.Add(b), want)
		}
		if got, want := a.Cmp(b), ab.Cmp(bb); got != want {
			t.Fatalf("Cmp(%v, %v) = %d, want %d", a, b, got, want)
		}
		if got, want := a.Hex(), ab.Text(16); strings.TrimLeft(got, "0") != strings.TrimLeft(want, "0") || len(got) != 64 {
			t.Fatalf("Hex(%v) = %s, want %s", a, got, want)
		}
		if !b.IsZero() {
			if got, want := a.div(b).Big(), new(big.Int).Quo(ab, bb); got.Cmp(want) != 0 {
				t.Fatalf("%v / %v = %v, want %x", a, b, a.div(b), want)
			}
		}
		m := r.Uint64() >> uint(r.IntN(64))
		if got, want := a.mul64(m).Big(), new(big.Int).And(new(big.Int).Mul(ab, new(big.Int).SetUint64(m)), mask); got.Cmp(want) != 0 {
			t.Fatalf("%v * %d wrong", a, m)
		}
		if m != 0 {
			if got, want := a.div64(m).Big(), new(big.Int).Quo(ab, new(big.Int).SetUint64(m)); got.Cmp(want) != 0 {
				t.Fatalf("%v / %d wrong", a, m)
			}
		}
		n := uint(r.IntN(300))
		if got, want := a.lsh(n).Big(), new(big.Int).And(new(big.Int).Lsh(ab, n), mask); got.Cmp(want) != 0 {
			t.Fatalf("%v << %d wrong", a, n)
		}
		if got, want := a.rsh(n).Big(), new(big.Int).Rsh(ab, n); got.Cmp(want) != 0 {
			t.Fatalf("%v >> %d wrong", a, n)
		}
	}
	// Values above 2^256 keep their low 256 bits.
	big := new(big.Int).Add(new(big.Int).Lsh(two256, 3), big.NewInt(7))
	if got := U256FromBig(big); got != (U256{7}) {
		t.Errorf("U256FromBig(2^259+7) = %v", got)
	}
}

// TestU256DivHardCases exercises the rare corrections of Knuth's algorithm D
// (the quotient estimate too large by one or two, and the add-back step).
func TestU256DivHardCases(t *testing.T) {
	max := ^uint64(0)
	cases := [][2]U256{
		{{0, 0, max, max}, {1, 0, max}},
		{{0, 0, 0, 1 << 63}, {1, 0, 1 << 63}},
		{{max, max, max, max}, {max, max}},
		{{0, max, max, max >> 1}, {max, max >> 1}},
		{{0, 0, 1 << 63, 0x7fffffffffffffff}, {1, 0, 1 << 63}},
		{{0, 0, 0, 0x8000000000000000}, {0xffffffffffffffff, 0x7fffffffffffffff}},
		{{3, 0, 0, 0x8000000000000000}, {1, 0, 0x8000000000000000}},
		{{0, 0xfffffffffffffffe, 0, 0x7fffffffffffffff}, {0, 0xffffffffffffffff, 0x8000000000000000}},
	}
	for _, c := range cases {
		want := new(big.Int).Quo(c[0].Big(), c[1].Big())
		if got := c[0].div(c[1]); got.Big().Cmp(want) != 0 {
			t.Errorf("%v / %v = %v, want %x", c[0], c[1], got, want)
		}
	}
}

// TestCompactCoreExamples checks the examples of Bitcoin Core's
// arith_uint256_tests.cpp (bignum_SetCompact) and the network limits.
func TestCompactCoreExamples(t *testing.T) {
	cases := []struct {
		bits          uint32
		hex           string // the target, trimmed of leading zeros
		compact       uint32 // GetCompact of the target
		neg, overflow bool
	}{
		{0, "0", 0, false, false},
		{0x00123456, "0", 0, false, false},
		{0x01003456, "0", 0, false, false},
		{0x02000056, "0", 0, false, false},
		{0x03000000, "0", 0, false, false},
		{0x04000000, "0", 0, false, false},
		{0x00923456, "0", 0, false, false},
		{0x01803456, "0", 0, false, false},
		{0x02800056, "0", 0, false, false},
		{0x03800000, "0", 0, false, false},
		{0x04800000, "0", 0, false, false},
		{0x01123456, "12", 0x01120000, false, false},
		{0x01fedcba, "7e", 0x017e0000, true, false},
		{0x02123456, "1234", 0x02123400, false, false},
		{0x03123456, "123456", 0x03123456, false, false},
		{0x04123456, "12345600", 0x04123456, false, false},
		{0x04923456, "12345600", 0x04123456, true, false},
		{0x05009234, "92340000", 0x05009234, false, false},
		{0x20123456, "1234560000000000000000000000000000000000000000000000000000000000", 0x20123456, false, false},
		{0x1d00ffff, "ffff0000000000000000000000000000000000000000000000000000", 0x1d00ffff, false, false},
		{0x207fffff, "7fffff0000000000000000000000000000000000000000000000000000000000", 0x207fffff, false, false},
		{0x1e0377ae, "377ae" + strings.Repeat("0", 54), 0x1e0377ae, false, false}, // signet: Core's 00000377ae00...
	}
	for _, c := range cases {
		target, neg, over := CompactToU256(c.bits)
		got := strings.TrimLeft(target.Hex(), "0")
		if got == "" {
			got = "0"
		}
		if got != c.hex || neg != c.neg || over != c.overflow {
			t.Errorf("CompactToU256(%08x) = %s neg=%v overflow=%v, want %s %v %v", c.bits, got, neg, over, c.hex, c.neg, c.overflow)
		}
		if back := U256ToCompact(target); back != c.compact {
			t.Errorf("U256ToCompact(CompactToU256(%08x)) = %08x, want %08x", c.bits, back, c.compact)
		}
	}
	// Core: SetCompact(0xff123456) overflows; 0x80 needs a fourth byte.
	if _, _, over := CompactToU256(0xff123456); !over {
		t.Error("0xff123456 should overflow")
	}
	if got := U256ToCompact(U256{0x80}); got != 0x02008000 {
		t.Errorf("U256ToCompact(0x80) = %08x, want 02008000", got)
	}
}

func TestCompactAgainstBig(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 50000; i++ {
		bits := r.Uint32()
		if i%2 == 0 {
			bits = bits&0x00ffffff | uint32(r.IntN(40))<<24 // sizes that matter
		}
		checkCompact(t, bits, randU256(r))
	}
}

// checkCompact compares the compact conversions and Work with their
// math/big references, for one bits value and one 256-bit value.
func checkCompact(t *testing.T, bits uint32, a U256) {
	t.Helper()
	target, neg, over := CompactToU256(bits)
	wt, wneg, wover := refSetCompact(bits)
	if target.Big().Cmp(wt) != 0 || neg != wneg || over != wover {
		t.Fatalf("CompactToU256(%08x) = %v %v %v, want %x %v %v", bits, target, neg, over, wt, wneg, wover)
	}
	if got, want := U256ToCompact(a), refGetCompact(a.Big()); got != want {
		t.Fatalf("U256ToCompact(%v) = %08x, want %08x", a, got, want)
	}
	// A compact value decodes to the encoded number rounded down to its
	// mantissa, and re-encodes to itself.
	c := U256ToCompact(a)
	back, bneg, bover := CompactToU256(c)
	if bneg || bover || back.Cmp(a) > 0 || U256ToCompact(back) != c {
		t.Fatalf("compact round trip of %v: %08x -> %v", a, c, back)
	}
	if got, want := Work(bits), refWork(bits); got.Big().Cmp(want) != 0 {
		t.Fatalf("Work(%08x) = %v, want %x", bits, got, want)
	}
}

func TestWork(t *testing.T) {
	if got := Work(0x1d00ffff); got != (U256{0x100010001}) {
		t.Errorf("Work(1d00ffff) = %v, want 0x100010001", got)
	}
	// Core's getblockheader "chainwork" of the genesis block.
	if got, want := Work(ParamsFor("mainnet").Genesis.Bits).Hex(), "0000000000000000000000000000000000000000000000000000000100010001"; got != want {
		t.Errorf("genesis chain work %s, want %s", got, want)
	}
	for _, bits := range []uint32{0, 0x03000000, 0x04923456, 0xff123456, 0x01803456} {
		if w := Work(bits); !w.IsZero() {
			t.Errorf("Work(%08x) = %v, want 0 for invalid bits", bits, w)
		}
	}
	// Regtest's limit: target 2^255-ish, work 2.
	if got := Work(0x207fffff); got != (U256{2}) {
		t.Errorf("Work(207fffff) = %v, want 2", got)
	}
	var c WorkCache
	for _, bits := range []uint32{0, 0x1d00ffff, 0x1d00ffff, 0x17034219, 0x1d00ffff, 0} {
		if got, want := c.Work(bits), Work(bits); got != want {
			t.Errorf("WorkCache.Work(%08x) = %v, want %v", bits, got, want)
		}
	}
}

func TestU256Float64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		a := randU256(r)
		want, _ := new(big.Float).SetInt(a.Big()).Float64()
		got := a.Float64()
		if diff := math.Abs(got - want); diff > want*1e-15 {
			t.Fatalf("Float64(%v) = %g, want %g", a, got, want)
		}
	}
}
