package p2p

import (
	"slices"
	"time"

	"github.com/watchnode/watchnode/node/addrman"
)

// makeInboundRoom reports whether an inbound connection can be admitted,
// evicting one inbound peer if the slots are full.
//
// Eviction policy (a simplified form of Bitcoin Core's
// AttemptToEvictConnection): outbound and manual peers are never evicted.
// Among inbound peers, protect the 4 with the lowest minimum ping, then the
// 4 connected longest among the rest; from the remaining candidates, take
// the network group with the most connections and evict its most recently
// connected peer.
func (c *Core) makeInboundRoom() bool {
	inbound := 0
	var cands []*peerState
	for _, id := range c.order {
		if p := c.peers[id]; p.inbound() {
			inbound++
			cands = append(cands, p)
		}
	}
	if inbound < c.maxInbound() {
		return true
	}
	victim := pickEviction(cands)
	if victim == nil {
		return false
	}
	c.drop(victim, Because(DropEvicted, "evicted to make room for a new inbound peer"))
	return true
}

// pickEviction applies the eviction policy to the inbound peers.
func pickEviction(cands []*peerState) *peerState {
	cands = slices.Clone(cands)
	// Protect the fastest: peers with a measured ping, lowest first.
	slices.SortStableFunc(cands, func(a, b *peerState) int {
		return cmpPing(a.minPing, b.minPing)
	})
	cands = cands[min(4, countMeasured(cands)):]
	// Protect the longest-connected.
	slices.SortStableFunc(cands, func(a, b *peerState) int { return a.connectedAt.Compare(b.connectedAt) })
	cands = cands[min(4, len(cands)):]
	if len(cands) == 0 {
		return nil
	}
	groups := make(map[string][]*peerState)
	for _, p := range cands {
		g := addrman.NetGroup(p.addr.Addr())
		groups[g] = append(groups[g], p)
	}
	var biggest []*peerState
	for _, g := range groups {
		if len(g) > len(biggest) || (len(g) == len(biggest) && g[0].id < biggest[0].id) {
			biggest = g
		}
	}
	return slices.MaxFunc(biggest, func(a, b *peerState) int { return a.connectedAt.Compare(b.connectedAt) })
}

func cmpPing(a, b time.Duration) int {
	switch {
	case a == b:
		return 0
	case a == 0:
		return 1
	case b == 0:
		return -1
	case a < b:
		return -1
	}
	return 1
}

func countMeasured(ps []*peerState) int {
	n := 0
	for _, p := range ps {
		if p.minPing > 0 {
			n++
		}
	}
	return n
}
