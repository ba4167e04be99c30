package chain

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/consensus"
)

// grow returns n headers after parent, a second apart from its time: a
// chain grown this way can be extended and forked at will without its
// timestamps running into "now" (the tests accept with now = end).
func grow(parent consensus.Header, n int, seed uint64) []consensus.Header {
	w := parent.ToWire()
	return toConsensus(chaingen.Extend(w, w.Timestamp, n, chaingen.Options{Start: w.Timestamp.Add(time.Second), Spacing: time.Second, Seed: seed}))
}

// checkView checks that every answer of v agrees with v's own chain,
// sampling heights with rng. It returns the first disagreement.
func checkView(v *View, rng *rand.Rand, samples int) error {
	height, tip, work := v.Tip()
	if height != v.Height() || v.HashAt(height) != tip || v.WorkAt(height) != work {
		return fmt.Errorf("tip %d %s disagrees with HashAt/WorkAt", height, tip)
	}
	th := v.TipHeader()
	if th.Hash() != tip || v.HeaderAt(height) != th {
		return fmt.Errorf("tip header does not hash to the tip")
	}
	if v.HashAt(0) != regtest().GenesisHash || v.WorkAt(0) != consensus.Work(regtest().Genesis.Bits) {
		return fmt.Errorf("height 0 is not the genesis")
	}
	for range samples {
		var h int32
		switch rng.IntN(3) {
		case 0: // near the tip: the copied tail
			h = max(0, height-rng.Int32N(viewTail+2))
		default:
			h = rng.Int32N(height + 1)
		}
		hash := v.HashAt(h)
		hdr := v.HeaderAt(h)
		if got := hdr.Hash(); got != hash {
			return fmt.Errorf("header %d hashes to %s, HashAt says %s", h, got, hash)
		}
		if h < height {
			next := v.HeaderAt(h + 1)
			if next.PrevBlock != hash {
				return fmt.Errorf("header %d does not follow HashAt(%d)", h+1, h)
			}
			if v.WorkAt(h+1) != v.WorkAt(h).Add(consensus.Work(next.Bits)) {
				return fmt.Errorf("WorkAt(%d) is not WorkAt(%d) plus its header's work", h+1, h)
			}
		}
		if mh, ok := v.MainHeight(&hash); !ok || mh != h {
			return fmt.Errorf("MainHeight(HashAt(%d)) = %d %v", h, mh, ok)
		}
		info, ok := v.Lookup(&hash)
		if !ok || !info.Main || info.Height != h || info.Hash != hash || info.Work != v.WorkAt(h) || info != v.InfoAt(h) {
			return fmt.Errorf("Lookup(HashAt(%d)) = %+v %v", h, info, ok)
		}
	}
	tips := v.Tips()
	if tips[0].Hash != tip || tips[0].Height != height || tips[0].Work != work || tips[0].Status != "active" {
		return fmt.Errorf("first tip %+v is not the active tip", tips[0])
	}
	if len(tips)-1 > v.ForkCount() {
		return fmt.Errorf("%d fork tips but %d fork headers", len(tips)-1, v.ForkCount())
	}
	for _, ft := range tips[1:] {
		info, ok := v.Lookup(&ft.Hash)
		if !ok || info.Main || info.Height != ft.Height || info.Work != ft.Work {
			return fmt.Errorf("fork tip %+v looks up as %+v %v", ft, info, ok)
		}
		if _, ok := v.MainHeight(&ft.Hash); ok {
			return fmt.Errorf("fork tip %s is on the main chain", ft.Hash)
		}
	}
	unknown := chainhash.Hash{0xde, 0xad, byte(rng.Uint32())}
	if _, ok := v.Lookup(&unknown); ok {
		return fmt.Errorf("an unknown hash was found")
	}
	return nil
}

// snapshot is a view with when it was taken.
type snapshot struct {
	v   *View
	seq int
}

