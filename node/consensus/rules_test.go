package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

func TestRulesOrder(t *testing.T) {
	want := []string{"links-to-parent", "bits-well-formed", "hash-meets-target", "difficulty",
		"timestamp-above-median", "timestamp-not-too-far-ahead", "version-minimum", "bip94-timewarp", "checkpoint"}
	if len(Rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(Rules), len(want))
	}
	for i, r := range Rules {
		if r.Name != want[i] || r.Check == nil {
			t.Errorf("rule %d is %q, want %q", i, r.Name, want[i])
		}
	}
}

// regtestChain returns a regtest chain of n headers a minute apart.
func regtestChain(t *testing.T, p *Params, n int) *testChain {
	c := newTestChain(t, p)
	c.extend(n, 60)
	return c
}

// expect checks that err comes from the named rule and wraps sentinel, or is
// nil when rule is "".
func expect(t *testing.T, what string, err error, rule string, sentinel error) {
	t.Helper()
	if got := ruleOf(t, err); got != rule || (sentinel != nil && !errors.Is(err, sentinel)) {
		t.Errorf("%s: got %v, want rule %q", what, err, rule)
	}
}

func TestLinksToParent(t *testing.T) {
	c := regtestChain(t, ParamsFor(protocol.Regtest), 3)
	hd, hash := c.next(60, 0)
	hd.PrevBlock[0] ^= 1
	hash = mine(t, &hd)
	expect(t, "wrong previous block", c.check(4, &hd, &hash), "links-to-parent", ErrBadLink)
	// A context without a parent is an error, not a panic.
	ctx := c.ctxAt(4)
	ctx.Parent = nil
	expect(t, "no parent", CheckHeader(ctx, &hd, &hash), "links-to-parent", ErrBadLink)
}

func TestMedianTimePastBoundary(t *testing.T) {
	c := regtestChain(t, ParamsFor(protocol.Regtest), 20)
	mtp := MedianTimePast(c.ctxAt(21).Ancestors, 20)
	if mtp != c.hs[15].Timestamp {
		t.Fatalf("median time past %d, want header 15's %d", mtp, c.hs[15].Timestamp)
	}
	hd, hash := c.candidate(21, mtp, 4, 0)
	expect(t, "time == median", c.check(21, &hd, &hash), "timestamp-above-median", ErrTimeTooOld)
	hd, hash = c.candidate(21, mtp+1, 4, 0)
	expect(t, "time == median+1", c.check(21, &hd, &hash), "", nil)
}

