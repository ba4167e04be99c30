package p2p

import (
	"cmp"
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
type banList struct {
	entries map[netip.Addr]Ban
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
	b.entries[ip] = ban
	return ban, manual
}

// remove lifts a ban; it reports whether there was one and whether the
// manual list changed.
func (b *banList) remove(ip netip.Addr) (found, manual bool) {
	ban, ok := b.entries[ip.Unmap()]
	if !ok {
		return false, false
	}
	delete(b.entries, ip.Unmap())
	return true, ban.Manual
}

// prune forgets the bans that ran out by now.
func (b *banList) prune(now time.Time) {
	for ip, ban := range b.entries {
		if !now.Before(ban.Until) {
			delete(b.entries, ip)
		}
	}
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
