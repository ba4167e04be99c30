package addrman

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// t0 is the fixed clock every test starts from; nothing sleeps.
var t0 = time.Unix(1_700_000_000, 0)

var testKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8}

// newTest returns a Manager with a fixed key and random source.
func newTest(seed uint64) *Manager {
	m := New(testKey)
	m.SetRand(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	return m
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func addr(s string, t time.Time) Address {
	return Address{AddrPort: ap(s), Services: 1, Time: t}
}

// randRoutable draws a random routable IPv4 address with port 8333.
func randRoutable(r *rand.Rand) netip.AddrPort {
	for {
		var b [4]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		ip := netip.AddrFrom4(b)
		if isRoutable(ip) {
			return netip.AddrPortFrom(ip, 8333)
		}
	}
}

// checkInvariants verifies that the indexes and tables agree and that each
// entry sits where its hash says.
func checkInvariants(t testing.TB, m *Manager) {
	t.Helper()
	newCount, triedCount := m.Counts()
	if newCount > newBucketCount*bucketSize || triedCount > triedBucketCount*bucketSize {
		t.Fatalf("counts %d/%d exceed table sizes", newCount, triedCount)
	}
	if len(m.byAddr) != newCount+triedCount || len(m.all) != len(m.byAddr) {
		t.Fatalf("index sizes: byAddr %d all %d new %d tried %d", len(m.byAddr), len(m.all), newCount, triedCount)
	}
	for i, e := range m.all {
		if int(e.allIdx) != i || m.byAddr[e.addr] != e {
			t.Fatalf("all[%d] = %s inconsistent", i, e.addr)
		}
		var b, s int
		var list []*entry
		var slot *entry
		if e.tried {
			b, s = m.triedPos(e.addr)
			list, slot = m.triedList, m.triedTable[b][s]
		} else {
			b, s = m.newPos(e.addr, e.source)
			list, slot = m.newList, m.newTable[b][s]
		}
		if slot != e || int(e.bucket) != b || int(e.slot) != s {
			t.Fatalf("%s (tried=%v) not at its position %d/%d", e.addr, e.tried, b, s)
		}
		if int(e.listIdx) >= len(list) || list[e.listIdx] != e {
			t.Fatalf("%s list index %d wrong", e.addr, e.listIdx)
		}
	}
	occupied := 0
	for b := range m.newTable {
		for _, e := range m.newTable[b] {
			if e != nil {
				occupied++
			}
		}
	}
	for b := range m.triedTable {
		for _, e := range m.triedTable[b] {
			if e != nil {
				occupied++
			}
		}
	}
	if occupied != len(m.all) {
		t.Fatalf("%d occupied slots, %d entries", occupied, len(m.all))
	}
}

func TestAddSelectRoundTrip(t *testing.T) {
	src := netip.MustParseAddr("8.8.8.8")
	tests := []struct {
		name       string
		allowLocal bool
		addrs      []Address
		source     netip.Addr
		wantTime   func(Address) time.Time
	}{
		{
			name:     "one routable, self-announced",
			addrs:    []Address{addr("1.2.3.4:8333", t0.Add(-time.Hour))},
			source:   netip.MustParseAddr("1.2.3.4"),
			wantTime: func(a Address) time.Time { return a.Time },
		},
		{
			name:     "relayed gets 2h penalty",
			addrs:    []Address{addr("1.2.3.4:8333", t0.Add(-time.Hour))},
			source:   src,
			wantTime: func(a Address) time.Time { return a.Time.Add(-relayPenalty) },
		},
		{
			name:     "future time clamped",
			addrs:    []Address{addr("1.2.3.4:8333", t0.Add(time.Hour))},
			source:   netip.MustParseAddr("1.2.3.4"),
			wantTime: func(Address) time.Time { return t0.Add(-defaultAge) },
		},
		{
			name:     "zero time clamped, manual add",
			addrs:    []Address{addr("[2a01:4f8::1]:8333", time.Time{})},
			wantTime: func(Address) time.Time { return t0.Add(-defaultAge) },
		},
		{
			name:       "loopback with AllowLocal",
			allowLocal: true,
			addrs:      []Address{addr("127.0.0.1:18444", t0)},
			source:     netip.MustParseAddr("127.0.0.1"),
			wantTime:   func(a Address) time.Time { return a.Time },
		},
		{
			name: "several groups",
			addrs: []Address{
				addr("1.2.3.4:8333", t0), addr("5.6.7.8:8333", t0),
				addr("[2a01:4f8::1]:8333", t0), addr("9.9.9.9:8333", t0),
			},
			source:   src,
			wantTime: func(a Address) time.Time { return a.Time.Add(-relayPenalty) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(1)
			m.AllowLocal = tc.allowLocal
			if got := m.Add(tc.addrs, tc.source, t0); got != len(tc.addrs) {
				t.Fatalf("Add = %d, want %d", got, len(tc.addrs))
			}
			if n, tr := m.Counts(); n != len(tc.addrs) || tr != 0 {
				t.Fatalf("Counts = %d,%d", n, tr)
			}
			want := map[netip.AddrPort]Address{}
			for _, a := range tc.addrs {
				want[a.AddrPort] = a
			}
			seen := map[netip.AddrPort]bool{}
			for range 200 {
				got, ok := m.Select(t0, nil)
				if !ok {
					t.Fatal("Select found nothing")
				}
				in, known := want[got.AddrPort]
				if !known {
					t.Fatalf("Select returned unknown %v", got.AddrPort)
				}
				if got.Services != in.Services || !got.Time.Equal(tc.wantTime(in)) {
					t.Fatalf("Select = %+v, want services %d time %v", got, in.Services, tc.wantTime(in))
				}
				seen[got.AddrPort] = true
			}
			if len(seen) != len(want) {
				t.Fatalf("Select reached %d of %d addresses", len(seen), len(want))
			}
			// Adding again is not new, and ORs services in.
			again := tc.addrs[0]
			again.Services = 8
			if got := m.Add([]Address{again}, tc.source, t0); got != 0 {
				t.Fatalf("re-Add = %d, want 0", got)
			}
			if e := m.byAddr[again.AddrPort]; e.services != 9 {
				t.Fatalf("services = %d, want 9", e.services)
			}
			checkInvariants(t, m)
		})
	}
}

func TestSelectEmpty(t *testing.T) {
	if _, ok := newTest(1).Select(t0, nil); ok {
		t.Fatal("Select on empty manager returned an address")
	}
}

func TestNonRoutableFiltered(t *testing.T) {
	tests := []struct {
		addr       string
		routable   bool // accepted without AllowLocal
		evenLocal  bool // accepted with AllowLocal
		normalized string
	}{
		{"1.2.3.4:8333", true, true, ""},
		{"[::ffff:1.2.3.4]:8333", true, true, "1.2.3.4:8333"},
		{"[2a01:4f8::1]:8333", true, true, ""},
		{"127.0.0.1:18444", false, true, ""},
		{"[::1]:18444", false, true, ""},
		{"10.1.2.3:8333", false, true, ""},
		{"172.16.0.1:8333", false, true, ""},
		{"192.168.1.1:8333", false, true, ""},
		{"100.64.0.1:8333", false, true, ""},
		{"169.254.1.1:8333", false, true, ""},
		{"192.0.2.1:8333", false, true, ""},
		{"[fe80::1]:8333", false, true, ""},
		{"[fd00::1]:8333", false, true, ""},
		{"[2001:db8::1]:8333", false, true, ""},
		{"0.0.0.0:8333", false, false, ""},
		{"[::]:8333", false, false, ""},
		{"224.0.0.1:8333", false, false, ""},
		{"255.255.255.255:8333", false, false, ""},
		{"[ff02::1]:8333", false, false, ""},
		{"1.2.3.4:0", false, false, ""},
		{"[fe80::1%eth0]:8333", false, false, ""},
	}
	for _, tc := range tests {
		for _, allow := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/allowLocal=%v", tc.addr, allow), func(t *testing.T) {
				m := newTest(1)
				m.AllowLocal = allow
				want := tc.routable || (allow && tc.evenLocal)
				got := m.Add([]Address{addr(tc.addr, t0)}, netip.Addr{}, t0)
				if (got == 1) != want {
					t.Fatalf("Add = %d, want accepted=%v", got, want)
				}
				if want && tc.normalized != "" {
					if m.byAddr[ap(tc.normalized)] == nil {
						t.Fatalf("not stored as %s", tc.normalized)
					}
				}
			})
		}
	}
}

