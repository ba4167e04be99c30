package utxo

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
)

func openTest(tb testing.TB, dir string, opts Options) *Store {
	tb.Helper()
	opts.Dir = dir
	s, err := Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func testOutPoint(i int) wire.OutPoint {
	var op wire.OutPoint
	op.Hash[0], op.Hash[1] = byte(i), byte(i>>8)
	op.Index = uint32(i % 3)
	return op
}

func testCoin(i int) Coin {
	// A P2WPKH-shaped script, distinct per coin.
	pk := make([]byte, 22)
	pk[1] = 20
	pk[2] = byte(i)
	return Coin{Out: wire.TxOut{Value: int64(1000 + i), PkScript: pk}, Height: int32(i), Coinbase: i%5 == 0}
}

func hashOf(coins map[wire.OutPoint]Coin) chainhash.Hash {
	mh := NewMuHash()
	var buf []byte
	for op, c := range coins {
		buf = AppendMuHashCoin(buf[:0], op, c.Height, c.Coinbase, &c.Out)
		mh.Insert(buf)
	}
	return mh.Finalize()
}

// TestStoreCacheAndFlush adds, spends and re-adds coins across flushes and
// a reopen, checking lookups, the count, the MuHash against one computed
// from scratch, and that a coin created and spent between flushes never
// reaches the disk.
func TestStoreCacheAndFlush(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	want := map[wire.OutPoint]Coin{}
	for i := range 100 {
		if err := s.Add(testOutPoint(i), testCoin(i), false); err != nil {
			t.Fatal(err)
		}
		want[testOutPoint(i)] = testCoin(i)
	}
	if err := s.Add(testOutPoint(3), testCoin(3), false); err == nil {
		t.Error("adding an unspent coin again without overwrite succeeded")
	}
	// Created and spent before any flush: nothing to write.
	if c, ok, err := s.Spend(testOutPoint(99)); err != nil || !ok || c.Out.Value != testCoin(99).Out.Value {
		t.Fatalf("spend 99: %v %v %v", c, ok, err)
	}
	delete(want, testOutPoint(99))
	s.SetBest(Best{Hash: chainhash.Hash{1}, Height: 1})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	var kb []byte
	if _, c, err := s.db.Get(coinKey(kb, testOutPoint(99))); !errors.Is(err, pebble.ErrNotFound) {
		if c != nil {
			c.Close()
		}
		t.Errorf("a coin created and spent before the flush is on disk: %v", err)
	}
	st := s.Stats()
	if st.Coins != 99 || st.MuHash != hashOf(want) || st.Flushed.Height != 1 {
		t.Errorf("after the first flush: %+v (want 99 coins, MuHash %v)", st, hashOf(want))
	}

	// Spend coins from disk, re-add one with other contents, overwrite one.
	for i := range 10 {
		if _, ok, err := s.Spend(testOutPoint(i)); err != nil || !ok {
			t.Fatalf("spend %d: %v %v", i, ok, err)
		}
		delete(want, testOutPoint(i))
	}
	if _, ok, _ := s.Spend(testOutPoint(0)); ok {
		t.Error("a spent coin was spent twice")
	}
	c5 := testCoin(500)
	if err := s.Add(testOutPoint(5), c5, false); err != nil {
		t.Fatal(err)
	}
	want[testOutPoint(5)] = c5
	c20 := testCoin(2000)
	if err := s.Add(testOutPoint(20), c20, true); err != nil {
		t.Fatal(err)
	}
	want[testOutPoint(20)] = c20
	s.SetBest(Best{Hash: chainhash.Hash{2}, Height: 2})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	st = s.Stats()
	if st.Coins != int64(len(want)) || st.MuHash != hashOf(want) {
		t.Errorf("after the second flush: %d coins, MuHash %v; want %d, %v", st.Coins, st.MuHash, len(want), hashOf(want))
	}

	// Unflushed changes are lost on close; the reopened set is the
	// flushed one.
	if _, _, err := s.Spend(testOutPoint(50)); err != nil {
		t.Fatal(err)
	}
	s.SetBest(Best{Hash: chainhash.Hash{3}, Height: 3})
	s.Close()
	r := openTest(t, dir, Options{})
	st = r.Stats()
	if st.Best.Height != 2 || st.Coins != int64(len(want)) || st.MuHash != hashOf(want) {
		t.Errorf("reopened: %+v", st)
	}
	for op, c := range want {
		got, ok, err := r.Get(op)
		if err != nil || !ok || got.Out.Value != c.Out.Value || string(got.Out.PkScript) != string(c.Out.PkScript) || got.Height != c.Height || got.Coinbase != c.Coinbase {
			t.Fatalf("coin %v: %+v %v %v, want %+v", op, got, ok, err, c)
		}
	}
	if _, ok, _ := r.Get(testOutPoint(3)); ok {
		t.Error("a spent coin is back after reopening")
	}
}

// TestStoreCacheBound: the cache's estimate grows with the coins held and
// NeedsFlush turns true at the bound; a flush empties it.
func TestStoreCacheBound(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{CacheBytes: 64 << 10})
	n := 0
	for !s.NeedsFlush() {
		if err := s.Add(testOutPoint(n), testCoin(n), false); err != nil {
			t.Fatal(err)
		}
		n++
		if n > 10_000 {
			t.Fatal("NeedsFlush never turned true")
		}
	}
	if per := s.Stats().CacheBytes / int64(n); per < entryOverhead {
		t.Errorf("estimated %d bytes per coin, below the overhead %d", per, entryOverhead)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if s.NeedsFlush() || s.Stats().CacheBytes != 0 {
		t.Errorf("after a flush: %d bytes cached", s.Stats().CacheBytes)
	}
}

// TestStoreWriteFailure: a commit that fails (a full disk) is reported as
// ErrWriteFailed, every later write is refused, and the disk keeps the last
// good flush.
func TestStoreWriteFailure(t *testing.T) {
	dir := t.TempDir()
	var failing bool
	diskFull := errors.New("no space left on device")
	s := openTest(t, dir, Options{FailWrites: func() error {
		if failing {
			return diskFull
		}
		return nil
	}})
	for i := range 10 {
		if err := s.Add(testOutPoint(i), testCoin(i), false); err != nil {
			t.Fatal(err)
		}
	}
	s.SetBest(Best{Hash: chainhash.Hash{1}, Height: 1})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	good := s.Stats()
	failing = true
	if _, _, err := s.Spend(testOutPoint(1)); err != nil {
		t.Fatal(err)
	}
	s.SetBest(Best{Hash: chainhash.Hash{2}, Height: 2})
	if err := s.Flush(); !errors.Is(err, ErrWriteFailed) || !errors.Is(err, diskFull) {
		t.Fatalf("flush on a full disk: %v", err)
	}
	if err := s.Add(testOutPoint(50), testCoin(50), false); !errors.Is(err, ErrWriteFailed) {
		t.Errorf("a write after the failure: %v", err)
	}
	s.Close()
	r := openTest(t, dir, Options{})
	if st := r.Stats(); st.Best != good.Best || st.Coins != good.Coins || st.MuHash != good.MuHash {
		t.Errorf("reopened after the failure: %+v, want %+v", st, good)
	}
	if _, ok, _ := r.Get(testOutPoint(1)); !ok {
		t.Error("the coin whose spend failed to flush is gone")
	}
}

// FuzzStoreReader writes arbitrary bytes where a coin belongs (a corrupt
// or hostile disk) and reads them: an error saying the store is corrupt,
// or a coin that encodes back to a value that decodes the same; never a
// panic.
func FuzzStoreReader(f *testing.F) {
	f.Add(AppendCoin(nil, &Coin{Out: wire.TxOut{Value: 5000, PkScript: make([]byte, 22)}, Height: 9}))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte{})
	dir := f.TempDir()
	s := openTest(f, dir, Options{})
	f.Fuzz(func(t *testing.T, value []byte) {
		op := testOutPoint(1)
		if err := s.db.Set(coinKey(nil, op), value, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		clear(s.cache)
		s.mu.Unlock()
		c, ok, err := s.Get(op)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		if !ok {
			t.Fatal("a stored coin was not found")
		}
		again, n, err := DecodeCoin(AppendCoin(nil, &c))
		if err != nil || again.Out.Value != c.Out.Value || again.Height != c.Height || again.Coinbase != c.Coinbase {
			t.Fatalf("re-encoded coin decodes to %+v (%d bytes, %v), want %+v", again, n, err, c)
		}
	})
}