// TestViewsReadConcurrentlyWithAccept: readers hammer views taken at various
// times, old ones included, while the owner accepts tens of thousands of
// headers, reorganizes (shallow, around viewTail, and deeper, which moves
// the main chain to new arrays), reserves and grows the index. Every
// answer must agree with the view's own chain; run under -race.
func TestViewsReadConcurrentlyWithAccept(t *testing.T) {
	c := openMem(t)
	var latest atomic.Pointer[snapshot]
	latest.Store(&snapshot{v: c.View()})
	done := make(chan struct{})
	var failed atomic.Bool
	var checks atomic.Int64
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 99))
			var kept []*snapshot // oldest first
			for {
				select {
				case <-done:
					return
				default:
				}
				s := latest.Load()
				if len(kept) == 0 || kept[len(kept)-1].seq != s.seq {
					if len(kept) == 8 {
						// Keep the oldest view forever, cycle the others.
						kept = append(kept[:1], kept[2:]...)
					}
					kept = append(kept, s)
				}
				for i, k := range kept {
					if i > 0 {
						prev := kept[i-1].v
						_, _, pw := prev.Tip()
						_, _, w := k.v.Tip()
						if w.Cmp(pw) < 0 || len(k.v.Reorgs()) < len(prev.Reorgs()) {
							t.Errorf("view %d has less work or fewer reorgs than view %d", k.seq, kept[i-1].seq)
							failed.Store(true)
							return
						}
					}
					if err := checkView(k.v, rng, 8); err != nil {
						t.Errorf("view %d (height %d): %v", k.seq, k.v.Height(), err)
						failed.Store(true)
						return
					}
					checks.Add(1)
				}
			}
		})
	}

	rng := rand.New(rand.NewPCG(1, 2))
	seq, seed, reorgs, thaws := 0, uint64(100), 0, 0
	publish := func() {
		seq++
		v := c.View()
		// The owner's view agrees with the chain right now.
		if h, tip, w := c.Tip(); v.Height() != h || v.HashAt(h) != tip || v.WorkAt(h) != w || v.ForkCount() != c.ForkCount() {
			t.Fatalf("view %d differs from its chain", seq)
		}
		latest.Store(&snapshot{v: v, seq: seq})
	}
	depths := []int32{1, 5, 60, viewTail - 1, viewTail, viewTail + 1, 700, 1500}
	for c.Height() < 40_000 && !failed.Load() {
		seed++
		n := 1 + rng.IntN(700)
		if rng.IntN(10) == 0 {
			c.Reserve(c.Height() + int32(rng.IntN(20_000)))
		}
		accept(t, c, grow(c.TipHeader(), n, seed))
		publish()
		switch rng.IntN(4) {
		case 0: // a reorg
			d := min(depths[rng.IntN(len(depths))], c.Height())
			seed++
			frozen := c.views.frozen
			res := accept(t, c, grow(*c.HeaderAt(c.Height() - d), int(d)+1+rng.IntN(3), seed))
			if res.Reorg == nil || res.Reorg.ForkHeight != c.Reorgs()[len(c.Reorgs())-1].ForkHeight {
				t.Fatalf("no reorg at depth %d", d)
			}
			reorgs++
			if int(res.Reorg.ForkHeight)+1 < frozen {
				thaws++
			}
			publish()
		case 1: // a fork that does not win
			d := min(int32(1+rng.IntN(50)), c.Height())
			seed++
			accept(t, c, grow(*c.HeaderAt(c.Height() - d), rng.IntN(int(d))+1, seed))
			publish()
		}
	}
	// Let the readers go over the last views for a moment.
	for start := checks.Load(); checks.Load() < start+200 && !failed.Load(); {
		time.Sleep(time.Millisecond)
	}
	close(done)
	wg.Wait()
	if reorgs < 10 || thaws == 0 {
		t.Errorf("only %d reorgs, %d deeper than the views' tail", reorgs, thaws)
	}
	t.Logf("height %d, %d reorgs (%d moved the arrays), %d forks, %d view checks", c.Height(), reorgs, thaws, c.ForkCount(), checks.Load())
}

