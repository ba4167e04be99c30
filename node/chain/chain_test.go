package chain

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// end is the fixed "now" of the generated chains: tests are deterministic.
var end = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func regtest() *consensus.Params { return consensus.ParamsFor(protocol.Regtest) }

func gen(n int, seed uint64) []consensus.Header {
	return toConsensus(chaingen.Generate(n, chaingen.Options{End: end, Seed: seed}))
}

func toConsensus(ws []wire.BlockHeader) []consensus.Header {
	out := make([]consensus.Header, len(ws))
	for i := range ws {
		out[i] = consensus.FromWire(&ws[i])
	}
	return out
}

// branch extends the main chain's header at height with n headers.
func branch(t *testing.T, c *Chain, height int32, n int, seed uint64) []consensus.Header {
	t.Helper()
	parent := c.HeaderAt(height).ToWire()
	return toConsensus(chaingen.Extend(parent, parent.Timestamp, n, chaingen.Options{End: end, Seed: seed}))
}

func openMem(t *testing.T) *Chain {
	t.Helper()
	c, writes, err := New(regtest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(writes) != 1 || writes[0].From != 0 || writes[0].Count() != 1 {
		t.Fatalf("a new chain's writes: %+v", writes)
	}
	return c
}

// acceptStored accepts hs and writes the result's writes to s, as the
// engine does.
func acceptStored(t *testing.T, c *Chain, s *Store, hs []consensus.Header) AcceptResult {
	t.Helper()
	res := accept(t, c, hs)
	for _, w := range res.Writes {
		s.Write(w)
	}
	return res
}

func accept(t *testing.T, c *Chain, hs []consensus.Header) AcceptResult {
	t.Helper()
	res, err := c.Accept(hs, nil, end.Unix())
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return res
}

func TestAcceptExtendsMainChain(t *testing.T) {
	c := openMem(t)
	if h, hash, _ := c.Tip(); h != 0 || hash != regtest().GenesisHash {
		t.Fatalf("new chain tip %d %s", h, hash)
	}
	hs := gen(5000, 1)
	res := accept(t, c, hs)
	if res.New != 5000 || !res.TipChanged || res.LastHeight != 5000 || c.Height() != 5000 {
		t.Fatalf("result %+v, height %d", res, c.Height())
	}
	for _, h := range []int32{1, 63, 64, 65, 4999, 5000} {
		want := hs[h-1].Hash()
		if got := c.HashAt(h); got != want {
			t.Errorf("HashAt(%d) = %s, want %s", h, got, want)
		}
		if mh, ok := c.MainHeight(&want); !ok || mh != h {
			t.Errorf("MainHeight(%s) = %d %v", want, mh, ok)
		}
	}
	// Cumulative work is the sum of every header's work.
	var total consensus.U256
	for h := int32(0); h <= c.Height(); h++ {
		total = total.Add(consensus.Work(c.HeaderAt(h).Bits))
		if h%997 == 0 || h == c.Height() {
			if got := c.WorkAt(h); got != total {
				t.Fatalf("WorkAt(%d) = %s, want %s", h, got.Hex(), total.Hex())
			}
		}
	}
	// A repeat of the batch is all duplicates.
	res = accept(t, c, hs[4000:])
	if res.New != 0 || res.Duplicates != 1000 || res.TipChanged {
		t.Errorf("repeat: %+v", res)
	}
}

func TestLocatorAndHeadersAfter(t *testing.T) {
	c := openMem(t)
	accept(t, c, gen(3000, 2))
	loc := c.Locator()
	if loc[0] != c.HashAt(3000) || loc[9] != c.HashAt(2991) || loc[10] != c.HashAt(2989) || loc[len(loc)-1] != c.HashAt(0) {
		t.Errorf("locator shape wrong: %d entries", len(loc))
	}
	if len(loc) > 32 {
		t.Errorf("locator has %d entries", len(loc))
	}
	got := c.HeadersAfter([]chainhash.Hash{c.HashAt(100)}, chainhash.Hash{}, 2000)
	if len(got) != 2000 || got[0] != *c.HeaderAt(101) {
		t.Errorf("HeadersAfter(100): %d headers", len(got))
	}
	if got := c.HeadersAfter([]chainhash.Hash{c.HashAt(2990)}, chainhash.Hash{}, 2000); len(got) != 10 {
		t.Errorf("near the tip: %d headers, want 10", len(got))
	}
	if got := c.HeadersAfter([]chainhash.Hash{c.HashAt(10)}, c.HashAt(15), 2000); len(got) != 5 {
		t.Errorf("with a stop hash: %d headers, want 5", len(got))
	}
	unknown := chainhash.Hash{1}
	if got := c.HeadersAfter([]chainhash.Hash{unknown}, chainhash.Hash{}, 3); len(got) != 3 || got[0] != *c.HeaderAt(1) {
		t.Errorf("unknown locator must start after genesis")
	}
}

func TestForkReorgAndTies(t *testing.T) {
	c := openMem(t)
	accept(t, c, gen(100, 3))
	oldTip := c.HashAt(100)

	// A shorter fork from 90 stays a fork.
	fork := branch(t, c, 90, 5, 4)
	res := accept(t, c, fork)
	if res.TipChanged || res.New != 5 || c.Height() != 100 {
		t.Fatalf("short fork changed the tip: %+v", res)
	}
	tips := c.Tips()
	if len(tips) != 2 || tips[1].BranchLength != 5 || tips[1].Status != "valid-headers" || tips[0].Status != "active" {
		t.Fatalf("tips: %+v", tips)
	}
	if info, ok := c.Lookup(&res.Last); !ok || info.Main || info.Height != 95 {
		t.Errorf("fork header lookup: %+v %v", info, ok)
	}

	// Equal work (10 headers from 90, same bits) does not win: first seen.
	tie := branch(t, c, 90, 10, 5)
	if res := accept(t, c, tie); res.TipChanged {
		t.Fatalf("a tie switched the chain")
	}
	// Extending the first fork past the main chain's work reorganizes.
	tipOfFork := fork[len(fork)-1].ToWire()
	more := toConsensus(chaingen.Extend(tipOfFork, tipOfFork.Timestamp, 6, chaingen.Options{End: end, Seed: 6}))
	res = accept(t, c, more)
	if res.Reorg == nil || res.Reorg.ForkHeight != 90 || res.Reorg.OldTip != oldTip || c.Height() != 101 {
		t.Fatalf("reorg: %+v, height %d", res.Reorg, c.Height())
	}
	if c.HashAt(95) != fork[4].Hash() || c.HashAt(101) != more[5].Hash() {
		t.Errorf("main chain is not the fork")
	}
	// The old main chain is now a fork of 10 headers, still looked up.
	if info, ok := c.Lookup(&oldTip); !ok || info.Main || info.Height != 100 {
		t.Errorf("old tip after reorg: %+v %v", info, ok)
	}
	found := false
	for _, tip := range c.Tips() {
		if tip.Hash == oldTip && tip.BranchLength == 10 {
			found = true
		}
	}
	if !found {
		t.Errorf("old main chain missing from tips: %+v", c.Tips())
	}
	// Reorg back: the old branch extended by 3 wins again (13 > 11).
	old := c.forkHeader(t, oldTip)
	back := toConsensus(chaingen.Extend(old, old.Timestamp, 3, chaingen.Options{End: end, Seed: 7}))
	res = accept(t, c, back)
	if res.Reorg == nil || c.Height() != 103 || c.HashAt(100) != oldTip {
		t.Fatalf("second reorg: %+v height %d", res.Reorg, c.Height())
	}
	if len(c.Reorgs()) != 2 {
		t.Errorf("reorg history %d", len(c.Reorgs()))
	}
}

// forkHeader returns a known header as wire for extending it.
func (c *Chain) forkHeader(t *testing.T, hash chainhash.Hash) wire.BlockHeader {
	t.Helper()
	info, ok := c.Lookup(&hash)
	if !ok {
		t.Fatalf("unknown %s", hash)
	}
	return info.Header.ToWire()
}

func TestAcceptErrorsKeepValidPrefix(t *testing.T) {
	c := openMem(t)
	hs := gen(50, 8)
	bad := append([]consensus.Header(nil), hs...)
	bad[30].Bits = 0x1d00ffff // wrong difficulty for regtest
	res, err := c.Accept(bad, nil, end.Unix())
	var rerr *consensus.RuleError
	if !errors.As(err, &rerr) || rerr.Height != 31 {
		t.Fatalf("want a rule error at height 31, got %v", err)
	}
	if res.New != 30 || c.Height() != 30 {
		t.Errorf("valid prefix: new %d height %d", res.New, c.Height())
	}
	if _, err := c.Accept(hs[40:], nil, end.Unix()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("gap: %v, want ErrNotConnected", err)
	}
	gappy := []consensus.Header{hs[30], hs[32]}
	if _, err := c.Accept(gappy, nil, end.Unix()); !errors.Is(err, ErrNotContinuous) {
		t.Errorf("non-continuous: %v", err)
	}
}

func TestPruneOldForks(t *testing.T) {
	c := openMem(t)
	accept(t, c, gen(10, 9))
	accept(t, c, branch(t, c, 5, 2, 10))
	if c.ForkCount() != 2 {
		t.Fatalf("fork count %d", c.ForkCount())
	}
	tipNow := c.TipHeader()
	tipHeader := tipNow.ToWire()
	accept(t, c, toConsensus(chaingen.Extend(tipHeader, tipHeader.Timestamp, forkKeepDepth+10, chaingen.Options{End: end, Seed: 11})))
	if c.ForkCount() != 0 {
		t.Errorf("a fork %d headers behind was kept (%d nodes)", forkKeepDepth, c.ForkCount())
	}
}

func TestStoreReopenAndCrashSafety(t *testing.T) {
	dir := t.TempDir()
	c, s, err := Open(dir, regtest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := gen(3000, 12)
	acceptStored(t, c, s, hs)
	_, wantTip, wantWork := c.Tip()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c, s, err = Open(dir, regtest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h, tip, work := c.Tip(); h != 3000 || tip != wantTip || work != wantWork {
		t.Fatalf("reopened tip %d %s", h, tip)
	}
	if _, _, err := Open(dir, regtest(), nil); err == nil {
		t.Fatal("a second Open of the same store must fail while it is in use")
	}
	s.Close()

	path := filepath.Join(dir, StoreFile)
	// A torn last record is cut off.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("torn record"))
	f.Close()
	c, s = mustOpen(t, dir)
	if c.Height() != 3000 {
		t.Errorf("after a torn tail: height %d", c.Height())
	}
	s.Close()
	// A flipped bit in record 2000 keeps 0..1999.
	data, _ := os.ReadFile(path)
	data[2000*recordSize+40] ^= 1
	os.WriteFile(path, data, 0o600)
	c, s = mustOpen(t, dir)
	if c.Height() != 1999 || c.HashAt(1999) != hs[1998].Hash() {
		t.Errorf("after corruption: height %d", c.Height())
	}
	// The chain goes on from there.
	acceptStored(t, c, s, hs[1999:])
	s.Close()
	if c, s = mustOpen(t, dir); c.Height() != 3000 {
		t.Errorf("after resync: height %d", c.Height())
	}
	s.Close()
	// A store of another network is refused.
	if _, _, err := Open(dir, consensus.ParamsFor(protocol.Mainnet), nil); err == nil {
		t.Error("opening a regtest store as mainnet must fail")
	} else if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "wrong data folder") {
		t.Errorf("wrong network: %v", err)
	}
}

func TestStoreKeepsReorg(t *testing.T) {
	dir := t.TempDir()
	c, s := mustOpen(t, dir)
	acceptStored(t, c, s, gen(100, 13))
	res := acceptStored(t, c, s, branch(t, c, 80, 30, 14))
	// The branch wins at its 21st header (height 101): the reorg's write
	// puts 81..101 in place of 81..100, then the rest is appended.
	if ws := res.Writes; res.Reorg == nil || len(ws) != 2 || ws[0].From != 81 || ws[0].Count() != 21 || ws[1].From != 102 || ws[1].Count() != 9 {
		t.Fatalf("reorg writes: %d", len(res.Writes))
	}
	_, tip, _ := c.Tip()
	s.Close()
	c, s = mustOpen(t, dir)
	defer s.Close()
	if h, got, _ := c.Tip(); h != 110 || got != tip {
		t.Errorf("reopened after reorg: %d %s, want 110 %s", h, got, tip)
	}
}

func mustOpen(t *testing.T, dir string) (*Chain, *Store) {
	t.Helper()
	c, s, err := Open(dir, regtest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}
