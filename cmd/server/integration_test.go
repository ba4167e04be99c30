package main

import (
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestBtcdHandshake: against a real btcd on regtest, the node completes the
// handshake and the API shows btcd with user agent, version, services and a
// measured ping; btcd sees us too.
func TestBtcdHandshake(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{})
	start := time.Now()
	n := startNode(t, "-connect="+btcd.P2PAddr())
	var p engine.PeerInfo
	n.waitFor(10*time.Second, "btcd to be an established peer", func() bool {
		var ok bool
		p, ok = n.established("btcd")
		return ok
	})
	t.Logf("handshake with btcd done %s after starting the node", time.Since(start).Round(time.Millisecond))
	if p.Inbound || p.ConnType != engine.Manual || p.Addr != btcd.P2PAddr() {
		t.Errorf("btcd peer: inbound=%v type=%s addr=%s, want outbound manual %s", p.Inbound, p.ConnType, p.Addr, btcd.P2PAddr())
	}
	if p.Version < 70015 || p.Services == 0 || len(p.ServiceNames) == 0 {
		t.Errorf("btcd peer: version %d services %d %v", p.Version, p.Services, p.ServiceNames)
	}
	if !p.Features.SendAddrV2 {
		t.Errorf("btcd negotiates sendaddrv2, features say %+v", p.Features)
	}
	n.waitFor(10*time.Second, "a measured ping", func() bool {
		p, _ = n.established("btcd")
		return p.PingMs > 0 && p.MinPingMs > 0
	})
	if p.MsgsRecv["version"].Messages != 1 || p.MsgsSent["version"].Messages != 1 || p.BytesRecv == 0 || p.BytesSent == 0 {
		t.Errorf("counters: sent %+v recv %+v", p.MsgsSent, p.MsgsRecv)
	}
	ours := btcd.WaitForPeers(t, 10*time.Second, func(pi btcdtest.PeerInfo) bool {
		return strings.Contains(pi.SubVer, "watchnode")
	})
	if !ours.Inbound || ours.Version != protocol.ProtocolVersion || ours.RelayTxes {
		t.Errorf("btcd sees us as %+v", ours)
	}
	var st engine.Status
	n.get("/api/status", &st)
	if st.Network != "regtest" || st.Peers != 1 || st.Outbound != 1 || st.BestHash == "" || !strings.Contains(st.Discovery, "-connect") {
		t.Errorf("status: %+v", st)
	}
}

// TestBtcdKilledAndRestarted: killing btcd shows a disconnect with its
// reason; restarting it brings a reconnect.
func TestBtcdKilledAndRestarted(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{})
	n := startNode(t, "-connect="+btcd.P2PAddr())
	n.waitFor(10*time.Second, "btcd to connect", func() bool { _, ok := n.established("btcd"); return ok })
	btcd.Kill(t)
	var d engine.Disconnect
	n.waitFor(10*time.Second, "the disconnect to be recorded", func() bool {
		for _, x := range n.disconnects() {
			if x.Addr == btcd.P2PAddr() {
				d = x
				return true
			}
		}
		return false
	})
	if d.Kind != engine.DropRemoteClose && d.Kind != engine.DropIOError || d.Reason == "" || d.UserAgent == "" {
		t.Errorf("disconnect after killing btcd: %+v", d)
	}
	t.Logf("disconnect recorded: %s (%s)", d.Reason, d.Kind)
	if ps := n.peers(); len(ps) != 0 {
		t.Errorf("peers after kill: %+v", ps)
	}
	btcd.Restart(t)
	n.waitFor(30*time.Second, "the node to reconnect to the restarted btcd", func() bool { _, ok := n.established("btcd"); return ok })
}

// TestTwoNodes: two of our nodes connect to each other, and each lists the
// other, one inbound and one outbound.
func TestTwoNodes(t *testing.T) {
	a := startNode(t)
	b := startNode(t, "-connect="+a.p2p)
	var pa, pb engine.PeerInfo
	a.waitFor(10*time.Second, "A to list B", func() bool { var ok bool; pa, ok = a.established("watchnode"); return ok })
	b.waitFor(10*time.Second, "B to list A", func() bool { var ok bool; pb, ok = b.established("watchnode"); return ok })
	if !pa.Inbound || pb.Inbound {
		t.Errorf("A sees B inbound=%v, B sees A inbound=%v; want true, false", pa.Inbound, pb.Inbound)
	}
	if pb.Addr != a.p2p {
		t.Errorf("B's peer address %s, want %s", pb.Addr, a.p2p)
	}
	if !pa.Features.SendAddrV2 || !pa.Features.WtxidRelay || !pb.Features.SendHeaders {
		t.Errorf("features: A sees %+v, B sees %+v", pa.Features, pb.Features)
	}
}

