package consensus

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// Known mainnet hashes from the test data's README.
const (
	hashGenesis = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
	hash14131   = "00000000b3e750f37fdb42e1018799a9f44b546d393b130b369590a072430a1c"
	hash822528  = "000000000000000000001daacd23f9cb40c69ba923085618a5f9dbdd4d97e93a"
	hash830000  = "000000000000000000011d55599ed27d7efca05f5849b755319c89eb2cffbc1f"
	hash830592  = "00000000000000000000506183a8b30fa3224b85e82a70416e1d594bdb632fdb"
)

// segmentBase is the height of the first header of the recent segment.
const segmentBase = 822528

// segmentTrusted is how many headers at the start of the segment are taken
// on trust as starting state. Eleven are enough: the median time past needs
// the 11 headers before a header, and the first retarget inside the segment
// (824,544) needs the header 2016 below it, which is the segment's first.
const segmentTrusted = medianTimeSpan

// segment loads mainnet headers 822,528 to 830,592 and their hashes, and
// checks that they link up.
func segment(tb testing.TB) ([]Header, []chainhash.Hash) {
	tb.Helper()
	hs := mainnetHeaders(tb, "headers-822528-830592.bin")
	if len(hs) != 8065 {
		tb.Fatalf("segment has %d headers, want 8065", len(hs))
	}
	hashes := make([]chainhash.Hash, len(hs))
	for i := range hs {
		hashes[i] = hs[i].Hash()
		if i > 0 && hs[i].PrevBlock != hashes[i-1] {
			tb.Fatalf("segment header %d does not link to %d", segmentBase+i, segmentBase+i-1)
		}
	}
	return hs, hashes
}

// segmentCtx returns the context for segment index i, seeing only the
// headers below it.
func segmentCtx(p *Params, hs []Header, hashes []chainhash.Hash, i int) *Context {
	return &Context{
		Params:     p,
		Height:     int32(segmentBase + i),
		Parent:     &hs[i-1],
		ParentHash: hashes[i-1],
		Ancestors:  &sliceAnc{base: segmentBase, hs: hs[:i]},
		Now:        now2026,
	}
}

// TestMainnetFromGenesis validates the first 14,132 mainnet headers, one by
// one, under the mainnet rules (seven difficulty periods at the minimum
// difficulty, and the checkpoint at 11,111), and sums their chain work.
func TestMainnetFromGenesis(t *testing.T) {
	hs := mainnetHeaders(t, "headers-000000-014131.bin")
	if len(hs) != 14132 {
		t.Fatalf("%d headers, want 14132", len(hs))
	}
	p := ParamsFor(protocol.Mainnet)
	prev := hs[0].Hash()
	if hs[0] != p.Genesis || prev != p.GenesisHash || prev.String() != hashGenesis {
		t.Fatalf("first header hashes to %s, not the genesis", prev)
	}
	if _, ok := p.Checkpoints[11111]; !ok {
		t.Fatal("mainnet has no checkpoint at 11111 to exercise")
	}
	anc := &sliceAnc{}
	ctx := &Context{Params: p, Ancestors: anc, Now: now2026}
	var wc WorkCache
	work := wc.Work(hs[0].Bits)
	for i := 1; i < len(hs); i++ {
		anc.hs = hs[:i]
		ctx.Height, ctx.Parent, ctx.ParentHash = int32(i), &hs[i-1], prev
		hash := hs[i].Hash()
		if err := CheckHeader(ctx, &hs[i], &hash); err != nil {
			t.Fatal(err)
		}
		prev = hash
		work = work.Add(wc.Work(hs[i].Bits))
	}
	if prev.String() != hash14131 {
		t.Errorf("header 14131 hashes to %s, want %s", prev, hash14131)
	}
	// Every header is at difficulty 1, worth 0x100010001 hashes.
	if want := (U256{0x100010001}).mul64(14132); work != want {
		t.Errorf("chain work at 14131 = %s, want %s", work.Hex(), want.Hex())
	}
}

