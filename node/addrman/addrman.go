// Package addrman is the node's address manager: it remembers peer
// addresses learned from DNS seeds, addr/addrv2 gossip and manual adds, picks
// the next one to dial, and answers getaddr. It is modelled on Bitcoin Core's
// addrman.
//
// Addresses live in two fixed-size tables of buckets, as in Core:
//
//   - the new table (1024 buckets of 64 slots) holds addresses we have heard
//     of but never connected to. The bucket is a keyed hash of the address's
//     group and the group of the peer that told us, so one gossiping source
//     can reach only 64 buckets and cannot flood the table;
//   - the tried table (256 buckets of 64 slots) holds addresses we completed
//     a handshake with. The bucket is a keyed hash of the address and its
//     group, so one /16 (IPv4) or /32 (IPv6) can reach only 8 buckets.
//
// The slot within a bucket is another keyed hash, so every address has
// exactly one place it can go in each table; a newcomer whose place is taken
// either replaces a "terrible" occupant or is dropped. That is what bounds
// memory (at most 81920 entries) and makes eclipse attacks expensive: an
// attacker cannot choose where its addresses land without knowing the key.
//
// Unlike Core, an address occupies at most one new-table slot (Core allows up
// to eight references from different sources). The extra references mostly
// bias selection towards widely gossiped addresses; dropping them keeps the
// bookkeeping to one position per entry. Tried-table collisions evict the
// old occupant back to the new table straight away (Core's behaviour before
// test-before-evict) rather than through Core's test-before-evict queue,
// which needs a feedback loop with the connection manager this package does
// not own.
//
// Selection adds a dial backoff Core does not have: every attempt counts as
// a failure until Good says otherwise, and an address is not offered again
// until 1 min * 2^(failures-1), capped at 4 h, has passed since the last
// attempt. That keeps a node with few addresses (regtest, a fresh start) from
// hammering the same dead peer.
//
// The package is hand-written because no well-kept Go library implements
// Core's bucketed addrman on its own: the nearest, btcd's addrmgr, lives in
// the full btcd module, speaks btcd's wire types, runs its own goroutine and
// mutex and owns its own peers.json, which would pull half a node into this
// one. It uses only
// the standard library, does no I/O except in Load and Save, takes the clock
// as an argument, and is deterministic given a key and a random source.
package addrman