func TestGoodMovesToTried(t *testing.T) {
	tests := []struct {
		name  string
		good  string
		tried int
		new   int
	}{
		{"known address", "1.2.3.4:8333", 1, 1},
		{"mapped form of known address", "[::ffff:1.2.3.4]:8333", 1, 1},
		{"unknown address ignored", "4.4.4.4:8333", 0, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(1)
			m.Add([]Address{addr("1.2.3.4:8333", t0), addr("5.6.7.8:8333", t0)}, netip.Addr{}, t0)
			m.Attempt(ap(tc.good), t0)
			m.Good(ap(tc.good), t0.Add(time.Second))
			m.Good(ap(tc.good), t0.Add(2*time.Second)) // idempotent
			if n, tr := m.Counts(); n != tc.new || tr != tc.tried {
				t.Fatalf("Counts = %d,%d want %d,%d", n, tr, tc.new, tc.tried)
			}
			if tc.tried == 1 {
				e := m.byAddr[normalize(ap(tc.good))]
				if !e.tried || e.failures != 0 || e.inFlight || e.lastSuccess != t0.Unix()+2 {
					t.Fatalf("entry after Good: %+v", e)
				}
				// Good resets backoff: immediately selectable.
				got, ok := m.Select(t0.Add(3*time.Second), func(a netip.AddrPort) bool { return a == ap("5.6.7.8:8333") })
				if !ok || got.AddrPort != e.addr {
					t.Fatalf("Select = %v,%v", got, ok)
				}
			}
			checkInvariants(t, m)
		})
	}
}