// TestViewIsImmutable: a view answers the same after the chain grew, moved
// to new arrays, rebuilt its index and reorganized below the view's tip.
func TestViewIsImmutable(t *testing.T) {
	c := openMem(t)
	accept(t, c, grow(c.TipHeader(), 3000, 1))
	accept(t, c, grow(*c.HeaderAt(2990), 5, 2)) // a fork the view sees
	v := c.View()
	want := make([]HeaderInfo, c.Height()+1)
	for h := range want {
		want[h] = c.InfoAt(int32(h))
	}
	wantTips := c.Tips()
	if v.ForkCount() != 5 || len(v.Tips()) != 2 {
		t.Fatalf("view of a chain with a fork: %d fork headers, %d tips", v.ForkCount(), len(v.Tips()))
	}
	if c.views.frozen != 3001-viewTail {
		t.Fatalf("frozen %d after a view of 3001 headers", c.views.frozen)
	}

	oldTable := c.index.table
	// A reorg from 1000, far below the shared part, then growth through
	// index rebuilds and a reserve.
	res := accept(t, c, grow(*c.HeaderAt(1000), 2500, 3))
	if res.Reorg == nil || res.Reorg.ForkHeight != 1000 {
		t.Fatalf("reorg: %+v", res.Reorg)
	}
	if c.views.frozen != 0 {
		t.Errorf("a reorg below frozen kept the arrays (frozen %d)", c.views.frozen)
	}
	c.Reserve(40_000)
	accept(t, c, grow(c.TipHeader(), 10_000, 4))
	if c.index.table == oldTable {
		t.Fatal("the index was not rebuilt")
	}

	for h, w := range want {
		if got := v.InfoAt(int32(h)); got != w {
			t.Fatalf("InfoAt(%d) changed: %+v, want %+v", h, got, w)
		}
		if info, ok := v.Lookup(&w.Hash); !ok || info != w {
			t.Fatalf("Lookup of height %d changed", h)
		}
	}
	if _, tip, _ := c.Tip(); true {
		if _, ok := v.Lookup(&tip); ok {
			t.Error("the view found a header accepted after it")
		}
	}
	if h, tip, _ := v.Tip(); h != 3000 || tip != want[3000].Hash {
		t.Errorf("tip changed to %d %s", h, tip)
	}
	if got := v.Tips(); len(got) != len(wantTips) || got[1] != wantTips[1] {
		t.Errorf("tips changed: %+v", got)
	}
	if len(v.Reorgs()) != 0 || len(c.Reorgs()) != 1 {
		t.Errorf("reorgs: view %d, chain %d", len(v.Reorgs()), len(c.Reorgs()))
	}
	if err := checkView(v, rand.New(rand.NewPCG(3, 4)), 500); err != nil {
		t.Error(err)
	}
	if err := checkView(c.View(), rand.New(rand.NewPCG(5, 6)), 500); err != nil {
		t.Error(err)
	}
}