// TestOperatorAPI: mutating calls need the cookie token; with it, the
// operator connects, disconnects, bans and unbans.
func TestOperatorAPI(t *testing.T) {
	a := startNode(t)
	b := startNode(t)
	if code, body := b.call(http.MethodPost, "/api/peers", "", map[string]string{"addr": a.p2p}); code != http.StatusUnauthorized {
		t.Fatalf("connect without token: %d %s", code, body)
	}
	if code, _ := b.call(http.MethodPost, "/api/peers", "wrong", map[string]string{"addr": a.p2p}); code != http.StatusUnauthorized {
		t.Fatalf("connect with a wrong token: %d", code)
	}
	if code, body := b.call(http.MethodPost, "/api/peers", b.token(), map[string]string{"addr": a.p2p}); code != http.StatusAccepted {
		t.Fatalf("connect with token: %d %s", code, body)
	}
	var p engine.PeerInfo
	b.waitFor(10*time.Second, "B to connect to A", func() bool { var ok bool; p, ok = b.established("watchnode"); return ok })
	if p.ConnType != engine.Manual {
		t.Errorf("API connection type %s, want manual", p.ConnType)
	}
	path := "/api/peers/" + strconv.FormatUint(uint64(p.ID), 10)
	if code, _ := b.call(http.MethodDelete, path, "", nil); code != http.StatusUnauthorized {
		t.Errorf("disconnect without token: %d", code)
	}
	if code, body := b.call(http.MethodDelete, path, b.token(), nil); code != http.StatusOK {
		t.Fatalf("disconnect: %d %s", code, body)
	}
	ds := b.disconnects()
	if len(ds) == 0 || ds[0].Kind != engine.DropOperator {
		t.Errorf("disconnects after operator disconnect: %+v", ds)
	}
	if code, _ := b.call(http.MethodDelete, "/api/peers/999", b.token(), nil); code != http.StatusNotFound {
		t.Errorf("disconnecting an unknown peer: %d, want 404", code)
	}

	// A ban on A's side drops B and refuses it afterwards.
	b.call(http.MethodPost, "/api/peers", b.token(), map[string]string{"addr": a.p2p})
	a.waitFor(10*time.Second, "B to reconnect", func() bool { _, ok := a.established("watchnode"); return ok })
	if code, _ := a.call(http.MethodPost, "/api/bans", "", map[string]string{"addr": "127.0.0.1"}); code != http.StatusUnauthorized {
		t.Errorf("ban without token: %d", code)
	}
	if code, body := a.call(http.MethodPost, "/api/bans", a.token(), map[string]string{"addr": "127.0.0.1", "reason": "test ban"}); code != http.StatusCreated {
		t.Fatalf("ban: %d %s", code, body)
	}
	a.waitFor(5*time.Second, "the banned peer to be dropped", func() bool { return len(a.peers()) == 0 })
	var bans []engine.Ban
	a.get("/api/bans", &bans)
	if len(bans) != 1 || bans[0].Addr != "127.0.0.1" || !bans[0].Manual || bans[0].Reason != "test ban" {
		t.Errorf("bans: %+v", bans)
	}
	if code, _ := a.call(http.MethodDelete, "/api/bans/127.0.0.1", a.token(), nil); code != http.StatusOK {
		t.Errorf("unban: %d", code)
	}
	if code, _ := a.call(http.MethodDelete, "/api/bans/127.0.0.1", a.token(), nil); code != http.StatusNotFound {
		t.Errorf("second unban: %d, want 404", code)
	}
	a.waitFor(30*time.Second, "B to reconnect after the unban", func() bool { _, ok := a.established("watchnode"); return ok })
}

