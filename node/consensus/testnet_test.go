package consensus

import (
	"errors"
	"testing"

	"github.com/watchnode/watchnode/node/protocol"
)

// TestTestnetMinDifficultyRule walks a constructed testnet3 chain through
// the 20-minute rule (scaled to 2*TargetSpacing = 120 s), the walk back over
// exceptions, and two retargets.
func TestTestnetMinDifficultyRule(t *testing.T) {
	p := synthParams(t, protocol.Testnet3)
	c := newTestChain(t, p)
	limit := p.PowLimitBits

	// Period 0: 15 headers 15 s apart take 225 s, under a quarter of the
	// 960 s target, so height 16 retargets to a quarter of the limit.
	c.extend(15, 15)
	want := refRetarget(p, limit, c.hs[0].Timestamp, c.hs[15].Timestamp)
	if want == limit {
		t.Fatal("test setup: retarget did not change the bits")
	}
	// The first header of a period has no minimum-difficulty exception.
	if hd, hash := c.next(10_000, limit); ruleOf(t, c.check(16, &hd, &hash)) != "difficulty" {
		t.Error("a period's first header took the min-difficulty exception")
	}
	if got := c.add(15, 0).Bits; got != want {
		t.Fatalf("bits at 16 = %08x, want %08x", got, want)
	}
	realBits := want
	c.add(60, 0) // 17

	reject := func(dt int64, bits uint32, why string) {
		t.Helper()
		hd, hash := c.next(dt, bits)
		err := c.check(c.height()+1, &hd, &hash)
		if ruleOf(t, err) != "difficulty" || !errors.Is(err, ErrWrongDifficulty) {
			t.Errorf("%s: got %v, want the difficulty rule", why, err)
		}
	}
	accept := func(dt int64, bits uint32, why string) {
		t.Helper()
		hd, hash := c.next(dt, bits)
		if err := c.check(c.height()+1, &hd, &hash); err != nil {
			t.Errorf("%s: %v", why, err)
		}
	}
	reject(120, limit, "exactly 2*spacing after the parent, pow-limit bits")
	accept(120, realBits, "exactly 2*spacing after the parent, real bits")
	accept(121, limit, "more than 2*spacing after the parent, pow-limit bits")
	// Core requires exactly GetNextWorkRequired's bits: past the 20
	// minutes, the real difficulty is not accepted either.
	reject(121, realBits, "more than 2*spacing after the parent, real bits")

	c.add(121, limit)  // 18: an exception
	c.add(5000, limit) // 19: another
	// After exceptions the last non-exception's bits apply again.
	reject(60, limit, "after exceptions, pow-limit bits without the delay")
	if got := c.add(60, 0).Bits; got != realBits { // 20
		t.Errorf("after exceptions the required bits are %08x, want %08x", got, realBits)
	}
	c.extend(11, 60) // 21..31

	// Height 32: testnet3 retargets from the last header's bits.
	want = refRetarget(p, c.hs[31].Bits, c.hs[16].Timestamp, c.hs[31].Timestamp)
	if got := c.add(60, 0).Bits; got != want {
		t.Fatalf("bits at 32 = %08x, want %08x", got, want)
	}
	second := want

	// Period 2: the walk back stops at the period's first header.
	c.add(200, limit) // 33
	c.add(200, limit) // 34
	if got := c.add(60, 0).Bits; got != second {
		t.Errorf("bits after exceptions at the period start = %08x, want %08x", got, second)
	}
	// A slow period (every header an exception) makes the retarget at 48
	// reach the limit; after it the walk back stops at 48 and does not
	// reach the real bits of 32.
	for c.height() < 47 {
		c.add(1000, limit)
	}
	if got := c.add(1000, 0).Bits; got != limit {
		t.Fatalf("bits at 48 = %08x, want the limit", got)
	}
	reject(60, second, "the bits of an earlier period after a limit retarget")
	accept(60, limit, "the period-start limit bits")
}

// bip94Chain builds the same chain on p (testnet3 or testnet4 scaled down):
// a fast period 0, then a period 1 whose first header has real bits and
// whose last six headers are min-difficulty exceptions 130 s apart. It ends
// at height 31, just before a retarget, with the median time past 650 s
// below the tip.
func bip94Chain(t *testing.T, p *Params) *testChain {
	c := newTestChain(t, p)
	c.extend(16, 15) // 1..16; 16 retargets to a quarter of the limit
	c.extend(9, 10)  // 17..25, real bits
	for i := 0; i < 6; i++ {
		c.add(130, p.PowLimitBits) // 26..31, exceptions
	}
	return c
}