import (
	crand "crypto/rand"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Table geometry, as in Core (ADDRMAN_NEW_BUCKET_COUNT and friends).
const (
	newBucketCount           = 1024
	triedBucketCount         = 256
	bucketSize               = 64
	newBucketsPerSourceGroup = 64
	triedBucketsPerGroup     = 8
)

// Freshness and failure rules, as in Core's IsTerrible/GetChance and the
// addr handling in net_processing.
const (
	horizon          = 30 * 24 * time.Hour // older addresses are terrible (ADDRMAN_HORIZON)
	retries          = 3                   // attempts without ever succeeding (ADDRMAN_RETRIES)
	maxFailures      = 10                  // attempts since last success (ADDRMAN_MAX_FAILURES)
	minFailAge       = 7 * 24 * time.Hour  // ... if the success is this old (ADDRMAN_MIN_FAIL)
	recentTry        = time.Minute         // never call an address tried this recently terrible
	maxFutureSkew    = 10 * time.Minute    // advertised times further ahead are lies
	defaultAge       = 5 * 24 * time.Hour  // age given to addresses with a bogus time
	relayPenalty     = 2 * time.Hour       // relayed addresses look older than self-announced
	minValidTime     = 100000000           // Core treats earlier nTime as unset (1973)
	connectedRefresh = 20 * time.Minute    // Good refreshes Time only if older than this
	getAddrMaxPct    = 23                  // share of all entries one getaddr may see
	maxSelectTries   = 64                  // random picks before Select scans linearly
	maxStoredFails   = 1 << 16             // failure counter ceiling, avoids overflow
)

// Backoff schedule between dials of the same address.
const (
	baseBackoff = time.Minute
	maxBackoff  = 4 * time.Hour
)

// Address is a peer address learned from DNS seeds, addr/addrv2 gossip or a
// manual add.
type Address struct {
	// AddrPort is the IPv4 or IPv6 address and port. IPv4-mapped IPv6
	// addresses are unmapped on the way in, so they compare equal to IPv4.
	AddrPort netip.AddrPort
	// Services are the service flags as advertised; Add ORs new flags into
	// what is known, as Core does.
	Services uint64
	// Time is the last-seen time as advertised. Add clamps it like Core:
	// a time more than 10 minutes in the future or before 1973 becomes
	// now minus 5 days. It is kept at one-second precision.
	Time time.Time
}

// entry is what the tables hold for one address. Times are Unix seconds with
// 0 meaning never, which is what the file stores and keeps entries small.
type entry struct {
	addr        netip.AddrPort
	source      netip.Addr // who told us: chooses the new bucket; invalid for manual adds
	services    uint64
	time        int64 // advertised last-seen time (clamped)
	lastAttempt int64 // last dial attempt, success or failure
	lastSuccess int64 // last completed handshake
	failures    int32 // attempts since the last success (Core's nAttempts)
	inFlight    bool  // Attempt counted a failure Failed must not count again
	tried       bool
	bucket      int32 // position in the table named by tried
	slot        int32
	allIdx      int32 // index in Manager.all
	listIdx     int32 // index in Manager.newList or Manager.triedList
}

// Manager holds the new and tried tables. It is NOT safe for concurrent use:
// it is owned by the engine goroutine, which is the only place that learns
// of addresses and decides whom to dial, so a lock would buy nothing.
type Manager struct {
	// AllowLocal admits non-routable addresses (loopback, RFC 1918, ...)
	// in Add. Mainnet leaves it false so gossip cannot point us at hosts
	// on our own network; regtest and tests set it to use loopback peers.
	AllowLocal bool

	key [32]byte
	rng *rand.Rand

	byAddr     map[netip.AddrPort]*entry
	newTable   [newBucketCount][bucketSize]*entry
	triedTable [triedBucketCount][bucketSize]*entry

	// all lists every entry for Sample's partial shuffle, like Core's
	// vRandom; newList and triedList let Select draw a random entry of one
	// table in O(1) instead of probing mostly empty buckets.
	all       []*entry
	newList   []*entry
	triedList []*entry
}

// New returns an empty Manager whose bucket hashing is salted with key
// (Core's nKey). The key must be secret and should persist across restarts
// (Save stores it), otherwise every restart reshuffles the tables. The random
// source used for selection is seeded from crypto/rand; use NewWithRand
// or SetRand for reproducible behaviour.
func New(key [32]byte) *Manager {
	var seed [32]byte
	crand.Read(seed[:]) // never fails (crypto/rand panics rather than return an error)
	return NewWithRand(key, rand.New(rand.NewChaCha8(seed)))
}

// NewWithRand is New with the random source behind Select and Sample given,
// for a caller that must not read crypto/rand (the p2p core does no I/O and
// replays from its seed).
func NewWithRand(key [32]byte, r *rand.Rand) *Manager {
	return &Manager{
		key:    key,
		rng:    r,
		byAddr: make(map[netip.AddrPort]*entry),
	}
}

// SetRand replaces the random source behind Select and Sample. Tests pass a
// seeded source so that runs are reproducible; the bucket positions do not
// depend on it, only on the key.
func (m *Manager) SetRand(r *rand.Rand) {
	m.rng = r
}

// Counts returns the number of entries in the new and the tried table.
func (m *Manager) Counts() (newCount, triedCount int) {
	return len(m.newList), len(m.triedList)
}

// Add puts addresses learned from source into the new table and returns how
// many were not known before. source is the IP of the peer that relayed them
// (the zero Addr for DNS seeds or manual adds); it picks the bucket, and any
// source other than the address itself ages the advertised time by 2 hours
// as in Core, so relayed addresses never look fresher than self-announced
// ones. Known addresses get their services ORed in and their time updated
// if noticeably newer. Non-routable addresses are ignored unless AllowLocal
// is set. A newcomer whose slot is taken replaces the occupant only if the
// occupant is terrible, otherwise it is dropped.
func (m *Manager) Add(addrs []Address, source netip.Addr, now time.Time) (added int) {
	source = source.Unmap()
	if source.Zone() != "" {
		source = source.WithZone("")
	}
	nowU := unix(now)
	for _, a := range addrs {
		ap := normalize(a.AddrPort)
		if !dialable(ap) || (!m.AllowLocal && !isRoutable(ap.Addr())) {
			continue
		}
		t := clampTime(a.Time, now)
		var penalty int64
		if source.IsValid() && source != ap.Addr() {
			penalty = int64(relayPenalty / time.Second)
		}
		if e := m.byAddr[ap]; e != nil {
			// Core's update rule: refresh the time only if it moved by
			// more than the update interval, so that gossip cannot keep
			// an address looking alive to the second.
			interval := int64(24 * time.Hour / time.Second)
			if nowU-t < int64(24*time.Hour/time.Second) {
				interval = int64(time.Hour / time.Second)
			}
			if e.time < t-interval-penalty {
				e.time = max(t-penalty, 0)
			}
			e.services |= a.Services
			continue
		}
		e := &entry{addr: ap, source: source, services: a.Services, time: max(t-penalty, 0)}
		b, s := m.newPos(ap, source)
		if old := m.newTable[b][s]; old != nil {
			if !m.terrible(old, nowU) {
				continue
			}
			m.forget(old)
		}
		m.track(e)
		m.place(e, false, b, s)
		added++
	}
	return added
}

// Select picks an address to dial. As in Core it draws from the tried or the
// new table with even odds when both have entries, and favours addresses
// with fewer failed attempts (GetChance). Addresses for which exclude
// returns true (already connected, being dialled) and addresses still in
// dial backoff are skipped. If the chosen table has nothing eligible the
// other one is tried, so false means no address is eligible at all.
func (m *Manager) Select(now time.Time, exclude func(netip.AddrPort) bool) (Address, bool) {
	nowU := unix(now)
	first, second := m.newList, m.triedList
	if len(first) == 0 || (len(second) > 0 && m.rng.IntN(2) == 0) {
		first, second = second, first
	}
	for _, list := range [2][]*entry{first, second} {
		if e := m.selectFrom(list, nowU, exclude); e != nil {
			return e.address(), true
		}
	}
	return Address{}, false
}

// selectFrom draws from list like Core's Select_: random entries accepted
// with probability chance*factor, factor growing 1.2x per draw so the loop
// ends quickly. Because exclusions and backoff can make every entry
// ineligible, random draws are capped and followed by one linear pass from a
// random offset, which ends the search and still finds a lone eligible entry.
func (m *Manager) selectFrom(list []*entry, nowU int64, exclude func(netip.AddrPort) bool) *entry {
	n := len(list)
	if n == 0 {
		return nil
	}
	eligible := func(e *entry) bool {
		return !inBackoff(e, nowU) && (exclude == nil || !exclude(e.addr))
	}
	factor := 1.0
	for range maxSelectTries {
		e := list[m.rng.IntN(n)]
		if eligible(e) && m.rng.Float64() < factor*chance(e, nowU) {
			return e
		}
		factor *= 1.2
	}
	start := m.rng.IntN(n)
	for i := range n {
		if e := list[(start+i)%n]; eligible(e) {
			return e
		}
	}
	return nil
}

// Attempt records that a dial to a has started. The attempt counts as a
// failure until Good clears it, which both matches Core's nAttempts and puts
// the address in backoff so Select does not hand it out twice while the dial
// is in flight. Unknown addresses are ignored.
func (m *Manager) Attempt(a netip.AddrPort, now time.Time) {
	e := m.byAddr[normalize(a)]
	if e == nil {
		return
	}
	e.lastAttempt = unix(now)
	e.failures = min(e.failures+1, maxStoredFails)
	e.inFlight = true
}

// Good records a completed handshake with a: failures are reset and the
// address moves to the tried table. If its tried slot is taken, the occupant
// is evicted back to the new table (taking the place of whatever sits in its
// new slot), as Core did before test-before-evict. Unknown addresses are
// ignored, as in Core; Add them first to have them remembered.
func (m *Manager) Good(a netip.AddrPort, now time.Time) {
	ap := normalize(a)
	e := m.byAddr[ap]
	if e == nil {
		return
	}
	nowU := unix(now)
	e.lastSuccess = nowU
	e.lastAttempt = nowU
	e.failures = 0
	e.inFlight = false
	// Core refreshes nTime in Connected() when the time is more than 20
	// minutes stale; without it a long-lived connection would age past the
	// horizon and become terrible. The coarse interval avoids telling
	// getaddr callers exactly whom we are connected to.
	if nowU-e.time > int64(connectedRefresh/time.Second) {
		e.time = nowU
	}
	if e.tried {
		return
	}
	b, s := m.triedPos(ap)
	m.unplace(e)
	if old := m.triedTable[b][s]; old != nil {
		m.unplace(old)
		nb, ns := m.newPos(old.addr, old.source)
		if occ := m.newTable[nb][ns]; occ != nil {
			m.forget(occ)
		}
		m.place(old, false, nb, ns)
	}
	m.place(e, true, b, s)
}

// SetServices records the services a peer at a announced in its own
// version message, replacing what gossip said (Core's SetServices).
// Unknown addresses are ignored.
func (m *Manager) SetServices(a netip.AddrPort, services uint64) {
	if e := m.byAddr[normalize(a)]; e != nil {
		e.services = services
	}
}

// ClearServices removes service flags from what is known of a: a peer
// that proved not to offer them. Unknown addresses are ignored.
func (m *Manager) ClearServices(a netip.AddrPort, flags uint64) {
	if e := m.byAddr[normalize(a)]; e != nil {
		e.services &^= flags
	}
}

// Failed records that a dial or handshake with a failed. The failure was
// already counted if Attempt was called for this dial; otherwise it is
// counted here. Backoff restarts from now and doubles with every consecutive
// failure. An address with at least 10 failures and no success in the last
// 7 days (or ever) is dropped, Core's IsTerrible rule for hopeless
// addresses, so dead peers stop occupying slots. Unknown addresses are
// ignored.
func (m *Manager) Failed(a netip.AddrPort, now time.Time) {
	e := m.byAddr[normalize(a)]
	if e == nil {
		return
	}
	nowU := unix(now)
	if !e.inFlight {
		e.failures = min(e.failures+1, maxStoredFails)
	}
	e.inFlight = false
	e.lastAttempt = nowU
	if e.failures >= maxFailures && (e.lastSuccess == 0 || nowU-e.lastSuccess > int64(minFailAge/time.Second)) {
		m.forget(e)
	}
}

// Sample returns a random sample of known addresses for answering getaddr:
// at most 23% of all entries (Core's cap, so one peer cannot harvest the
// whole table) and at most max when max > 0; max <= 0 means only the 23% cap
// applies, as Core's max_addresses = 0. Terrible addresses are left out.
func (m *Manager) Sample(max int, now time.Time) []Address {
	nowU := unix(now)
	n := len(m.all) * getAddrMaxPct / 100
	if max > 0 && n > max {
		n = max
	}
	out := make([]Address, 0, n)
	// Partial Fisher-Yates over m.all, like Core's GetAddr over vRandom:
	// O(sample) swaps, and the order it leaves behind is as good as any.
	for i := 0; i < len(m.all) && len(out) < n; i++ {
		j := i + m.rng.IntN(len(m.all)-i)
		m.all[i], m.all[j] = m.all[j], m.all[i]
		m.all[i].allIdx, m.all[j].allIdx = int32(i), int32(j)
		if e := m.all[i]; !m.terrible(e, nowU) {
			out = append(out, e.address())
		}
	}
	return out
}

// Remove deletes a from both tables, e.g. when the operator bans it. Unknown
// addresses are ignored.
func (m *Manager) Remove(a netip.AddrPort) {
	if e := m.byAddr[normalize(a)]; e != nil {
		m.forget(e)
	}
}

// terrible is Core's IsTerrible: entries that are not worth keeping when
// something else wants their slot, nor worth advertising.
func (m *Manager) terrible(e *entry, nowU int64) bool {
	if e.lastAttempt != 0 && nowU-e.lastAttempt <= int64(recentTry/time.Second) {
		return false // never remove things tried in the last minute
	}
	if e.time > nowU+int64(maxFutureSkew/time.Second) {
		return true // came in a flying DeLorean
	}
	if nowU-e.time > int64(horizon/time.Second) {
		return true // not seen in recent history
	}
	if e.lastSuccess == 0 && e.failures >= retries {
		return true // tried N times and never a success
	}
	if nowU-e.lastSuccess > int64(minFailAge/time.Second) && e.failures >= maxFailures {
		return true // N successive failures in the last week
	}
	return false
}

// chance is Core's GetChance: the relative odds of picking e, lower for
// recently tried and often failed addresses.
func chance(e *entry, nowU int64) float64 {
	c := 1.0
	if e.lastAttempt != 0 && nowU-e.lastAttempt < int64(10*time.Minute/time.Second) {
		c *= 0.01
	}
	for range min(e.failures, 8) {
		c *= 0.66
	}
	return c
}

// backoff is how long to wait after the last attempt before offering an
// address with the given number of consecutive failures again.
func backoff(failures int32) time.Duration {
	if failures <= 0 {
		return 0
	}
	if failures > 9 { // 1 min << 8 already exceeds the cap
		return maxBackoff
	}
	return min(baseBackoff<<(failures-1), maxBackoff)
}

// inBackoff reports whether e must not be dialled yet.
func inBackoff(e *entry, nowU int64) bool {
	if e.failures == 0 || e.lastAttempt == 0 {
		return false
	}
	return nowU < e.lastAttempt+int64(backoff(e.failures)/time.Second)
}

// clampTime applies Core's sanity rule to an advertised time: unset or
// implausibly future times become now minus 5 days, old enough not to be
// preferred, young enough not to be terrible.
func clampTime(t time.Time, now time.Time) int64 {
	u := t.Unix()
	if t.IsZero() || u <= minValidTime || t.After(now.Add(maxFutureSkew)) {
		return unix(now.Add(-defaultAge))
	}
	return u
}

// unix converts a clock reading to the entry representation, where 0 is
// reserved for "never"; times at or before the epoch map to 1 second.
func unix(t time.Time) int64 {
	return max(t.Unix(), 1)
}

// address is the public view of e.
func (e *entry) address() Address {
	return Address{AddrPort: e.addr, Services: e.services, Time: time.Unix(e.time, 0)}
}

// track registers e in the address index and the sample list.
func (m *Manager) track(e *entry) {
	m.byAddr[e.addr] = e
	e.allIdx = int32(len(m.all))
	m.all = append(m.all, e)
}

// forget removes e from its table and from the indexes.
func (m *Manager) forget(e *entry) {
	m.unplace(e)
	delete(m.byAddr, e.addr)
	m.all = removeAt(m.all, int(e.allIdx), func(x *entry, i int) { x.allIdx = int32(i) })
}

// place puts e into the given slot, which must be empty.
func (m *Manager) place(e *entry, tried bool, bucket, slot int) {
	e.tried, e.bucket, e.slot = tried, int32(bucket), int32(slot)
	if tried {
		m.triedTable[bucket][slot] = e
		e.listIdx = int32(len(m.triedList))
		m.triedList = append(m.triedList, e)
	} else {
		m.newTable[bucket][slot] = e
		e.listIdx = int32(len(m.newList))
		m.newList = append(m.newList, e)
	}
}

// unplace takes e out of its slot and table list, leaving the indexes.
func (m *Manager) unplace(e *entry) {
	setIdx := func(x *entry, i int) { x.listIdx = int32(i) }
	if e.tried {
		m.triedTable[e.bucket][e.slot] = nil
		m.triedList = removeAt(m.triedList, int(e.listIdx), setIdx)
	} else {
		m.newTable[e.bucket][e.slot] = nil
		m.newList = removeAt(m.newList, int(e.listIdx), setIdx)
	}
}

// removeAt deletes list[i] by moving the last element into its place, and
// tells the moved element its new index through setIdx.
func removeAt(list []*entry, i int, setIdx func(*entry, int)) []*entry {
	last := len(list) - 1
	if i != last {
		list[i] = list[last]
		setIdx(list[i], i)
	}
	list[last] = nil
	return list[:last]
}