// TestMainnetRetargets checks the difficulty rule at all 413 mainnet
// retargets up to 832,608: the bits of the first header of each period follow
// from the previous period's first and last headers.
func TestMainnetRetargets(t *testing.T) {
	list := mainnetList(t, "retarget-boundaries.txt")
	p := ParamsFor(protocol.Mainnet)
	byHeight := make(map[int32]*listedHeader, len(list))
	for i := range list {
		byHeight[list[i].height] = &list[i]
	}
	retargets, changed := 0, 0
	for _, cur := range list {
		h := cur.height
		if h == 0 || h%p.RetargetInterval != 0 {
			continue
		}
		last, first := byHeight[h-1], byHeight[h-p.RetargetInterval]
		if last == nil || first == nil {
			t.Fatalf("file lacks the period before %d", h)
		}
		ctx := &Context{
			Params: p, Height: h, Parent: &last.header, ParentHash: last.hash,
			Ancestors: mapAnc{h - 1: &last.header, h - p.RetargetInterval: &first.header},
			Now:       now2026,
		}
		if got := NextWorkRequired(ctx, &cur.header); got != cur.header.Bits {
			t.Errorf("height %d: NextWorkRequired = %08x, mainnet has %08x", h, got, cur.header.Bits)
		}
		hdr := cur.header
		for _, name := range []string{"links-to-parent", "bits-well-formed", "hash-meets-target", "difficulty"} {
			if err := ruleByName(t, name).Check(ctx, &hdr, &cur.hash); err != nil {
				t.Errorf("height %d: %s: %v", h, name, err)
			}
		}
		// Any other bits break the difficulty rule.
		hdr.Bits++
		if err := ruleByName(t, "difficulty").Check(ctx, &hdr, &cur.hash); !errors.Is(err, ErrWrongDifficulty) {
			t.Errorf("height %d: bits+1 gives %v, want ErrWrongDifficulty", h, err)
		}
		retargets++
		if cur.header.Bits != last.header.Bits {
			changed++
		}
	}
	if retargets != 413 {
		t.Errorf("checked %d retargets, want 413", retargets)
	}
	t.Logf("%d retargets, %d of them changed the bits", retargets, changed)
}

// TestMainnetSegment validates mainnet headers 822,539 to 830,592 under the
// mainnet rules, crossing the retargets at 824,544, 826,560, 828,576 and
// 830,592, with the segment's first 11 headers as trusted starting state.
func TestMainnetSegment(t *testing.T) {
	hs, hashes := segment(t)
	if hashes[0].String() != hash822528 || hashes[830000-segmentBase].String() != hash830000 || hashes[len(hs)-1].String() != hash830592 {
		t.Fatal("segment hashes differ from the README's")
	}
	p := ParamsFor(protocol.Mainnet)
	retargets := 0
	for i := segmentTrusted; i < len(hs); i++ {
		ctx := segmentCtx(p, hs, hashes, i)
		if err := CheckHeader(ctx, &hs[i], &hashes[i]); err != nil {
			t.Fatal(err)
		}
		if ctx.Height%p.RetargetInterval == 0 {
			retargets++
			if hs[i].Bits == hs[i-1].Bits {
				t.Errorf("retarget at %d kept the bits", ctx.Height)
			}
		}
	}
	if retargets != 4 {
		t.Errorf("crossed %d retargets, want 4", retargets)
	}
}

// TestMainnetStaleHeaders validates two real headers that lost a race
// against their parents: they are valid forks.
func TestMainnetStaleHeaders(t *testing.T) {
	hs, hashes := segment(t)
	stale := mainnetList(t, "stale-headers.txt")
	if len(stale) != 2 {
		t.Fatalf("%d stale headers, want 2", len(stale))
	}
	p := ParamsFor(protocol.Mainnet)
	forks := 0
	for _, s := range stale {
		i := int(s.height) - segmentBase
		if s.hash == hashes[i] {
			// The data file lists 829,613's main-chain header (the
			// segment's 829,614 builds on it), so it is no fork; it
			// must validate all the same.
			t.Logf("listed stale header at %d is the main chain's own", s.height)
		} else {
			forks++
		}
		ctx := segmentCtx(p, hs, hashes, i)
		if err := CheckHeader(ctx, &s.header, &s.hash); err != nil {
			t.Errorf("stale header at %d: %v", s.height, err)
		}
	}
	if forks == 0 {
		t.Error("no listed stale header is a fork")
	}
}

