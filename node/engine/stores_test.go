package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestFreshStartSyncsBeforeTheStoresOpen: a node starting on an empty data
// folder starts its core without waiting for the block store and the UTXO
// set. Here they are held open-but-unattached, as a slow disk would: a
// peer connects, the headers sync, and the blocks the peer serves arrive
// and wait, none stored, none connected; another peer's getdata waits too.
// Once the stores are attached the held jobs run: the getdata is answered,
// and every block is stored and connected.
func TestFreshStartSyncsBeforeTheStoresOpen(t *testing.T) {
	const n = 20
	c := newGeneratedChain(t, blockgen.Options{Seed: 11, Blocks: n, Now: time.Now()})
	genesis := c.headers[0].BlockHash()
	held := make(chan struct{})
	r := startEngine(t, Config{Network: protocol.Regtest, DataDir: t.TempDir(), Listen: "127.0.0.1:0", storesHeld: held})
	var addr string
	waitFor(t, "the engine to listen", func() bool { addr = r.e.Snapshot().Status.Listen; return addr != "" })
	p := netPeer{dialRaw(t, addr), protocol.Regtest.Magic()}
	p.handshake(951, n)
	served := make(chan int, n+1)
	go c.serve(p, func(h int) []byte { served <- h; return c.raw[h] })

	waitFor(t, "the headers, with the stores held", func() bool { return r.e.Snapshot().Status.Headers == n })
	waitFor(t, "a block served, with the stores held", func() bool { return len(served) > 0 })
	waitFor(t, "the block to be received", func() bool { return r.e.Snapshot().Status.Sync.Blocks.Received > 0 })
	r.e.blocksMu.RLock()
	attached := r.e.blocks != nil || r.e.utxo != nil
	r.e.blocksMu.RUnlock()
	if attached {
		t.Fatal("the stores were attached while held")
	}
	if st := r.e.Snapshot().Status; st.Blocks != 0 {
		t.Fatalf("%d blocks connected before the stores were attached", st.Blocks)
	}
	if _, err := r.e.RawBlock(t.Context(), c.headers[1].BlockHash().String()); err == nil || !strings.Contains(err.Error(), "still opening") {
		t.Errorf("reading block 1 before the stores were attached: %v, want an error saying the stores are still opening", err)
	}

	// Another peer asks for the genesis block: the read waits for the
	// store, and is served once it is attached.
	q := netPeer{dialRaw(t, addr), protocol.Regtest.Magic()}
	q.handshake(952, 0)
	gd := wire.NewMsgGetData()
	gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &genesis))
	if err := q.sendMsgs(gd); err != nil {
		t.Fatal(err)
	}

	close(held)
	if m, ok := q.readUntil(wire.CmdBlock).(*wire.MsgBlock); !ok || m.BlockHash() != genesis {
		t.Errorf("asked for the genesis block while the stores were held, got %v", m)
	}
	waitForWithin(t, 30*time.Second, "every block connected", func() bool { return r.e.Snapshot().Status.Blocks == n })
	for h := 0; h <= n; h++ {
		raw, err := r.e.RawBlock(t.Context(), c.headers[h].BlockHash().String())
		if err != nil || string(raw) != string(c.raw[h]) {
			t.Errorf("block %d read back: %v (%d bytes, want %d)", h, err, len(raw), len(c.raw[h]))
		}
	}
	r.stop(t)
}

// TestFreshStartStoreFailureStopsTheNode: on a fresh start a store that
// cannot open is found after the first dial, not in New; the node stops
// with the reason, as New would have refused to start.
func TestFreshStartStoreFailureStopsTheNode(t *testing.T) {
	dir := t.TempDir()
	// A file where the UTXO set's folder must be.
	if err := os.WriteFile(filepath.Join(dir, "chainstate"), []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Network: protocol.Regtest, DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("New: %v (a fresh start opens its stores after New)", err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(t.Context()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "opening the stores") || !strings.Contains(err.Error(), "UTXO set") {
			t.Fatalf("Run returned %v, want the UTXO set's failure to open", err)
		}
		t.Logf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the node kept running without its UTXO set")
	}
}

// TestFreshStartStopsWhileTheStoresOpen: a node stopped before its
// stores are attached closes them itself (TestMain's leak check would find
// pebble's goroutines otherwise) and stops cleanly; the next start finds
// them as they were and attaches them.
func TestFreshStartStopsWhileTheStoresOpen(t *testing.T) {
	dir := t.TempDir()
	held := make(chan struct{}) // never closed: the stores stay held
	r := startEngine(t, Config{Network: protocol.Regtest, DataDir: dir, Listen: "127.0.0.1:0", storesHeld: held})
	waitFor(t, "the engine to listen", func() bool { return r.e.Snapshot().Status.Listen != "" })
	r.stop(t)

	r = startEngine(t, Config{Network: protocol.Regtest, DataDir: dir, Listen: "127.0.0.1:0"})
	waitFor(t, "the stores attached", func() bool { return r.e.Snapshot().Status.UTXO != nil })
	if got := len(storedHashes(t, r.e)); got != 1 {
		t.Errorf("%d blocks stored, want the genesis block alone", got)
	}
	r.stop(t)
}