// TestBIP94 compares testnet4 (BIP94) with testnet3 on the same chain: the
// retarget starts from the period's first header's bits rather than its
// last's, and the first header of a period may be at most 600 s earlier
// than its parent.
func TestBIP94(t *testing.T) {
	c3 := bip94Chain(t, synthParams(t, protocol.Testnet3))
	c4 := bip94Chain(t, synthParams(t, protocol.Testnet4))
	if c3.hashes[31] != c4.hashes[31] {
		t.Fatal("test setup: the two chains differ")
	}
	first, last := &c4.hs[16], &c4.hs[31]
	if first.Bits == last.Bits || last.Bits != c4.p.PowLimitBits {
		t.Fatal("test setup: period 1 should start at real bits and end at an exception")
	}

	tip := last.Timestamp
	if mtp := MedianTimePast(c4.ctxAt(32).Ancestors, 31); mtp != tip-650 {
		t.Fatalf("test setup: median time past %d, want tip-650", mtp)
	}
	want3 := refRetarget(c3.p, last.Bits, first.Timestamp, last.Timestamp)
	want4 := refRetarget(c4.p, first.Bits, first.Timestamp, last.Timestamp)
	if want3 == want4 {
		t.Fatal("test setup: the retargets coincide")
	}
	for _, tc := range []struct {
		c    *testChain
		want uint32
		name string
	}{{c3, want3, "testnet3"}, {c4, want4, "testnet4"}} {
		hd, hash := tc.c.candidate(32, tip-600, 4, 0)
		if hd.Bits != tc.want {
			t.Errorf("%s: retarget gives %08x, want %08x", tc.name, hd.Bits, tc.want)
		}
		if err := tc.c.check(32, &hd, &hash); err != nil {
			t.Errorf("%s: first header 600 s before its parent: %v", tc.name, err)
		}
	}
	// Each network rejects the other's retarget.
	if hd, hash := c4.candidate(32, tip, 4, want3); ruleOf(t, c4.check(32, &hd, &hash)) != "difficulty" {
		t.Error("testnet4 accepted a retarget from the last header's bits")
	}
	if hd, hash := c3.candidate(32, tip, 4, want4); ruleOf(t, c3.check(32, &hd, &hash)) != "difficulty" {
		t.Error("testnet3 accepted a retarget from the first header's bits")
	}

	// 601 s before the parent: a timewarp on testnet4, allowed on testnet3.
	hd, hash := c4.candidate(32, tip-601, 4, 0)
	err := c4.check(32, &hd, &hash)
	if ruleOf(t, err) != "bip94-timewarp" || !errors.Is(err, ErrTimewarp) {
		t.Errorf("testnet4, 601 s before the parent: %v, want bip94-timewarp", err)
	}
	hd, hash = c3.candidate(32, tip-601, 4, 0)
	if err := c3.check(32, &hd, &hash); err != nil {
		t.Errorf("testnet3, 601 s before the parent: %v", err)
	}
	// Inside a period the timewarp rule does not apply.
	hd, hash = c4.candidate(31, c4.hs[30].Timestamp-601, 4, c4.p.PowLimitBits)
	if err := ruleByName(t, "bip94-timewarp").Check(c4.ctxAt(31), &hd, &hash); err != nil {
		t.Errorf("timewarp rule applied inside a period: %v", err)
	}
}

// TestRegtestKeepsBits checks that regtest never retargets: the real regtest
// chain stays at its limit across its 144-header periods however fast it
// goes, and a scaled-down regtest keeps a harder genesis's bits at every
// boundary where a retargeting network would change them.
func TestRegtestKeepsBits(t *testing.T) {
	c := newTestChain(t, ParamsFor(protocol.Regtest))
	c.extend(300, 1)
	for h, hd := range c.hs {
		if hd.Bits != 0x207fffff {
			t.Fatalf("regtest bits at %d = %08x", h, hd.Bits)
		}
	}

	p := ParamsFor(protocol.Regtest)
	p.RetargetInterval, p.TargetTimespan = 16, 16*600
	g := Header{Version: 1, Timestamp: 1_700_000_000, Bits: 0x2000ffff}
	p.GenesisHash, p.Genesis = mine(t, &g), g
	c = newTestChain(t, p)
	c.extend(40, 1)
	for h, hd := range c.hs {
		if hd.Bits != 0x2000ffff {
			t.Fatalf("scaled regtest bits at %d = %08x", h, hd.Bits)
		}
	}
	hd, hash := c.candidate(32, c.hs[31].Timestamp+1, 4, 0x2000fffe)
	if ruleOf(t, c.check(32, &hd, &hash)) != "difficulty" {
		t.Error("regtest accepted other bits at a boundary")
	}
	retargeting := *p
	retargeting.NoRetargeting = false
	ctx := c.ctxAt(32)
	ctx.Params = &retargeting
	if NextWorkRequired(ctx, &hd) == 0x2000ffff {
		t.Error("test setup: a retargeting network would keep the bits too")
	}
}
