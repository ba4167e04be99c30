package engine

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// running is an engine running in a goroutine.
type running struct {
	e      *Engine
	cancel context.CancelFunc
	err    chan error
}

func startEngine(t *testing.T, cfg Config) *running {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{e: e, cancel: cancel, err: make(chan error, 1)}
	go func() { r.err <- e.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the engine and checks that Run returns nil promptly. It is
// idempotent.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.err:
		if ok && err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		if ok {
			close(r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancellation")
	}
}

// waitFor polls cond every 10ms until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func establishedPeer(s *Snapshot, ct ConnType) (PeerInfo, bool) {
	for _, p := range s.Peers {
		if p.ConnType == ct && p.Established {
			return p, true
		}
	}
	return PeerInfo{}, false
}

func TestTwoEnginesOverTCP(t *testing.T) {
	a := startEngine(t, Config{Network: protocol.Regtest, Listen: "127.0.0.1:0", UserAgent: "/a:1/"})
	var listen string
	waitFor(t, "A to listen", func() bool {
		listen = a.e.Snapshot().Status.Listen
		return listen != ""
	})
	b := startEngine(t, Config{Network: protocol.Regtest, Connect: []string{listen}, UserAgent: "/b:1/"})

	var inA, outB PeerInfo
	waitFor(t, "both sides to list the other as established", func() bool {
		var okA, okB bool
		inA, okA = establishedPeer(a.e.Snapshot(), Inbound)
		outB, okB = establishedPeer(b.e.Snapshot(), Manual)
		return okA && okB
	})
	if inA.UserAgent != "/b:1/" || outB.UserAgent != "/a:1/" {
		t.Errorf("user agents: A sees %q, B sees %q", inA.UserAgent, outB.UserAgent)
	}
	if outB.Addr != listen || !inA.Inbound || outB.Inbound {
		t.Errorf("A's view %+v, B's view %+v", inA, outB)
	}
	if !outB.Features.WtxidRelay || !outB.Features.SendAddrV2 || !inA.Features.SendHeaders {
		t.Errorf("features not negotiated: A sees %+v, B sees %+v", inA.Features, outB.Features)
	}
	// Real bytes flowed and were counted by the connection.
	waitFor(t, "traffic counters", func() bool {
		p, ok := establishedPeer(b.e.Snapshot(), Manual)
		return ok && p.BytesSent > 0 && p.BytesRecv > 0 && p.MsgsRecv[wire.CmdVerAck].Messages == 1
	})

	b.stop(t)
	a.stop(t)
	if s := b.e.Snapshot(); len(s.Peers) != 0 || len(s.Disconnects) == 0 || s.Disconnects[0].Kind != DropShutdown {
		t.Errorf("B after shutdown: %d peers, disconnects %+v", len(s.Peers), s.Disconnects)
	}
}

func TestEngineAPI(t *testing.T) {
	dir := t.TempDir()
	r := startEngine(t, Config{Network: protocol.Regtest, DataDir: dir})
	ctx := context.Background()

	ban, err := r.e.Ban(ctx, "203.0.113.5:8333", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ban.Addr != "203.0.113.5" || !ban.Manual || ban.Reason != "banned by the operator" || ban.Until.Sub(ban.Created) != 24*time.Hour {
		t.Errorf("ban = %+v", ban)
	}
	if bans := r.e.Snapshot().Bans; len(bans) != 1 || bans[0].Addr != "203.0.113.5" {
		t.Errorf("snapshot bans = %+v", bans)
	}
	if _, err := os.Stat(filepath.Join(dir, "bans.json")); err != nil {
		t.Errorf("ban not persisted: %v", err)
	}
	if _, err := r.e.Ban(ctx, "nonsense", "", 0); err == nil {
		t.Error("Ban accepted a non-address")
	}
	if found, err := r.e.Unban(ctx, "203.0.113.5"); !found || err != nil {
		t.Errorf("Unban = %v, %v", found, err)
	}
	if found, _ := r.e.Unban(ctx, "203.0.113.5"); found {
		t.Error("Unban found a ban twice")
	}
	if err := r.e.Disconnect(ctx, 12345); !errors.Is(err, ErrNoSuchPeer) {
		t.Errorf("Disconnect(unknown) = %v", err)
	}
	if err := r.e.Connect(ctx, "no-port"); err == nil {
		t.Error("Connect accepted an address without a port")
	}

	r.stop(t)
	if _, err := r.e.Ban(ctx, "203.0.113.6", "", 0); !errors.Is(err, errStopped) {
		t.Errorf("Ban after stop = %v, want errStopped", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "peers.json")); err != nil {
		t.Errorf("address book not saved at shutdown: %v", err)
	}
}

// Peers that keep the engine busy must not starve its timers: pings,
// handshake and ping timeouts, and snapshots all run from the ticker. Several
// peers' readers decode in parallel while one goroutine serves them all, so
// on a machine with enough cores a flood from a handful of peers keeps some
// inbound queue non-empty at every serveRound. (With few cores the queues
// drain now and then and the ticker gets its turn anyway, so this test can
// only catch a regression where there are cores to spare.)
func TestBusyPeersDoNotStarveTimers(t *testing.T) {
	r := startEngine(t, Config{Network: protocol.Regtest})
	var queues []*peer.InQueue
	err := r.e.do(context.Background(), func(now time.Time) error {
		for i := range 8 {
			in := peer.NewInQueue(1<<12, r.e.notify)
			queues = append(queues, in)
			r.e.lastID++
			addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 18444)
			p := r.e.addPeer(r.e.lastID, &fakeLink{}, in, peer.NewOutQueue(outQueueLimit), addr, Inbound, now)
			p.version, p.verackRecv = peerVersion(70016), true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, in := range queues {
		for range 2 {
			wg.Go(func() {
				// Headers announcements: allowed unsolicited, no answer.
				// Push until the engine drops the peer at shutdown.
				for in.Push(peer.Inbound{Msg: wire.NewMsgHeaders(), Command: wire.CmdHeaders, Size: 1}) {
				}
			})
		}
	}
	defer wg.Wait()
	defer r.stop(t)

	first := r.e.Snapshot().Time
	waitFor(t, "a snapshot from the ticker while peers flood", func() bool {
		return r.e.Snapshot().Time.After(first.Add(300 * time.Millisecond))
	})
}