// findCollision returns two addresses whose position (as given by pos)
// coincides.
func findCollision(t *testing.T, pos func(netip.AddrPort) [2]int) (a, b netip.AddrPort) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	seen := map[[2]int]netip.AddrPort{}
	for range 100000 {
		x := randRoutable(r)
		p := pos(x)
		if y, ok := seen[p]; ok && y != x {
			return y, x
		}
		seen[p] = x
	}
	t.Fatal("no collision found")
	return
}

func TestTriedCollisionEvictsToNew(t *testing.T) {
	m := newTest(1)
	a, b := findCollision(t, func(x netip.AddrPort) [2]int {
		bk, s := m.triedPos(x)
		return [2]int{bk, s}
	})
	m.Add([]Address{{AddrPort: a, Time: t0}, {AddrPort: b, Time: t0}}, netip.Addr{}, t0)
	if n, _ := m.Counts(); n != 2 {
		t.Skipf("the two colliding addresses also collide in new (%d added)", n)
	}
	m.Good(a, t0)
	m.Good(b, t0)
	if n, tr := m.Counts(); n != 1 || tr != 1 {
		t.Fatalf("Counts = %d,%d want 1,1", n, tr)
	}
	if !m.byAddr[b].tried || m.byAddr[a].tried {
		t.Fatal("newer Good should own the tried slot, older one back in new")
	}
	checkInvariants(t, m)
}

func TestNewCollision(t *testing.T) {
	src := netip.MustParseAddr("8.8.8.8")
	tests := []struct {
		name        string
		firstTime   time.Time
		wantReplace bool
	}{
		{"fresh occupant stays", t0, false},
		{"terrible occupant replaced", t0.Add(-horizon - time.Hour), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(1)
			a, b := findCollision(t, func(x netip.AddrPort) [2]int {
				bk, s := m.newPos(x, src)
				return [2]int{bk, s}
			})
			if m.Add([]Address{{AddrPort: a, Time: tc.firstTime}}, src, t0) != 1 {
				t.Fatal("first Add failed")
			}
			got := m.Add([]Address{{AddrPort: b, Time: t0}}, src, t0)
			if (got == 1) != tc.wantReplace {
				t.Fatalf("second Add = %d, want replace=%v", got, tc.wantReplace)
			}
			_, aKept := m.byAddr[a]
			if aKept == tc.wantReplace {
				t.Fatalf("occupant kept=%v", aKept)
			}
			if n, _ := m.Counts(); n != 1 {
				t.Fatalf("new count %d", n)
			}
			checkInvariants(t, m)
		})
	}
}