// TestViewReuseAndBounds: an unchanged chain gives the same view, an
// unchanged fork set the same fork copy, and a view holds at most viewTail
// headers of its own, sharing nothing it could append to.
func TestViewReuseAndBounds(t *testing.T) {
	c := openMem(t)
	v0 := c.View()
	if len(v0.shared) != 0 || len(v0.tail) != 1 || v0.Height() != 0 {
		t.Fatalf("genesis view: %d shared, %d copied", len(v0.shared), len(v0.tail))
	}
	hs := grow(c.TipHeader(), 2000, 1)
	accept(t, c, hs)
	v1 := c.View()
	if v1 == v0 || c.View() != v1 {
		t.Fatal("a view is not reused exactly while the chain is unchanged")
	}
	if len(v1.tail) != viewTail || len(v1.shared) != 2001-viewTail || cap(v1.shared) != len(v1.shared) || cap(v1.cumWork) != len(v1.cumWork) || cap(v1.reorgs) != len(v1.reorgs) {
		t.Errorf("view bounds: %d copied, %d/%d shared, work %d/%d", len(v1.tail), len(v1.shared), cap(v1.shared), len(v1.cumWork), cap(v1.cumWork))
	}
	// Duplicates change nothing.
	if res := accept(t, c, hs[1500:]); res.Duplicates != 500 || c.View() != v1 {
		t.Error("duplicates made a new view")
	}
	// A fork changes the fork copy, not the main chain.
	accept(t, c, grow(*c.HeaderAt(1990), 3, 2))
	v2 := c.View()
	if v2 == v1 || v2.forks == v1.forks || v2.ForkCount() != 3 || v1.ForkCount() != 0 || v2.Height() != v1.Height() {
		t.Error("a fork did not make a new view with a new fork copy")
	}
	// Growth keeps the fork copy.
	accept(t, c, grow(c.TipHeader(), 1, 3))
	if v3 := c.View(); v3 == v2 || v3.forks != v2.forks || v3.Height() != 2001 {
		t.Error("growth did not reuse the fork copy")
	}
}

// TestIndexStaysBoundedThroughReorgs: reorgs leave stale index entries;
// rebuilds drop them, so a chain that reorganizes back and forth forever
// keeps a table of its own size.
func TestIndexStaysBoundedThroughReorgs(t *testing.T) {
	c := openMem(t)
	accept(t, c, grow(c.TipHeader(), 1000, 1))
	// Two branches from 900 take turns: each round the losing one grows
	// one header past the other, and the whole of it goes (back) onto the
	// main chain and into the index.
	base := *c.HeaderAt(900)
	tips := [2]consensus.Header{c.TipHeader(), base}
	lens := [2]int{100, 0}
	const rounds = MaxReorgHistory + 44
	var last *Reorg
	for i := range rounds {
		lose := 1 - i%2
		n := lens[1-lose] - lens[lose] + 1
		b := grow(tips[lose], n, uint64(10+i))
		res := accept(t, c, b)
		if res.Reorg == nil || res.Reorg.ForkHeight != 900 {
			t.Fatalf("round %d: reorg %+v", i, res.Reorg)
		}
		last = res.Reorg
		tips[lose], lens[lose] = b[len(b)-1], lens[lose]+n
	}
	// The history keeps the newest MaxReorgHistory, however many there were.
	if rs := c.Reorgs(); len(rs) != MaxReorgHistory || rs[len(rs)-1] != *last || int(c.Height()) != 900+max(lens[0], lens[1]) {
		t.Fatalf("%d reorgs kept of %d, height %d", len(rs), rounds, c.Height())
	}
	t.Logf("index: %d entries (live and stale) in %d slots for %d headers", c.index.count, len(c.index.table.slots), c.Height()+1)
	if size := len(c.index.table.slots); size > 8*int(c.Height()+1) && size > minIndexSize {
		t.Errorf("index of %d slots for %d headers", size, c.Height()+1)
	}
	if err := checkView(c.View(), rand.New(rand.NewPCG(1, 1)), 2000); err != nil {
		t.Error(err)
	}
	for h := int32(0); h <= c.Height(); h++ {
		hash := c.HashAt(h)
		if got, ok := c.MainHeight(&hash); !ok || got != h {
			t.Fatalf("MainHeight(HashAt(%d)) = %d %v", h, got, ok)
		}
	}
	// The losing branch's headers are forks now, not main-chain headers.
	loser := tips[1-200%2]
	if lh := loser.Hash(); c.Known(&lh) {
		if _, ok := c.MainHeight(&lh); ok {
			t.Error("a stale index entry answered for the main chain")
		}
	}
}
