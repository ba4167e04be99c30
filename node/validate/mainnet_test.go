package validate

import (
	"maps"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
	"github.com/watchnode/watchnode/node/utxo"
)

// TestMainnetBlocks connects btcd's 14,132 real mainnet blocks on a UTXO
// store with a small cache (so it flushes often), verifying every
// signature (as -assumevalid=0), and a copy on a MemoryView. The store's
// MuHash after the last flush must equal one computed from scratch over the
// MemoryView's coins, and the coin counts must agree. Then the last 100
// blocks are disconnected with their undo data (the set must return to
// what it was at 14,031: same MuHash and count) and connected again (same
// as before).
func TestMainnetBlocks(t *testing.T) {
	raw := mainnetdata.BtcdBlocks(t)
	p := consensus.ParamsFor(protocol.Mainnet)
	store, err := utxo.Open(utxo.Options{Dir: t.TempDir(), CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	onStore := newTestChain(t, p, store)
	mem := MemoryView{}
	inMemory := newTestChain(t, p, mem)

	const back = 100
	tip := int32(len(raw) - 1)
	var atFork utxo.Stats
	var memAtFork MemoryView
	inputs := 0
	for h := int32(1); h <= tip; h++ {
		b := decode(t, raw[h])
		res := onStore.mustConnect(b, false)
		inMemory.mustConnect(b, true)
		inputs += res.Inputs
		if res.ScriptsChecked != res.Inputs {
			t.Fatalf("block %d: %d of %d inputs' scripts checked", h, res.ScriptsChecked, res.Inputs)
		}
		if store.NeedsFlush() || h == tip-back {
			if err := store.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if h == tip-back {
			atFork, memAtFork = store.Stats(), maps.Clone(mem)
		}
	}
	// Every input of the file was checked: count them from the blocks.
	want := 0
	for _, r := range raw[1:] {
		for _, tx := range decode(t, r).Msg.Transactions[1:] {
			want += len(tx.TxIn)
		}
	}
	if inputs != want || want == 0 {
		t.Fatalf("%d inputs spent and verified, the blocks have %d", inputs, want)
	}
	if err := store.Flush(); err != nil {
		t.Fatal(err)
	}
	final := store.Stats()
	if final.Coins != int64(len(mem)) {
		t.Errorf("store counts %d coins, the map holds %d", final.Coins, len(mem))
	}
	if want := setHash(mem); final.MuHash != want {
		t.Errorf("store's MuHash %v, from scratch %v", final.MuHash, want)
	}
	if final.Flushed.Height != tip || final.Flushed.Hash != decode(t, raw[tip]).Hash {
		t.Errorf("flushed best %+v", final.Flushed)
	}
	t.Logf("%d blocks, %d inputs verified, %d coins, MuHash %v", tip, inputs, final.Coins, final.MuHash)

	// Back 100 blocks and forward again.
	for range back {
		onStore.disconnectTip()
		inMemory.disconnectTip()
	}
	if err := store.Flush(); err != nil {
		t.Fatal(err)
	}
	if st := store.Stats(); st.MuHash != atFork.MuHash || st.Coins != atFork.Coins {
		t.Errorf("after disconnecting %d blocks: MuHash %v, %d coins; at %d it was %v, %d", back, st.MuHash, st.Coins, tip-back, atFork.MuHash, atFork.Coins)
	}
	if !equalViews(mem, memAtFork) {
		t.Errorf("the map after disconnecting differs from the map at %d", tip-back)
	}
	for h := tip - back + 1; h <= tip; h++ {
		b := decode(t, raw[h])
		onStore.mustConnect(b, false)
	}
	if err := store.Flush(); err != nil {
		t.Fatal(err)
	}
	if st := store.Stats(); st.MuHash != final.MuHash || st.Coins != final.Coins {
		t.Errorf("after reconnecting: MuHash %v, %d coins; want %v, %d", st.MuHash, st.Coins, final.MuHash, final.Coins)
	}

	// Reopened, the store reflects the tip it flushed.
	store.Close()
	again, err := utxo.Open(utxo.Options{Dir: store.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if st := again.Stats(); st.MuHash != final.MuHash || st.Coins != final.Coins || st.Best.Height != tip {
		t.Errorf("reopened: %+v", st)
	}
	var zero chainhash.Hash
	if final.MuHash == zero {
		t.Error("zero MuHash")
	}
}

// equalViews compares two views coin by coin (Coin holds a slice, so
// maps.Equal cannot).
func equalViews(a, b MemoryView) bool {
	if len(a) != len(b) {
		return false
	}
	for op, ca := range a {
		cb, ok := b[op]
		if !ok || ca.Height != cb.Height || ca.Coinbase != cb.Coinbase || ca.Out.Value != cb.Out.Value || string(ca.Out.PkScript) != string(cb.Out.PkScript) {
			return false
		}
	}
	return true
}
