package blockgen

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
)

var fixedNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// TestStructure checks merkle roots, BIP34 heights and determinism.
func TestStructure(t *testing.T) {
	a, err := Generate(Options{Seed: 1, Blocks: 20, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(Options{Seed: 1, Blocks: 20, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	for i, blk := range a.Blocks {
		if got := merkleRoot(blk.Transactions); got != blk.Header.MerkleRoot {
			t.Errorf("block %d: merkle root mismatch", i+1)
		}
		if !bytes.Equal(a.Raw(i), b.Raw(i)) {
			t.Errorf("block %d differs for the same seed", i+1)
		}
		if !blk.Header.Timestamp.Before(fixedNow) {
			t.Errorf("block %d in the future", i+1)
		}
	}
}

// TestBtcdAccepts submits the chain to a real btcd, which validates fully.
func TestBtcdAccepts(t *testing.T) {
	c, err := Generate(Options{Seed: 7, Blocks: 30})
	if err != nil {
		t.Fatal(err)
	}
	n := btcdtest.Start(t, btcdtest.Options{})
	raw := make([]string, len(c.Blocks))
	for i := range c.Blocks {
		raw[i] = hex.EncodeToString(c.Raw(i))
	}
	n.SubmitBlocks(t, raw)
	if got := n.BlockCount(t); got != len(c.Blocks) {
		t.Fatalf("block count %d, want %d", got, len(c.Blocks))
	}
	if got, want := n.BestBlockHash(t), c.Blocks[len(c.Blocks)-1].BlockHash().String(); got != want {
		t.Fatalf("best block %s, want %s", got, want)
	}
}
