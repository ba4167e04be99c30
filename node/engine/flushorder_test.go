package engine

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/protocol"
)

// heldSyncFile is a header store file whose fsyncs wait until release is
// called: a disk that takes its time to make the headers durable.
type heldSyncFile struct {
	*os.File
	held   chan struct{}
	once   sync.Once
	synced atomic.Int32 // fsyncs begun
}

func newHeldSyncFile(f *os.File) *heldSyncFile {
	return &heldSyncFile{File: f, held: make(chan struct{})}
}

func (f *heldSyncFile) Sync() error {
	f.synced.Add(1)
	<-f.held
	return f.File.Sync()
}

func (f *heldSyncFile) release() { f.once.Do(func() { close(f.held) }) }

// TestUTXOFlushWaitsForTheHeaderStore: the UTXO set's best block must
// keep its header through a power loss, so the connector makes the header
// store durable before it commits the set (Core writes its block index
// before the chain state). With the header store's fsync held, the node
// still downloads and connects every block, but the set is not committed,
// though its idle flush is due, until that fsync returns.
func TestUTXOFlushWaitsForTheHeaderStore(t *testing.T) {
	const n = 30
	c := newGeneratedChain(t, blockgen.Options{Seed: 23, Blocks: n, TxPerBlock: 2, Now: time.Now()})
	var held *heldSyncFile // set by New, which startEngine calls on this goroutine
	var commits atomic.Int32
	cfg := Config{
		Network: protocol.Regtest, DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		LookupHost: func(context.Context, string) ([]string, error) { return nil, errors.New("no DNS in this test") },
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("no dialling out in this test")
		},
		storeFile: func(f *os.File) chain.WritableFile {
			held = newHeldSyncFile(f)
			return held
		},
		utxoFailWrites: func() error { commits.Add(1); return nil },
	}
	r := startEngine(t, cfg)
	// Cleanups run last first: the fsync is released before the engine
	// stops (its final flush waits for it too), even when the test fails.
	t.Cleanup(held.release)
	var addr string
	waitFor(t, "the engine to listen", func() bool { addr = r.e.Snapshot().Status.Listen; return addr != "" })

	p := netPeer{dialRaw(t, addr), protocol.Regtest.Magic()}
	p.handshake(932, n)
	go c.serve(p, func(h int) []byte { return c.raw[h] })
	waitForWithin(t, 30*time.Second, "every block connected", func() bool {
		st := r.e.Snapshot().Status
		return st.Headers == n && st.Blocks == n
	})
	if held.synced.Load() == 0 {
		t.Fatal("the header store never began an fsync")
	}
	// The connector flushes the set once idle for idleFlush.
	time.Sleep(idleFlush + 2*time.Second)
	if got := commits.Load(); got != 0 {
		t.Fatalf("the UTXO set was committed %d times while the header store's fsync was held", got)
	}
	held.release()
	waitForWithin(t, 10*time.Second, "the set committed once the headers are durable", func() bool { return commits.Load() > 0 })
	if u := r.e.Snapshot().Status.UTXO; u == nil || u.Height != n {
		t.Fatalf("UTXO set after the flush: %+v, want height %d", u, n)
	}
}
