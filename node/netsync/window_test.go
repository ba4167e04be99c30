package netsync

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/p2p"
)

// fakeWindowChain is a best chain of n blocks whose hash at height h is
// {h low byte, h high byte, 1}, and the set of blocks held.
type fakeWindowChain struct {
	n    int32
	have map[chainhash.Hash]bool
}

func newFakeWindowChain(n int32) *fakeWindowChain {
	return &fakeWindowChain{n: n, have: map[chainhash.Hash]bool{}}
}

func heightHash(h int32) chainhash.Hash { return chainhash.Hash{byte(h), byte(h >> 8), 1} }

func (c *fakeWindowChain) MainHash(h int32) (chainhash.Hash, bool) {
	if h < 0 || h > c.n {
		return chainhash.Hash{}, false
	}
	return heightHash(h), true
}

func (c *fakeWindowChain) HaveBlock(hash chainhash.Hash) bool { return c.have[hash] }

func heights(rs []*blockRequest) []int32 {
	out := make([]int32, len(rs))
	for i, r := range rs {
		out[i] = r.Height
	}
	return out
}

func checkWindow(t *testing.T, w *blockWindow) {
	t.Helper()
	if err := w.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestWindowSpreadsOverPeers: each peer gets the lowest 16 blocks nobody
// else was asked for, and the global index names who has which.
func TestWindowSpreadsOverPeers(t *testing.T) {
	w, ch := newBlockWindow(0), newFakeWindowChain(2000)
	for id := p2p.PeerID(1); id <= 3; id++ {
		w.addPeer(id, false)
		got := w.next(t0, id, 2000, 0, ch)
		if len(got) != MaxBlocksInFlightPerPeer || got[0].Height != int32(id-1)*16+1 || got[15].Height != int32(id)*16 {
			t.Fatalf("peer %d got %v", id, heights(got))
		}
		if !strings.Contains(got[0].Why, "lowest block of the window") {
			t.Fatalf("why: %q", got[0].Why)
		}
	}
	if r := w.inFlight[heightHash(20)]; r == nil || r.Peer != 2 || !r.Asked.Equal(t0) {
		t.Fatalf("index entry for block 20: %+v", r)
	}
	if again := w.next(t0, 1, 2000, 0, ch); len(again) != 0 {
		t.Fatalf("a full peer got %v more", heights(again))
	}
	checkWindow(t, w)
}

// TestWindowOnlyAsksWhatThePeerHas: a peer's best known header caps what it
// is asked; a NODE_NETWORK_LIMITED peer is asked only for its last 288
// blocks; blocks held are skipped.
func TestWindowOnlyAsksWhatThePeerHas(t *testing.T) {
	w, ch := newBlockWindow(0), newFakeWindowChain(2000)
	w.addPeer(1, false)
	if got := w.next(t0, 1, 5, 0, ch); len(got) != 5 || got[4].Height != 5 {
		t.Fatalf("peer with 5 blocks got %v", heights(got))
	}
	w.addPeer(2, true)
	got := w.next(t0, 2, 1000, 0, ch)
	if len(got) != 16 || got[0].Height != 1000-NetworkLimitedBlocks+1 {
		t.Fatalf("limited peer got %v, want from %d", heights(got), 1000-NetworkLimitedBlocks+1)
	}
	ch.have[heightHash(6)] = true
	w.addPeer(3, false)
	if got := w.next(t0, 3, 2000, 0, ch); got[0].Height != 7 {
		t.Fatalf("a held block was asked again: %v", heights(got))
	}
	checkWindow(t, w)
}

// TestWindowStallerDroppedAndTimeoutAdapts: when the whole window is
// received but its first blocks sit with one peer, another peer that could
// help marks that peer stalling; after the stall timeout it is dropped,
// the timeout doubles, its blocks go to the other peer, and connected
// blocks bring the timeout back down to 2 s.
func TestWindowStallerDroppedAndTimeoutAdapts(t *testing.T) {
	w, ch := newBlockWindow(0), newFakeWindowChain(3000)
	w.addPeer(1, false)
	w.addPeer(2, false)
	if got := w.next(t0, 1, 3000, 0, ch); got[0].Height != 1 {
		t.Fatalf("staller got %v", heights(got))
	}
	for h := int32(17); h <= BlockDownloadWindow; h++ {
		ch.have[heightHash(h)] = true
	}
	if got := w.next(t0.Add(time.Second), 2, 3000, 0, ch); len(got) != 0 {
		t.Fatalf("peer 2 got %v from a full window", heights(got))
	}
	if drops := w.expire(t0.Add(3 * time.Second)); len(drops) != 0 {
		t.Fatalf("dropped at exactly the timeout: %+v", drops)
	}
	drops := w.expire(t0.Add(3*time.Second + time.Millisecond))
	if len(drops) != 1 || drops[0].Peer != 1 || !drops[0].Stall || !strings.Contains(drops[0].Reason, "block download stalled") || !strings.Contains(drops[0].Reason, "block 1 ") {
		t.Fatalf("drops %+v, want peer 1 stalling on block 1", drops)
	}
	if w.stallTimeout != 4*time.Second {
		t.Fatalf("stall timeout %s after a stall, want 4s", w.stallTimeout)
	}
	released := w.removePeer(1)
	if len(released) != 16 {
		t.Fatalf("%d blocks released", len(released))
	}
	if got := w.next(t0.Add(4*time.Second), 2, 3000, 0, ch); len(got) != 16 || got[0].Height != 1 {
		t.Fatalf("peer 2 got %v after the staller went", heights(got))
	}
	for range 5 {
		w.connectedBlock(1)
	}
	if w.stallTimeout != StallTimeoutMin {
		t.Fatalf("stall timeout %s after connected blocks, want %s", w.stallTimeout, StallTimeoutMin)
	}
	// Doubling stops at the maximum.
	for range 10 {
		w.peers[2].stallingSince = t0
		w.expire(t0.Add(time.Hour))
	}
	if w.stallTimeout != StallTimeoutMax {
		t.Fatalf("stall timeout %s after many stalls, want %s", w.stallTimeout, StallTimeoutMax)
	}
	checkWindow(t, w)
}

// TestWindowBlockTimeout: a peer's oldest block must come within 10 minutes
// plus 5 per other peer downloading; a delivered block restarts the clock.
func TestWindowBlockTimeout(t *testing.T) {
	w, ch := newBlockWindow(0), newFakeWindowChain(2000)
	w.addPeer(1, false)
	w.next(t0, 1, 2000, 0, ch)
	if !w.received(t0.Add(5*time.Minute), 1, heightHash(1), 1000) {
		t.Fatal("block 1 was not matched to its request")
	}
	if d := w.expire(t0.Add(14 * time.Minute)); len(d) != 0 {
		t.Fatalf("dropped within 10 minutes of the last delivery: %+v", d)
	}
	if d := w.expire(t0.Add(15*time.Minute + time.Second)); len(d) != 1 || d[0].Stall || !strings.Contains(d[0].Reason, "block 2 not delivered within 10m0s") {
		t.Fatalf("drops %+v, want a timeout of block 2", d)
	}
	w.addPeer(2, false)
	w.next(t0, 2, 2000, 0, ch)
	if d := w.expire(t0.Add(15*time.Minute + time.Second)); len(d) != 1 || d[0].Peer != 2 {
		t.Fatalf("with two peers downloading: %+v, want only peer 2 (15 minutes since t0)", d)
	}
}

// TestWindowNotFoundRoutesAround: a block a peer says it lacks goes to
// another peer and is never asked of that peer again, until it connects.
func TestWindowNotFoundRoutesAround(t *testing.T) {
	w, ch := newBlockWindow(0), newFakeWindowChain(2000)
	w.addPeer(1, false)
	w.next(t0, 1, 2000, 0, ch)
	if !w.notFound(t0, 1, heightHash(3)) {
		t.Fatal("notfound for an asked block not matched")
	}
	if w.notFound(t0, 1, heightHash(3)) || w.notFound(t0, 2, heightHash(4)) {
		t.Fatal("notfound matched a block not asked of that peer")
	}
	if got := w.next(t0, 1, 2000, 0, ch); len(got) != 1 || got[0].Height != 17 {
		t.Fatalf("peer 1 got %v, want only 17", heights(got))
	}
	w.addPeer(2, false)
	if got := w.next(t0, 2, 2000, 0, ch); got[0].Height != 3 {
		t.Fatalf("peer 2 got %v, want 3 first", heights(got))
	}
	w.connectedBlock(3)
	if len(w.peers[1].notFound) != 0 {
		t.Fatal("the not-found mark outlived its block's connection")
	}
	checkWindow(t, w)
}

// TestWindowUnsolicitedAndWrongPeer: a block nobody asked for, or asked of
// another peer, matches nothing and changes nothing.
func TestWindowUnsolicitedAndWrongPeer(t *testing.T) {
	w, ch := newBlockWindow(0), newFakeWindowChain(2000)
	w.addPeer(1, false)
	w.addPeer(2, false)
	w.next(t0, 1, 2000, 0, ch)
	if w.received(t0, 2, heightHash(1), 100) || w.received(t0, 1, heightHash(500), 100) {
		t.Fatal("an unsolicited block matched")
	}
	if w.pending != 0 || len(w.inFlight) != 16 {
		t.Fatalf("pending %d, in flight %d after unsolicited blocks", w.pending, len(w.inFlight))
	}
}

// TestWindowPendingBytesBound: blocks are asked only while those pending
// and those in flight, at the mean block cost, fit the bound; with nothing
// in flight and the bound not reached one block may still be asked, so a
// bound smaller than a block cannot stall the download.
func TestWindowPendingBytesBound(t *testing.T) {
	const cost = 1000
	w, ch := newBlockWindow(20*cost), newFakeWindowChain(2000)
	w.meanCost = cost // as after many blocks of this cost
	w.addPeer(1, false)
	w.addPeer(2, false)
	if got := w.next(t0, 1, 2000, 0, ch); len(got) != 16 {
		t.Fatalf("peer 1 asked %d blocks, want 16", len(got))
	}
	if got := w.next(t0, 2, 2000, 0, ch); len(got) != 4 {
		t.Fatalf("peer 2 asked %d blocks with 16 of 20 blocks' worth in flight, want 4", len(got))
	}
	for h := int32(1); h <= 16; h++ {
		w.received(t0, 1, heightHash(h), cost)
	}
	// 16 pending and 4 in flight: the bound is reached.
	if got := w.next(t0, 1, 2000, 0, ch); len(got) != 0 {
		t.Fatalf("asked %v with the bound reached", heights(got))
	}
	w.stored(10 * cost)
	if got := w.next(t0, 1, 2000, 0, ch); len(got) != 10 {
		t.Fatalf("asked %v after 10 blocks were stored, want 10 blocks", heights(got))
	}
	if w.pending+len(w.inFlight)*cost > w.maxPending {
		t.Fatalf("pending %d and %d in flight exceed the bound %d", w.pending, len(w.inFlight), w.maxPending)
	}

	// A bound below one block still lets the download go on.
	small, ch2 := newBlockWindow(cost/2), newFakeWindowChain(10)
	small.meanCost = cost
	small.addPeer(1, false)
	if got := small.next(t0, 1, 10, 0, ch2); len(got) != 1 {
		t.Fatalf("with a bound below one block and nothing in flight, %d blocks were asked, want 1", len(got))
	}
}

// TestWindowRandomized runs random sequences of asks, deliveries,
// notfounds, drops, connections and expiries over many peers, checking the
// invariants after every step and that every request ends exactly once
// (delivered, not found, or released with its peer).
func TestWindowRandomized(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed))
		w, ch := newBlockWindow(0), newFakeWindowChain(5000)
		now := t0
		connected := int32(0)
		open := map[*blockRequest]bool{}
		for step := range 5000 {
			now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
			id := p2p.PeerID(1 + rng.IntN(8))
			switch rng.IntN(6) {
			case 0:
				w.addPeer(id, rng.IntN(4) == 0)
			case 1:
				for _, r := range w.next(now, id, int32(rng.IntN(5000)), connected, ch) {
					open[r] = true
				}
			case 2, 3:
				for r := range open {
					if r.Peer == id {
						if rng.IntN(5) == 0 {
							w.notFound(now, id, r.Hash)
						} else {
							w.received(now, id, r.Hash, 1000)
							ch.have[r.Hash] = true
							w.stored(1000)
						}
						delete(open, r)
						break
					}
				}
			case 4:
				for _, r := range w.removePeer(id) {
					if !open[r] {
						t.Fatalf("seed %d step %d: released a request that already ended", seed, step)
					}
					delete(open, r)
				}
			case 5:
				for _, d := range w.expire(now) {
					for _, r := range w.removePeer(d.Peer) {
						delete(open, r)
					}
				}
				for connected < ch.n && ch.have[heightHash(connected+1)] {
					connected++
					w.connectedBlock(connected)
				}
			}
			if err := w.checkInvariants(); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			if len(open) != len(w.inFlight) {
				t.Fatalf("seed %d step %d: %d requests open, %d in the index", seed, step, len(open), len(w.inFlight))
			}
		}
		if connected == 0 {
			t.Fatalf("seed %d: nothing connected in 5000 steps", seed)
		}
	}
}