func TestMedianTimePast(t *testing.T) {
	mk := func(times ...uint32) *sliceAnc {
		hs := make([]Header, len(times))
		for i, ts := range times {
			hs[i].Timestamp = ts
		}
		return &sliceAnc{hs: hs}
	}
	cases := []struct {
		anc    *sliceAnc
		height int32
		want   uint32
	}{
		{mk(7), 0, 7},
		{mk(5, 1), 1, 5}, // two values: the upper one, as Core's [n/2]
		{mk(5, 1, 4, 2, 3), 4, 3},
		{mk(9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10), 10, 5},
		// Only the last 11 count: the large first one is ignored.
		{mk(1000, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 11, 6},
		{mk(1000, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 10, 6},
		{mk(3, 3, 3, 1, 1, 1, 2, 2, 2, 9, 9), 10, 2},
	}
	for i, c := range cases {
		if got := MedianTimePast(c.anc, c.height); got != c.want {
			t.Errorf("case %d: median %d, want %d", i, got, c.want)
		}
	}
}

func TestFutureTimeBoundary(t *testing.T) {
	c := regtestChain(t, ParamsFor(protocol.Regtest), 12)
	c.now = int64(c.hs[12].Timestamp) + 100
	limit := uint32(c.now + 7200)
	hd, hash := c.candidate(13, limit, 4, 0)
	expect(t, "exactly Now+7200", c.check(13, &hd, &hash), "", nil)
	hd, hash = c.candidate(13, limit+1, 4, 0)
	expect(t, "Now+7201", c.check(13, &hd, &hash), "timestamp-not-too-far-ahead", ErrTimeTooNew)
}

func TestVersionBoundaries(t *testing.T) {
	p := ParamsFor(protocol.Regtest)
	p.BIP34Height, p.BIP66Height, p.BIP65Height = 10, 20, 30
	c := regtestChain(t, p, 35)
	cases := []struct {
		height  int32
		version int32
		ok      bool
	}{
		{9, 1, true}, {10, 1, false}, {10, 2, true},
		{19, 2, true}, {20, 2, false}, {20, 3, true},
		{29, 3, true}, {30, 3, false}, {30, 4, true},
		{30, 0x20000000, true}, {30, -1, false}, {30, -0x20000000, false},
		{1, 0, true}, {1, -5, true},
	}
	for _, tc := range cases {
		ts := c.hs[tc.height-1].Timestamp + 60
		hd, hash := c.candidate(tc.height, ts, tc.version, 0)
		err := c.check(tc.height, &hd, &hash)
		what := fmt.Sprintf("version %d at height %d", tc.version, tc.height)
		if tc.ok {
			expect(t, what, err, "", nil)
		} else {
			expect(t, what, err, "version-minimum", ErrObsoleteVersion)
		}
	}
}

func TestBitsWellFormed(t *testing.T) {
	c := regtestChain(t, ParamsFor(protocol.Regtest), 2)
	cases := []struct {
		bits     uint32
		sentinel error
	}{
		{0x04923456, ErrBadBits},          // sign bit set
		{0x01fedcba, ErrBadBits},          // sign bit set, small
		{0xff123456, ErrBadBits},          // overflows 256 bits
		{0x22000100, ErrBadBits},          // overflows: size 34 with a two-byte mantissa
		{0x03000000, ErrBadBits},          // zero target
		{0x00123456, ErrBadBits},          // zero after the size shift
		{0x2100ffff, ErrTargetAboveLimit}, // 0xffff << 240 > 2^255
		{0x20800000, ErrBadBits},          // sign bit but zero mantissa: a zero target, not negative
	}
	for _, tc := range cases {
		hd, hash := c.next(60, tc.bits)
		expect(t, fmt.Sprintf("bits %08x", tc.bits), c.check(3, &hd, &hash), "bits-well-formed", tc.sentinel)
	}
	// At mainnet's limit, one step easier is above it.
	main := ParamsFor(protocol.Mainnet)
	hd := Header{Bits: 0x1d010000}
	hash := chainhash.Hash{}
	if err := ruleByName(t, "bits-well-formed").Check(&Context{Params: main}, &hd, &hash); !errors.Is(err, ErrTargetAboveLimit) {
		t.Errorf("mainnet bits 1d010000: %v", err)
	}
	hd.Bits = 0x1d00ffff
	if err := ruleByName(t, "bits-well-formed").Check(&Context{Params: main}, &hd, &hash); err != nil {
		t.Errorf("mainnet limit bits: %v", err)
	}
}

// u256Hash returns the hash whose little-endian reading is a.
func u256Hash(a U256) chainhash.Hash {
	var h chainhash.Hash
	for i := 0; i < 4; i++ {
		binary.LittleEndian.PutUint64(h[8*i:], a[i])
	}
	return h
}

// TestHashTargetBoundary checks that a hash equal to the target passes and
// one above it fails. No nonce gives a hash exactly equal to a compact
// target (its low 232 bits would have to be zero), but CheckHeader takes the
// hash from its caller, so the boundary hashes are handed in directly; the
// mined hash shows the same header passing for real.
func TestHashTargetBoundary(t *testing.T) {
	c := regtestChain(t, ParamsFor(protocol.Regtest), 2)
	hd, mined := c.next(60, 0)
	expect(t, "mined", c.check(3, &hd, &mined), "", nil)
	target, _, _ := CompactToU256(hd.Bits)
	if HashToU256(&mined) != HashToU256(ptr(u256Hash(HashToU256(&mined)))) {
		t.Fatal("u256Hash does not invert HashToU256")
	}
	eq := u256Hash(target)
	expect(t, "hash == target", c.check(3, &hd, &eq), "", nil)
	above := u256Hash(target.Add(U256{1}))
	expect(t, "hash == target+1", c.check(3, &hd, &above), "hash-meets-target", ErrHighHash)
	// And a real header whose nonce misses the target.
	for hd.Nonce = 0; ; hd.Nonce++ {
		hash := hd.Hash()
		if HashToU256(&hash).Cmp(target) > 0 {
			expect(t, "unmined nonce", c.check(3, &hd, &hash), "hash-meets-target", ErrHighHash)
			break
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestCheckpoint(t *testing.T) {
	p := ParamsFor(protocol.Regtest)
	c := regtestChain(t, p, 8)
	p.Checkpoints = map[int32]chainhash.Hash{5: c.hashes[5]}
	expect(t, "checkpointed header", c.check(5, &c.hs[5], &c.hashes[5]), "", nil)
	fork, hash := c.candidate(5, c.hs[5].Timestamp+1, 4, 0)
	if hash == c.hashes[5] {
		t.Fatal("test setup: the fork is the same header")
	}
	expect(t, "fork at the checkpoint", c.check(5, &fork, &hash), "checkpoint", ErrCheckpoint)
	expect(t, "fork at another height", c.check(6, &c.hs[6], &c.hashes[6]), "", nil)
	p.Checkpoints[5] = c.hashes[4]
	expect(t, "checkpoint mismatch", c.check(5, &c.hs[5], &c.hashes[5]), "checkpoint", ErrCheckpoint)
}

func TestRuleError(t *testing.T) {
	c := regtestChain(t, ParamsFor(protocol.Regtest), 3)
	hd, hash := c.next(60, 0x03000000)
	err := c.check(4, &hd, &hash)
	var re *RuleError
	if !errors.As(err, &re) || re.Rule != "bits-well-formed" || re.Height != 4 || re.Hash != hash {
		t.Fatalf("got %#v", err)
	}
	prefix := fmt.Sprintf("header %s at height 4 breaks rule bits-well-formed: ", hash)
	if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), ErrBadBits.Error()) {
		t.Errorf("Error() = %q", err)
	}
	if !errors.Is(err, ErrBadBits) || errors.Is(err, ErrHighHash) {
		t.Error("errors.Is does not see the sentinel")
	}
}

func TestCheckHeaderDoesNotAllocate(t *testing.T) {
	c := regtestChain(t, ParamsFor(protocol.Regtest), 20)
	hd, hash := c.next(60, 0)
	ctx := c.ctxAt(21)
	if n := testing.AllocsPerRun(100, func() {
		if CheckHeader(ctx, &hd, &hash) != nil {
			panic("invalid")
		}
	}); n != 0 {
		t.Errorf("CheckHeader allocates %v times", n)
	}
	var wc WorkCache
	if n := testing.AllocsPerRun(100, func() { _ = Work(0x17034219); _ = wc.Work(0x1d00ffff) }); n != 0 {
		t.Errorf("Work allocates %v times", n)
	}
}
