package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
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
	once   sync.Once
	result error
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

// wait waits for Run to return (by itself or after stop) and returns its
// error. It is idempotent.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	r.once.Do(func() {
		select {
		case r.result = <-r.err:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s")
		}
	})
	return r.result
}

// stop cancels the engine and checks that Run returns nil promptly.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := r.wait(t); err != nil && !t.Failed() {
		t.Errorf("Run returned %v, want nil", err)
	}
}

// waitFor polls cond every 10ms until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForWithin(t, 10*time.Second, what, cond)
}

// waitForWithin is waitFor with its own guard.
func waitForWithin(t *testing.T, guard time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
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

// listening starts an engine that listens on loopback and returns its
// address.
func listening(t *testing.T, cfg Config) (*running, string) {
	t.Helper()
	cfg.Network, cfg.Listen = protocol.Regtest, "127.0.0.1:0"
	r := startEngine(t, cfg)
	var addr string
	waitFor(t, "the engine to listen", func() bool {
		addr = r.e.Snapshot().Status.Listen
		return addr != ""
	})
	return r, addr
}

func TestTwoEnginesOverTCP(t *testing.T) {
	a, listen := listening(t, Config{UserAgent: "/a:1/"})
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
	if st := b.e.Snapshot().Status; st.BytesSent == 0 || st.MsgsRecv[wire.CmdVerAck].Messages != 1 {
		t.Errorf("closed connections' traffic lost from the totals: %d bytes sent, %v", st.BytesSent, st.MsgsRecv)
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
	waitFor(t, "the ban list to be saved", func() bool {
		bans, err := loadBans(filepath.Join(dir, "bans.json"))
		return err == nil && len(bans) == 1
	})
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
	if bans, err := loadBans(filepath.Join(dir, "bans.json")); err != nil || len(bans) != 0 {
		t.Errorf("unban not saved: %v %v", bans, err)
	}
	if _, err := r.e.Ban(ctx, "203.0.113.6", "", 0); !errors.Is(err, errStopped) {
		t.Errorf("Ban after stop = %v, want errStopped", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "peers.json")); err != nil {
		t.Errorf("address book not saved at shutdown: %v", err)
	}
}

func TestBanFileErrors(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"corrupt": "{not json",
		"version": `{"version": 2, "bans": []}`,
		"addr":    `{"version": 1, "bans": [{"addr": "not-an-ip"}]}`,
	} {
		path := filepath.Join(dir, name+".json")
		os.WriteFile(path, []byte(content), 0o600)
		if _, err := loadBans(path); err == nil {
			t.Errorf("%s ban file loaded without error", name)
		}
	}
	// And New refuses to start with a corrupt one rather than forget bans.
	os.WriteFile(filepath.Join(dir, "bans.json"), []byte("{not json"), 0o600)
	if _, err := New(Config{Network: protocol.Regtest, DataDir: dir}); err == nil {
		t.Error("New accepted a corrupt ban file")
	}
}

func TestConfigDefaults(t *testing.T) {
	for _, bad := range []Config{
		{Network: "nonet"},
		{MaxPeers: -1},
		{MaxPeers: 4, MaxOutbound: 8},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
	c := Config{}
	if err := c.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.Network != protocol.Mainnet || c.MaxPeers != DefaultMaxPeers || c.PingTimeout != DefaultPingTimeout || c.UserAgent != DefaultUserAgent || c.DialTimeout != DefaultDialTimeout {
		t.Errorf("defaults %+v", c)
	}
}

// Peers that keep the engine busy must not starve its timers: pings,
// handshake and ping timeouts, and snapshots all run from the ticker.
// Several peers' readers decode in parallel while one goroutine serves them
// all, so a flood from a handful of peers can keep some inbound queue
// non-empty at every round.
func TestBusyPeersDoNotStarveTimers(t *testing.T) {
	r, addr := listening(t, Config{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer r.stop(t)
	// Headers announcements: allowed unsolicited, no answer.
	announce := frame(t, wire.NewMsgHeaders())
	var flood []byte
	for range 1000 {
		flood = append(flood, announce...)
	}
	for i := range 8 {
		p := dialRaw(t, addr)
		p.handshake(uint64(100 + i))
		p.discard()
		wg.Go(func() {
			for p.write(flood) == nil {
			}
		})
	}
	first := r.e.Snapshot().Time
	waitFor(t, "a snapshot from the ticker while peers flood", func() bool {
		return r.e.Snapshot().Time.After(first.Add(300 * time.Millisecond))
	})
}

// A read never involves the engine goroutine: the chain's views answer
// header lookups even when the engine is not running at all (before the
// change, every lookup waited for the engine's loop and published a
// snapshot).
func TestReadsNeedNoEngineLoop(t *testing.T) {
	e, err := New(Config{Network: protocol.Regtest})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	before := e.Snapshot()
	hv, err := e.Header(ctx, "0")
	if err != nil || hv.Hash != protocol.Regtest.Params().GenesisHash.String() {
		t.Fatalf("Header(0) = %+v, %v", hv, err)
	}
	if _, err := e.Header(ctx, hv.Hash); err != nil {
		t.Fatalf("Header(genesis hash): %v", err)
	}
	if tips, err := e.Tips(ctx); err != nil || len(tips) != 1 || tips[0].Status != "active" {
		t.Fatalf("Tips = %+v, %v", tips, err)
	}
	if e.Snapshot() != before {
		t.Error("a read published a snapshot")
	}
	if _, err := e.Header(ctx, "1"); !errors.Is(err, ErrUnknownHeader) {
		t.Errorf("Header(1) on a genesis-only chain: %v", err)
	}
}