func TestFailedBackoff(t *testing.T) {
	tests := []struct {
		name        string
		failures    int
		viaAttempt  bool // Attempt before each Failed (no double count)
		wantBackoff time.Duration
	}{
		{"one failure", 1, true, time.Minute},
		{"two failures", 2, true, 2 * time.Minute},
		{"five failures", 5, true, 16 * time.Minute},
		{"Failed without Attempt counts", 3, false, 4 * time.Minute},
		{"capped", 9, true, maxBackoff},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(1)
			a := ap("1.2.3.4:8333")
			// Recently seen and once successful, so nine failures do not
			// make it hopeless.
			m.Add([]Address{{AddrPort: a, Time: t0}}, netip.Addr{}, t0)
			m.Good(a, t0)
			now := t0
			for range tc.failures {
				if tc.viaAttempt {
					m.Attempt(a, now)
					if _, ok := m.Select(now, nil); ok {
						t.Fatal("address selectable while its dial is in flight")
					}
				}
				now = now.Add(10 * time.Second)
				m.Failed(a, now)
			}
			if f := m.byAddr[a].failures; int(f) != tc.failures {
				t.Fatalf("failures = %d, want %d", f, tc.failures)
			}
			if _, ok := m.Select(now.Add(tc.wantBackoff-time.Second), nil); ok {
				t.Fatal("selected before backoff elapsed")
			}
			got, ok := m.Select(now.Add(tc.wantBackoff), nil)
			if !ok || got.AddrPort != a {
				t.Fatalf("not selected after backoff: %v %v", got, ok)
			}
		})
	}
}

