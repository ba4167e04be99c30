package p2p

import (
	"cmp"
	"container/heap"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Ban is an address the node refuses to connect to or accept from.
type Ban struct {
	Addr    string    `json:"addr"` // an IP address, without port
	Reason  string    `json:"reason"`
	Created time.Time `json:"created"`
	Until   time.Time `json:"until"`
	// Manual bans come from the operator and are persisted; the others are
	// discouragements of misbehaving peers, kept in memory for 24 h.
	Manual bool `json:"manual"`
}

// banList holds manual bans (persisted by SaveBans jobs) and
// discouragements (memory only, as Bitcoin Core keeps its discouragement
// filter). Keys are IPs: a peer that misbehaves is refused whatever port it
// comes from.
//
// Discouragements are made by remote peers (one per misbehaving address,
// and IPv6 addresses cost an attacker nothing), so at most maxDiscouraged
// are kept: past that, the one expiring soonest is forgotten. expiry finds
// it without a scan; it may hold stale items (an address discouraged again,
// unbanned, pruned or banned by the operator since), which are skipped when
// popped and dropped when prune rebuilds it.
type banList struct {
	entries     map[netip.Addr]Ban
	discouraged int // entries that are not manual
	expiry      expiryHeap
}

// expiryItem is a discouragement's address and the expiry it had when
// pushed; it is stale once the entry under ip no longer has that expiry.
type expiryItem struct {
	until time.Time
	ip    netip.Addr
}

// expiryHeap is a min-heap of discouragements by expiry (container/heap).
type expiryHeap []expiryItem

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryItem)) }
func (h *expiryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func newBanList(manual []Ban) (*banList, error) {
	b := &banList{entries: make(map[netip.Addr]Ban)}
	for _, ban := range manual {
		ip, err := ParseBanAddr(ban.Addr)
		if err != nil {
			return nil, fmt.Errorf("ban list: %w", err)
		}
		ban.Manual = true
		b.entries[ip] = ban
	}
	return b, nil
}

// ParseBanAddr accepts an IP address with or without a port (an IPv6
// address may be in brackets).
func ParseBanAddr(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address: %w", s, err)
	}
	return ip.Unmap(), nil
}

// banned returns the ban in force for ip at now, if any.
func (b *banList) banned(ip netip.Addr, now time.Time) (Ban, bool) {
	ban, ok := b.entries[ip.Unmap()]
	if !ok || !now.Before(ban.Until) {
		return Ban{}, false
	}
	return ban, true
}

// add records a ban and reports whether the manual list changed (and so
// must be saved).
func (b *banList) add(ip netip.Addr, reason string, manual bool, now time.Time, d time.Duration) (Ban, bool) {
	ip = ip.Unmap()
	ban := Ban{Addr: ip.String(), Reason: reason, Created: now, Until: now.Add(d), Manual: manual}
	if old, ok := b.entries[ip]; ok && old.Manual && !manual && now.Before(old.Until) {
		return old, false // a discouragement never shortens a manual ban in force
	}
	old, had := b.entries[ip]
	if had && !old.Manual {
		b.discouraged--
	}
	if !manual {
		if !had || old.Manual {
			b.evictFor()
		}
		b.discouraged++
		heap.Push(&b.expiry, expiryItem{until: ban.Until, ip: ip})
	}
	b.entries[ip] = ban
	return ban, manual
}

// evictFor makes room for one more discouragement by forgetting the one
// expiring soonest while maxDiscouraged are kept.
func (b *banList) evictFor() {
	for b.discouraged >= maxDiscouraged && b.expiry.Len() > 0 {
		it := heap.Pop(&b.expiry).(expiryItem)
		if e, ok := b.entries[it.ip]; ok && !e.Manual && e.Until.Equal(it.until) {
			delete(b.entries, it.ip)
			b.discouraged--
		}
	}
}

// remove lifts a ban; it reports whether there was one and whether the
// manual list changed.
func (b *banList) remove(ip netip.Addr) (found, manual bool) {
	ban, ok := b.entries[ip.Unmap()]
	if !ok {
		return false, false
	}
	delete(b.entries, ip.Unmap())
	if !ban.Manual {
		b.discouraged--
	}
	return true, ban.Manual
}

// prune forgets the bans that ran out by now, and rebuilds the expiry heap
// from the discouragements left, which drops its stale items.
func (b *banList) prune(now time.Time) {
	b.expiry = b.expiry[:0]
	for ip, ban := range b.entries {
		switch {
		case !now.Before(ban.Until):
			delete(b.entries, ip)
			if !ban.Manual {
				b.discouraged--
			}
		case !ban.Manual:
			b.expiry = append(b.expiry, expiryItem{until: ban.Until, ip: ip})
		}
	}
	heap.Init(&b.expiry)
}

// check verifies the discouragement count and its bound.
func (b *banList) check() error {
	n := 0
	for _, ban := range b.entries {
		if !ban.Manual {
			n++
		}
	}
	if n != b.discouraged {
		return fmt.Errorf("ban list: %d discouragements, counted %d", n, b.discouraged)
	}
	if n > maxDiscouraged {
		return fmt.Errorf("ban list: %d discouragements (bound %d)", n, maxDiscouraged)
	}
	if b.expiry.Len() < n {
		return fmt.Errorf("ban list: %d discouragements but %d in the expiry heap", n, b.expiry.Len())
	}
	return nil
}

// list returns the bans in force, sorted by address.
func (b *banList) list(now time.Time) []Ban {
	out := make([]Ban, 0, len(b.entries))
	for _, ban := range b.entries {
		if now.Before(ban.Until) {
			out = append(out, ban)
		}
	}
	slices.SortFunc(out, func(x, y Ban) int { return cmp.Compare(x.Addr, y.Addr) })
	return out
}

// manual returns the operator's bans, for saving.
func (b *banList) manual() []Ban {
	out := []Ban{}
	for _, ban := range b.entries {
		if ban.Manual {
			out = append(out, ban)
		}
	}
	slices.SortFunc(out, func(x, y Ban) int { return cmp.Compare(x.Addr, y.Addr) })
	return out
}
