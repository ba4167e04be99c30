package addrman

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load: it must return a Manager or an
// error wrapping ErrCorrupt/ErrUnsupportedVersion, never panic, and whatever
// it accepts must be internally consistent and survive a Save/Load cycle.
func FuzzLoad(f *testing.F) {
	m := newTest(1)
	m.Add([]Address{addr("1.2.3.4:8333", t0), addr("[2a01:4f8::1]:8333", t0)}, netip.MustParseAddr("8.8.8.8"), t0)
	m.Add([]Address{addr("5.6.7.8:8333", t0)}, netip.Addr{}, t0)
	m.Good(ap("1.2.3.4:8333"), t0)
	m.Attempt(ap("5.6.7.8:8333"), t0)
	m.Failed(ap("5.6.7.8:8333"), t0)
	seedPath := filepath.Join(f.TempDir(), "seed.json")
	if err := m.Save(seedPath); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(seedPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{"version":1,"key":"0102030405060708000000000000000000000000000000000000000000000000","entries":[]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte("garbage"))

	// One file per worker process, rewritten each time: a fresh temp
	// dir per input costs more than Load itself.
	path := filepath.Join(f.TempDir(), "peers.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := Load(path, t0)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("error wraps neither sentinel: %v", err)
			}
			return
		}
		checkInvariants(t, m)
		// Round trip in memory: Save's fsyncs would dominate the run
		// time, and TestSaveLoadRoundTrip covers the file side.
		again, err := m.Snapshot().encode()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decode(again, t0)
		if err != nil {
			t.Fatalf("reloading a saved file: %v", err)
		}
		n1, t1 := m.Counts()
		n2, t2 := m2.Counts()
		if n1 != n2 || t1 != t2 {
			t.Fatalf("counts changed across Save/Load: %d,%d -> %d,%d", n1, t1, n2, t2)
		}
		checkInvariants(t, m2)
		// The loaded manager must be usable.
		m.Select(t0, nil)
		m.Sample(10, t0)
	})
}
