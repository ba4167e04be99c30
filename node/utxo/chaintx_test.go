package utxo

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestChainTxSurvivesAFlush: the chain's transaction count goes to disk
// with the best block and comes back at the next open; a record written
// before the count was kept reads as unknown (0), not as corrupt.
func TestChainTxSurvivesAFlush(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{Dir: dir})
	want := Best{Height: 7, ChainTx: 12_345}
	want.Hash[0] = 1
	s.SetBest(want)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir, Options{Dir: dir})
	if got := s.Best(); got != want {
		t.Fatalf("best after reopening %+v, want %+v", got, want)
	}
	// Cut the record to its old size, as an older version wrote it.
	v, c, err := s.db.Get([]byte(keyBest))
	if err != nil {
		t.Fatal(err)
	}
	old := append([]byte(nil), v[:oldBestRecordSize]...)
	c.Close()
	if err := s.db.Set([]byte(keyBest), old, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir, Options{Dir: dir})
	if got := s.Best(); got.Height != 7 || got.ChainTx != 0 {
		t.Fatalf("best from an old record %+v, want height 7 and an unknown (0) count", got)
	}
}