func TestFailedDropsHopeless(t *testing.T) {
	tests := []struct {
		name     string
		success  bool
		lastGood time.Duration // before the failures start
		failures int
		dropped  bool
	}{
		{"never succeeded, 9 failures", false, 0, 9, false},
		{"never succeeded, 10 failures", false, 0, 10, true},
		{"recent success, 12 failures", true, time.Hour, 12, false},
		{"old success, 10 failures", true, 8 * 24 * time.Hour, 10, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(1)
			a := ap("1.2.3.4:8333")
			start := t0.Add(-tc.lastGood)
			m.Add([]Address{{AddrPort: a, Time: start}}, netip.Addr{}, start)
			if tc.success {
				m.Good(a, start)
			}
			now := t0
			for range tc.failures {
				m.Attempt(a, now)
				now = now.Add(time.Second)
				m.Failed(a, now)
			}
			if _, kept := m.byAddr[a]; kept == tc.dropped {
				t.Fatalf("kept = %v, want dropped = %v", kept, tc.dropped)
			}
			checkInvariants(t, m)
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		tried int
	}{
		{"empty", 0, 0},
		{"new only", 50, 0},
		{"new and tried", 200, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(1)
			r := rand.New(rand.NewPCG(3, 3))
			var addrs []Address
			for range tc.n {
				addrs = append(addrs, Address{AddrPort: randRoutable(r), Services: r.Uint64(), Time: t0.Add(-time.Duration(r.IntN(1000)) * time.Minute)})
			}
			m.Add(addrs[:tc.n/2], netip.MustParseAddr("8.8.8.8"), t0)
			m.Add(addrs[tc.n/2:], netip.Addr{}, t0)
			m.Add([]Address{{AddrPort: ap("[2a01:4f8::1]:8333"), Time: t0}}, netip.MustParseAddr("2a02::1"), t0)
			for i, e := range m.all {
				if i < tc.tried {
					m.Attempt(e.addr, t0)
					m.Good(e.addr, t0.Add(time.Second))
				}
			}
			for _, e := range m.newList[:min(len(m.newList), 5)] {
				m.Attempt(e.addr, t0)
				m.Failed(e.addr, t0.Add(time.Second))
			}
			path := filepath.Join(t.TempDir(), "peers.json")
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
			l, err := Load(path, t0.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if l.key != m.key {
				t.Fatal("key not preserved")
			}
			n1, t1 := m.Counts()
			n2, t2 := l.Counts()
			if n1 != n2 || t1 != t2 {
				t.Fatalf("counts %d,%d after load, want %d,%d", n2, t2, n1, t1)
			}
			for a, e := range m.byAddr {
				g := l.byAddr[a]
				if g == nil {
					t.Fatalf("%s lost", a)
				}
				if g.source != e.source || g.services != e.services || g.time != e.time ||
					g.lastAttempt != e.lastAttempt || g.lastSuccess != e.lastSuccess ||
					g.failures != e.failures || g.tried != e.tried || g.bucket != e.bucket || g.slot != e.slot {
					t.Fatalf("%s: loaded %+v, saved %+v", a, g, e)
				}
			}
			checkInvariants(t, l)
			// No temp files left behind.
			ents, _ := os.ReadDir(filepath.Dir(path))
			if len(ents) != 1 {
				t.Fatalf("directory holds %d files", len(ents))
			}
			// Saving over an existing file works too.
			if err := l.Save(path); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	m, err := Load(filepath.Join(t.TempDir(), "nope.json"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if n, tr := m.Counts(); n != 0 || tr != 0 {
		t.Fatalf("Counts = %d,%d", n, tr)
	}
	if m.key == ([32]byte{}) {
		t.Fatal("fresh manager has a zero key")
	}
	m2, _ := Load(filepath.Join(t.TempDir(), "nope.json"), t0)
	if m2.key == m.key {
		t.Fatal("two fresh managers share a key")
	}
}

func TestLoadCorrupt(t *testing.T) {
	key := `"0102030405060708000000000000000000000000000000000000000000000000"`
	tests := []struct {
		name    string
		data    string
		wantErr error
	}{
		{"empty file", "", ErrCorrupt},
		{"garbage", "\x00\xffnot json at all", ErrCorrupt},
		{"truncated", `{"version":1,"key":` + key + `,"entries":[{"addr":"1.2.3.4:8333"`, ErrCorrupt},
		{"array", `[1,2,3]`, ErrCorrupt},
		{"null", `null`, ErrCorrupt},
		{"no version", `{"key":` + key + `}`, ErrCorrupt},
		{"version as string", `{"version":"1"}`, ErrCorrupt},
		{"unknown version", `{"version":2,"key":` + key + `,"entries":[]}`, ErrUnsupportedVersion},
		{"version zero", `{"version":0}`, ErrUnsupportedVersion},
		{"missing key", `{"version":1,"entries":[]}`, ErrCorrupt},
		{"short key", `{"version":1,"key":"0102","entries":[]}`, ErrCorrupt},
		{"bad addr", `{"version":1,"key":` + key + `,"entries":[{"addr":"1.2.3.4","time":1}]}`, ErrCorrupt},
		{"port zero", `{"version":1,"key":` + key + `,"entries":[{"addr":"1.2.3.4:0","time":1}]}`, ErrCorrupt},
		{"bad source", `{"version":1,"key":` + key + `,"entries":[{"addr":"1.2.3.4:1","source":"x","time":1}]}`, ErrCorrupt},
		{"negative time", `{"version":1,"key":` + key + `,"entries":[{"addr":"1.2.3.4:1","time":-5}]}`, ErrCorrupt},
		{"negative failures", `{"version":1,"key":` + key + `,"entries":[{"addr":"1.2.3.4:1","time":1,"failures":-1}]}`, ErrCorrupt},
		{"services overflow", `{"version":1,"key":` + key + `,"entries":[{"addr":"1.2.3.4:1","services":18446744073709551616}]}`, ErrCorrupt},
		{"duplicate", `{"version":1,"key":` + key + `,"entries":[{"addr":"1.2.3.4:1","time":1},{"addr":"[::ffff:1.2.3.4]:1","time":1}]}`, ErrCorrupt},
		{"trailing data", `{"version":1,"key":` + key + `,"entries":[]} xyz`, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "peers.json")
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := Load(path, t0)
			if err == nil {
				t.Fatalf("Load succeeded: %v", m)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %q does not wrap %v", err, tc.wantErr)
			}
		})
	}
}

func TestLoadClampsFuture(t *testing.T) {
	data := `{"version":1,"key":"0102030405060708000000000000000000000000000000000000000000000000","entries":[` +
		fmt.Sprintf(`{"addr":"1.2.3.4:8333","time":%d,"last_attempt":%d,"failures":9}]}`, t0.Unix()+86400, t0.Unix()+86400)
	path := filepath.Join(t.TempDir(), "peers.json")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, t0)
	if err != nil {
		t.Fatal(err)
	}
	e := m.byAddr[ap("1.2.3.4:8333")]
	if e.lastAttempt != t0.Unix() || e.time != t0.Add(-defaultAge).Unix() {
		t.Fatalf("not clamped: %+v", e)
	}
	if _, ok := m.Select(t0.Add(maxBackoff), nil); !ok {
		t.Fatal("backoff not measured from the clamped attempt time")
	}
}

func TestSampleLimits(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		max      int
		terrible int
		want     int
	}{
		{"empty", 0, 10, 0, 0},
		{"too few for 23%", 4, 10, 0, 0},
		{"23% of 100", 100, 0, 0, 23},
		{"23% of 100 under max", 100, 50, 0, 23},
		{"max caps", 1000, 100, 0, 100},
		{"no max", 1000, 0, 0, 230},
		{"terrible excluded", 100, 0, 90, -1}, // -1: as many as are not terrible
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(1)
			r := rand.New(rand.NewPCG(5, 5))
			for m.len() < tc.n {
				tm := t0
				if m.len() < tc.terrible {
					tm = t0.Add(-horizon - time.Hour)
				}
				m.Add([]Address{{AddrPort: randRoutable(r), Time: tm}}, netip.Addr{}, t0)
			}
			if tc.want < 0 {
				// Fresh addresses may replace terrible ones on collision,
				// so count what is left.
				tc.want = 0
				for _, e := range m.all {
					if !m.terrible(e, t0.Unix()) {
						tc.want++
					}
				}
				if tc.want < 10 || tc.want > 23 {
					t.Fatalf("setup: %d non-terrible entries", tc.want)
				}
			}
			got := m.Sample(tc.max, t0)
			if len(got) != tc.want {
				t.Fatalf("Sample returned %d, want %d", len(got), tc.want)
			}
			seen := map[netip.AddrPort]bool{}
			for _, a := range got {
				e := m.byAddr[a.AddrPort]
				if e == nil || seen[a.AddrPort] || m.terrible(e, t0.Unix()) {
					t.Fatalf("bad sample entry %v", a)
				}
				seen[a.AddrPort] = true
			}
			checkInvariants(t, m)
		})
	}
}