// TestBadInput: every kind of bad bytes from a peer drops that peer with a
// precise reason and discourages its address, while the node keeps serving
// its other peers.
func TestBadInput(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{})
	n := startNode(t, "-addnode="+btcd.P2PAddr())
	n.waitFor(10*time.Second, "btcd to connect", func() bool { _, ok := n.established("btcd"); return ok })

	version := func() []byte { return versionFrame(t, "/bad-input/", 42) }
	withMagic := func(f []byte, magic uint32) []byte {
		f = append([]byte(nil), f...)
		binary.LittleEndian.PutUint32(f, magic)
		return f
	}
	badChecksum := func() []byte {
		f := version()
		f[20] ^= 0xff
		return f
	}
	hugeLength := func() []byte {
		f := version()[:24]
		binary.LittleEndian.PutUint32(f[16:20], 0xffffffff)
		return f
	}
	cases := []struct {
		name   string
		bytes  []byte
		reason string
		// v2, when set, completes a BIP324 handshake with the node and
		// returns the hostile bytes to send after it.
		v2 func(t *testing.T, s *protocol.V2Sender) []byte
	}{
		{"wrong magic", withMagic(version(), uint32(wire.MainNet)), "wrong network magic", nil},
		{"bad checksum", badChecksum(), "checksum mismatch", nil},
		{"4 GB length", hugeLength(), "payload too large", nil},
		// A first message other than version is taken for a BIP324 key
		// (as Core takes it), so these follow a version.
		{"bad command", append(version(), append([]byte{0xfa, 0xbf, 0xb5, 0xda, 'v', 0, 'x'}, make([]byte, 17)...)...), "malformed command", nil},
		{"malformed version", regtestFrame(t, "version", []byte{1, 2, 3}), "malformed payload", nil},
		{"headers with 2001 entries", append(version(), regtestFrame(t, "headers", append([]byte{0xfd, 0xd1, 0x07}, make([]byte, 2001*81)...))...), "malformed payload", nil},
		// BIP324: a key and then no garbage terminator; a valid handshake
		// and then a packet that fails authentication, or one declared
		// longer than any message.
		{"BIP324 without a garbage terminator", junkAfterKey(), "no garbage terminator in the first 4111 bytes", nil},
		{"BIP324 packet failing authentication", nil, "authentication failed", tamperedPacket},
		{"BIP324 packet too long", nil, "contents of 4000014 bytes, limit 4000013", oversizedPacket},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(n.disconnects())
			r := dialRaw(t, n.p2p)
			if tc.v2 != nil {
				r.write(tc.v2(t, v2Initiate(t, r)))
			} else {
				r.write(tc.bytes)
			}
			if !r.closedByNode(10 * time.Second) {
				t.Fatalf("the node did not close the connection")
			}
			var d engine.Disconnect
			n.waitFor(5*time.Second, "the disconnect", func() bool {
				ds := n.disconnects()
				if len(ds) > before {
					d = ds[0]
					return true
				}
				return false
			})
			if d.Kind != engine.DropViolation || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("disconnect %+v, want a protocol violation mentioning %q", d, tc.reason)
			}
			var bans []engine.Ban
			n.get("/api/bans", &bans)
			if len(bans) != 1 || bans[0].Manual || bans[0].Until.Sub(bans[0].Created) != 24*time.Hour {
				t.Errorf("want a 24 h discouragement, bans: %+v", bans)
			}
			// Discouraged: a new connection from the same IP is refused.
			again := dialRaw(t, n.p2p)
			again.write(version())
			if !again.closedByNode(10 * time.Second) {
				t.Errorf("a discouraged address was not refused")
			}
			if code, body := n.call(http.MethodDelete, "/api/bans/127.0.0.1", n.token(), nil); code != http.StatusOK {
				t.Fatalf("lifting the discouragement: %d %s", code, body)
			}
		})
	}
	// btcd was never disturbed: its connection is manual (addnode), which a
	// discouragement of its IP does not touch.
	if _, ok := n.established("btcd"); !ok {
		t.Errorf("btcd connection lost while other peers misbehaved; peers: %+v", n.peers())
	}
}

// TestBadFlags: a bad flag or value prints a clear error and exits non-zero.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-network=bitcoin"},
		{"-maxpeers=0"},
		{"-maxoutbound=200"},
		{"-connect=nohost"},
		{"-listen=nonsense"},
		{"-http=nonsense"},
		{"-loglevel=loud"},
		{"-nosuchflag"},
		{"extra-argument"},
	} {
		var stderr strings.Builder
		code := run(t.Context(), "server", args, &stderr, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "server:") && !strings.Contains(stderr.String(), "flag provided but not defined") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}
