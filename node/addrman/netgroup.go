package addrman

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
)

// Network classes used as the first byte of an address group. Keeping the
// class in the group means an IPv4 /16 can never hash like an IPv6 /32 that
// happens to share its leading bytes.
const (
	groupUnroutable byte = 0
	groupIPv4       byte = 1
	groupIPv6       byte = 2
	groupLocal      byte = 3
)

// Address ranges that are never routable on the public internet. The list
// follows Core's CNetAddr::IsRoutable/IsValid (RFC 1918, 2544, 3927, 4862,
// 6598, 5737, 4193, 4843, 7343, 3849) plus multicast and reserved space,
// which Core rejects elsewhere. Loopback and 0.0.0.0/8 are handled by isLocal
// because Core gives them their own group.
var unroutable = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),      // RFC1918
	netip.MustParsePrefix("172.16.0.0/12"),   // RFC1918
	netip.MustParsePrefix("192.168.0.0/16"),  // RFC1918
	netip.MustParsePrefix("198.18.0.0/15"),   // RFC2544 benchmarking
	netip.MustParsePrefix("169.254.0.0/16"),  // RFC3927 link-local
	netip.MustParsePrefix("100.64.0.0/10"),   // RFC6598 shared CGN space
	netip.MustParsePrefix("192.0.2.0/24"),    // RFC5737 TEST-NET-1
	netip.MustParsePrefix("198.51.100.0/24"), // RFC5737 TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // RFC5737 TEST-NET-3
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, includes broadcast
	netip.MustParsePrefix("fe80::/64"),       // RFC4862 link-local
	netip.MustParsePrefix("fc00::/7"),        // RFC4193 unique local (and old OnionCat)
	netip.MustParsePrefix("2001:10::/28"),    // RFC4843 ORCHID
	netip.MustParsePrefix("2001:20::/28"),    // RFC7343 ORCHIDv2
	netip.MustParsePrefix("2001:db8::/32"),   // RFC3849 documentation
	netip.MustParsePrefix("ff00::/8"),        // multicast
}

// isLocal reports loopback and "this network" addresses, which Core's
// IsLocal puts in one group of their own.
func isLocal(ip netip.Addr) bool {
	return ip.IsLoopback() || (ip.Is4() && ip.As4()[0] == 0)
}

// isRoutable reports whether ip could be a peer on the public internet. ip
// must already be unmapped.
func isRoutable(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsUnspecified() || isLocal(ip) || ip.Zone() != "" {
		return false
	}
	for _, p := range unroutable {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// dialable reports whether ap is an address a dial could ever succeed on,
// whatever the network: AllowLocal relaxes routability, never this.
func dialable(ap netip.AddrPort) bool {
	ip := ap.Addr()
	return ip.IsValid() && ip.Zone() == "" && !ip.IsUnspecified() &&
		!ip.IsMulticast() && ip != netip.AddrFrom4([4]byte{255, 255, 255, 255}) &&
		ap.Port() != 0
}

// normalize makes IPv4-mapped IPv6 addresses plain IPv4, so that one peer
// never appears under two map keys.
func normalize(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// appendGroup appends the length-prefixed address group of ip to dst. The
// NetGroup returns an opaque key naming ip's network group (see
// appendGroup); the engine uses it to keep outbound peers and eviction
// candidates diverse, with the same grouping the address book buckets by.
func NetGroup(ip netip.Addr) string { return string(appendGroup(nil, ip)) }

// appendGroup is Core's simplified netgroup: /16 for IPv4, /32 for IPv6, one group
// for all local addresses (and for the invalid "no source" address of a
// manual add, which Core also treats as local), one for all other
// unroutable ones. Bucketing by group is what stops one operator with many
// addresses in one range from filling the tables.
func appendGroup(dst []byte, ip netip.Addr) []byte {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid() || isLocal(ip):
		return append(dst, 1, groupLocal)
	case !isRoutable(ip):
		return append(dst, 1, groupUnroutable)
	case ip.Is4():
		a := ip.As4()
		return append(dst, 3, groupIPv4, a[0], a[1])
	default:
		a := ip.As16()
		return append(dst, 5, groupIPv6, a[0], a[1], a[2], a[3])
	}
}

// appendAddrKey appends Core's GetKey equivalent: the 16-byte IP and the
// big-endian port, so that two ports on one host are different entries.
func appendAddrKey(dst []byte, ap netip.AddrPort) []byte {
	a := ap.Addr().Unmap().As16()
	dst = append(dst, a[:]...)
	return binary.BigEndian.AppendUint16(dst, ap.Port())
}

// Domain tags keep the different keyed hashes apart, so that no input to one
// can be crafted to equal an input to another.
const (
	tagTried1 byte = 'T'
	tagTried2 byte = 't'
	tagNew1   byte = 'N'
	tagNew2   byte = 'n'
	tagPosNew byte = 'P'
	tagPosTry byte = 'K'
)

// keyedHash is Core's GetCheapHash of a keyed SHA-256: the first 8 bytes of
// SHA-256(key || msg), little endian. The secret key is what keeps an
// attacker from predicting which bucket an address lands in and so from
// aiming many addresses at one bucket to evict honest ones.
func (m *Manager) keyedHash(msg []byte) uint64 {
	var buf [128]byte
	b := append(buf[:0], m.key[:]...)
	b = append(b, msg...)
	sum := sha256.Sum256(b)
	return binary.LittleEndian.Uint64(sum[:8])
}

// triedBucket places ap in one of triedBucketsPerGroup buckets chosen by its
// group, so one group can occupy at most that many of the tried buckets.
func (m *Manager) triedBucket(ap netip.AddrPort) int {
	var buf [64]byte
	b := appendAddrKey(append(buf[:0], tagTried1), ap)
	h1 := m.keyedHash(b) % triedBucketsPerGroup
	b = appendGroup(append(buf[:0], tagTried2), ap.Addr())
	b = binary.LittleEndian.AppendUint64(b, h1)
	return int(m.keyedHash(b) % triedBucketCount)
}

// newBucket places ap in one of newBucketsPerSourceGroup buckets chosen by
// the group of whoever told us about it, so one source group (one gossiping
// attacker) can fill at most that many new buckets.
func (m *Manager) newBucket(ap netip.AddrPort, source netip.Addr) int {
	var buf [64]byte
	b := appendGroup(append(buf[:0], tagNew1), ap.Addr())
	b = appendGroup(b, source)
	h1 := m.keyedHash(b) % newBucketsPerSourceGroup
	b = appendGroup(append(buf[:0], tagNew2), source)
	b = binary.LittleEndian.AppendUint64(b, h1)
	return int(m.keyedHash(b) % newBucketCount)
}

// slotIn picks the slot of ap within bucket; the tag keeps new and tried
// positions independent.
func (m *Manager) slotIn(tag byte, bucket int, ap netip.AddrPort) int {
	var buf [64]byte
	b := binary.LittleEndian.AppendUint32(append(buf[:0], tag), uint32(bucket))
	b = appendAddrKey(b, ap)
	return int(m.keyedHash(b) % bucketSize)
}

// newPos is the new-table position of ap learned from source.
func (m *Manager) newPos(ap netip.AddrPort, source netip.Addr) (bucket, slot int) {
	bucket = m.newBucket(ap, source)
	return bucket, m.slotIn(tagPosNew, bucket, ap)
}

// triedPos is the tried-table position of ap.
func (m *Manager) triedPos(ap netip.AddrPort) (bucket, slot int) {
	bucket = m.triedBucket(ap)
	return bucket, m.slotIn(tagPosTry, bucket, ap)
}
