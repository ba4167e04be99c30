package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/watchnode/watchnode/internal/atomicfile"
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

// banList holds manual bans (persisted) and discouragements (memory only,
// as Bitcoin Core keeps its discouragement filter). Keys are IPs: a peer that
// misbehaves is refused whatever port it comes from.
type banList struct {
	path    string // empty: not persisted
	entries map[netip.Addr]Ban
}

type banFile struct {
	Version int   `json:"version"`
	Bans    []Ban `json:"bans"`
}

const banFileVersion = 1

// loadBans reads the manual bans from path; a missing file is an empty list.
func loadBans(path string) (*banList, error) {
	b := &banList{path: path, entries: make(map[netip.Addr]Ban)}
	if path == "" {
		return b, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading ban list: %w", err)
	}
	var f banFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("ban list %s is not valid JSON: %w", path, err)
	}
	if f.Version != banFileVersion {
		return nil, fmt.Errorf("ban list %s has version %d, want %d", path, f.Version, banFileVersion)
	}
	for _, ban := range f.Bans {
		ip, err := ParseBanAddr(ban.Addr)
		if err != nil {
			return nil, fmt.Errorf("ban list %s: %w", path, err)
		}
		ban.Manual = true
		b.entries[ip] = ban
	}
	return b, nil
}

// ParseBanAddr accepts an IP address with or without a port.
func ParseBanAddr(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	ip, err := netip.ParseAddr(s)
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

// add records a ban; manual ones are saved at once so a crash keeps them.
func (b *banList) add(ip netip.Addr, reason string, manual bool, now time.Time, d time.Duration) (Ban, error) {
	ip = ip.Unmap()
	ban := Ban{Addr: ip.String(), Reason: reason, Created: now, Until: now.Add(d), Manual: manual}
	if old, ok := b.entries[ip]; ok && old.Manual && !manual && now.Before(old.Until) {
		return old, nil // a discouragement never shortens a manual ban in force
	}
	b.entries[ip] = ban
	if manual {
		return ban, b.save()
	}
	return ban, nil
}

// remove lifts a ban; it reports whether there was one.
func (b *banList) remove(ip netip.Addr) (bool, error) {
	ban, ok := b.entries[ip.Unmap()]
	if !ok {
		return false, nil
	}
	delete(b.entries, ip.Unmap())
	if ban.Manual {
		return true, b.save()
	}
	return true, nil
}

// list returns the bans in force, sorted by address.
func (b *banList) list(now time.Time) []Ban {
	out := make([]Ban, 0, len(b.entries))
	for ip, ban := range b.entries {
		if !now.Before(ban.Until) {
			delete(b.entries, ip)
			continue
		}
		out = append(out, ban)
	}
	slices.SortFunc(out, func(a, b Ban) int {
		if a.Addr < b.Addr {
			return -1
		}
		if a.Addr > b.Addr {
			return 1
		}
		return 0
	})
	return out
}

// save writes the manual bans atomically: temp file, fsync, rename.
func (b *banList) save() error {
	if b.path == "" {
		return nil
	}
	f := banFile{Version: banFileVersion, Bans: []Ban{}}
	for _, ban := range b.entries {
		if ban.Manual {
			f.Bans = append(f.Bans, ban)
		}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding ban list: %w", err)
	}
	return atomicfile.Write(b.path, data)
}