// TestMainnetCorruptedHeaders flips one bit in each of the 80 bytes of 200
// real headers and checks that every corrupted header is rejected, by the
// rule that byte belongs to. The ruleset runs hash-meets-target before
// difficulty and the time rules, and any change outside the previous-block
// field changes the hash, so a flip in the version, merkle root, time or
// nonce — and in the bits unless they become malformed — is caught by the
// proof of work first; the test then also checks that the difficulty rule
// alone rejects every changed bits value, and the time rules alone every
// time that breaks them.
func TestMainnetCorruptedHeaders(t *testing.T) {
	hs, hashes := segment(t)
	p := ParamsFor(protocol.Mainnet)
	limit := p.PowLimit.Big()
	n := len(hs) - segmentTrusted
	counts := map[string]int{}
	var buf []byte
	for k := 0; k < 200; k++ {
		i := segmentTrusted + (k*7919)%n // 7919 is prime to n: 200 distinct headers
		ctx := segmentCtx(p, hs, hashes, i)
		for pos := 0; pos < HeaderSize; pos++ {
			buf = hs[i].Serialize(buf[:0])
			buf[pos] ^= 1 << ((i + pos) % 8)
			bad, err := ParseHeader(buf)
			if err != nil {
				t.Fatal(err)
			}
			hash := bad.Hash()
			var want string
			var sentinel error
			switch {
			case pos >= 4 && pos < 36:
				want, sentinel = "links-to-parent", ErrBadLink
			case pos >= 72 && pos < 76:
				want, sentinel = "hash-meets-target", ErrHighHash
				if tg, neg, over := refSetCompact(bad.Bits); neg || over || tg.Sign() == 0 {
					want, sentinel = "bits-well-formed", ErrBadBits
				} else if tg.Cmp(limit) > 0 {
					want, sentinel = "bits-well-formed", ErrTargetAboveLimit
				}
				if err := ruleByName(t, "difficulty").Check(ctx, &bad, &hash); !errors.Is(err, ErrWrongDifficulty) {
					t.Errorf("height %d byte %d: difficulty rule alone gives %v", ctx.Height, pos, err)
				}
			default: // version, merkle root, time, nonce: a new hash
				want, sentinel = "hash-meets-target", ErrHighHash
			}
			if pos >= 68 && pos < 72 {
				mtp := MedianTimePast(ctx.Ancestors, ctx.Height-1)
				tooOld := bad.Timestamp <= mtp
				tooNew := int64(bad.Timestamp) > ctx.Now+p.MaxFutureTime
				if got := ruleByName(t, "timestamp-above-median").Check(ctx, &bad, &hash); (got != nil) != tooOld {
					t.Errorf("height %d byte %d: time %d, median %d: rule gives %v", ctx.Height, pos, bad.Timestamp, mtp, got)
				}
				if got := ruleByName(t, "timestamp-not-too-far-ahead").Check(ctx, &bad, &hash); (got != nil) != tooNew {
					t.Errorf("height %d byte %d: time %d: future rule gives %v", ctx.Height, pos, bad.Timestamp, got)
				}
			}
			err = CheckHeader(ctx, &bad, &hash)
			if got := ruleOf(t, err); got != want || !errors.Is(err, sentinel) {
				t.Errorf("height %d byte %d: %v, want rule %s (%v)", ctx.Height, pos, err, want, sentinel)
			}
			counts[want]++
		}
	}
	t.Logf("rejections by rule: %v", counts)
}