// len is the total entry count, for tests.
func (m *Manager) len() int { return len(m.all) }

func TestBucketBounds(t *testing.T) {
	tests := []struct {
		name    string
		sources []string
		maxNew  int
	}{
		// One source group reaches 64 buckets of 64 slots.
		{"one source", []string{"8.8.8.8"}, newBucketsPerSourceGroup * bucketSize},
		{"few sources", []string{"8.8.8.8", "9.9.9.9", "1.1.1.1", "2a02::1"}, 4 * newBucketsPerSourceGroup * bucketSize},
		{"sources in one /16", []string{"8.8.8.8", "8.8.4.4"}, newBucketsPerSourceGroup * bucketSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(1)
			r := rand.New(rand.NewPCG(11, 11))
			start := time.Now()
			const total = 100_000
			batch := make([]Address, 0, 1000)
			for i := 0; i < total; i += cap(batch) {
				batch = batch[:0]
				for range cap(batch) {
					batch = append(batch, Address{AddrPort: randRoutable(r), Time: t0})
				}
				m.Add(batch, netip.MustParseAddr(tc.sources[(i/cap(batch))%len(tc.sources)]), t0)
			}
			// Promote a chunk to tried to exercise its bounds and evictions.
			for i, e := range m.all {
				if i%3 == 0 {
					m.Good(e.addr, t0)
				}
			}
			elapsed := time.Since(start)
			n, tr := m.Counts()
			t.Logf("new %d tried %d in %v", n, tr, elapsed)
			if n > tc.maxNew || n > newBucketCount*bucketSize || tr > triedBucketCount*bucketSize {
				t.Fatalf("Counts = %d,%d exceed bounds (new max %d)", n, tr, tc.maxNew)
			}
			if n < tc.maxNew/4 {
				t.Fatalf("new table suspiciously empty: %d", n)
			}
			if elapsed > 30*time.Second {
				t.Fatalf("too slow: %v", elapsed)
			}
			checkInvariants(t, m)
			for range 1000 {
				if _, ok := m.Select(t0, nil); !ok {
					t.Fatal("Select failed on full tables")
				}
			}
		})
	}
}

