package chain

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestInvalidateFallsBackToBestValidBranch: marking a main-chain block
// invalid takes it and everything above it off the main chain; the chain
// follows the fork with the most work that does not contain it; headers
// building on it are refused; the store, fed the writes, holds exactly the
// new main chain.
func TestInvalidateFallsBackToBestValidBranch(t *testing.T) {
	s, _, err := OpenStore(filepath.Join(t.TempDir(), StoreFile), nil, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, writes, err := New(regtest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range writes {
		s.Write(w)
	}
	main := gen(30, 1)
	acceptStored(t, c, s, main)
	// A fork from height 10, shorter than the main chain: it loses now.
	fork := branch(t, c, 10, 12, 2)
	acceptStored(t, c, s, fork)
	// A fork from height 20: it builds on block 15 and must go with it.
	above := branch(t, c, 20, 5, 3)
	acceptStored(t, c, s, above)
	if c.Height() != 30 {
		t.Fatalf("height %d before invalidating, want 30", c.Height())
	}
	bad := c.HashAt(15)
	res := c.Invalidate(bad)
	for _, w := range res.Writes {
		s.Write(w)
	}
	if res.Removed != 16 || res.Reorg == nil || res.Reorg.ForkHeight != 10 {
		t.Fatalf("invalidate result: removed %d, reorg %+v; want 16 removed and a fork point at 10", res.Removed, res.Reorg)
	}
	if h, tip, _ := c.Tip(); h != 22 || tip != fork[len(fork)-1].Hash() {
		t.Fatalf("tip %d %s after invalidating block 15, want the fork's tip at 22", h, tip)
	}
	for _, n := range c.forks.nodes {
		if forkPoint(n) >= 15 {
			t.Fatalf("fork node %s at %d builds on the invalid block and was kept", n.hash, n.height)
		}
	}
	if !c.IsInvalid(&bad) {
		t.Fatal("the invalid block is not marked")
	}
	// The invalid block and its children are refused.
	if _, err := c.Accept(main[14:16], nil, end.Unix()); !errors.Is(err, ErrInvalidAncestor) {
		t.Fatalf("re-offering the invalid block: %v, want ErrInvalidAncestor", err)
	}
	if _, err := c.Accept(main[15:17], nil, end.Unix()); !errors.Is(err, ErrInvalidAncestor) {
		t.Fatalf("offering a child of the invalid block: %v, want ErrInvalidAncestor", err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	stored, err := ReadStore(filepath.Join(filepath.Dir(s.path), StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 23 || stored[22].Hash() != fork[len(fork)-1].Hash() {
		t.Fatalf("store holds %d headers, want the new main chain of 23", len(stored))
	}
	// Invalidating a block on a fork only removes the fork.
	c2 := openMem(t)
	accept(t, c2, main)
	f2 := branch(t, c2, 5, 3, 4)
	accept(t, c2, f2)
	if res := c2.Invalidate(f2[0].Hash()); res.Removed != 0 || len(res.Writes) != 0 || c2.ForkCount() != 0 || c2.Height() != 30 {
		t.Fatalf("invalidating a fork block: %+v, forks %d, height %d", res, c2.ForkCount(), c2.Height())
	}
}