func TestExclude(t *testing.T) {
	all := []string{"1.2.3.4:8333", "5.6.7.8:8333", "9.9.9.9:8333", "[2a01:4f8::1]:8333"}
	tests := []struct {
		name     string
		excluded []string
		tried    []string
		wantNone bool
	}{
		{"nothing excluded", nil, nil, false},
		{"all but one", all[:3], nil, false},
		{"all but one, one tried", all[1:], all[:2], false},
		{"only tried left", all[1:], all[:1], false},
		{"everything", all, all[:2], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(1)
			for _, s := range all {
				m.Add([]Address{addr(s, t0)}, netip.Addr{}, t0)
			}
			for _, s := range tc.tried {
				m.Good(ap(s), t0)
			}
			ex := map[netip.AddrPort]bool{}
			for _, s := range tc.excluded {
				ex[ap(s)] = true
			}
			for range 100 {
				got, ok := m.Select(t0, func(a netip.AddrPort) bool { return ex[a] })
				if ok == tc.wantNone {
					t.Fatalf("Select ok = %v", ok)
				}
				if ok && ex[got.AddrPort] {
					t.Fatalf("Select returned excluded %v", got.AddrPort)
				}
			}
		})
	}
}

func TestSelectBalancesTables(t *testing.T) {
	m := newTest(1)
	r := rand.New(rand.NewPCG(9, 9))
	for range 400 {
		m.Add([]Address{{AddrPort: randRoutable(r), Time: t0}}, netip.Addr{}, t0)
	}
	for i, e := range m.all {
		if i%10 == 0 {
			m.Good(e.addr, t0)
		}
	}
	tried := 0
	const n = 4000
	for range n {
		a, ok := m.Select(t0.Add(time.Hour), nil)
		if !ok {
			t.Fatal("Select failed")
		}
		if m.byAddr[a.AddrPort].tried {
			tried++
		}
	}
	// Tried holds ~10% of entries but gets ~50% of picks.
	if tried < n*4/10 || tried > n*6/10 {
		t.Fatalf("tried picked %d of %d times, want about half", tried, n)
	}
}

func TestDeterministic(t *testing.T) {
	run := func() []netip.AddrPort {
		m := newTest(42)
		r := rand.New(rand.NewPCG(1, 1))
		for range 500 {
			m.Add([]Address{{AddrPort: randRoutable(r), Time: t0}}, netip.MustParseAddr("8.8.8.8"), t0)
		}
		var out []netip.AddrPort
		for range 50 {
			a, _ := m.Select(t0, nil)
			out = append(out, a.AddrPort)
			m.Good(a.AddrPort, t0)
		}
		for _, a := range m.Sample(20, t0) {
			out = append(out, a.AddrPort)
		}
		return out
	}
	a, b := run(), run()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same key and seed gave different results")
	}
}

func TestRemove(t *testing.T) {
	m := newTest(1)
	m.Add([]Address{addr("1.2.3.4:8333", t0), addr("5.6.7.8:8333", t0)}, netip.Addr{}, t0)
	m.Good(ap("1.2.3.4:8333"), t0)
	m.Remove(ap("1.2.3.4:8333"))
	m.Remove(ap("5.6.7.8:8333"))
	m.Remove(ap("9.9.9.9:8333")) // unknown: no-op
	if n, tr := m.Counts(); n != 0 || tr != 0 {
		t.Fatalf("Counts = %d,%d", n, tr)
	}
	checkInvariants(t, m)
}
