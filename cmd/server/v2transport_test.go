package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2/ellswift"
	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestV2WithBtcdBothWays: with btcd speaking BIP324 (--v2transport), our
// outbound connection to it is v2, and so are the connections of a second
// btcd that dials us; headers and blocks come over v2 one way and go the
// other way, and both ends report the same session: btcd says v2, we show
// the session id, and the key log holds the connection's line.
func TestV2WithBtcdBothWays(t *testing.T) {
	src := btcdtest.Start(t, btcdtest.Options{Args: []string{"--v2transport"}})
	const blocks = 300
	src.Generate(t, blocks)
	tip := src.BestBlockHash(t)
	keyLog := filepath.Join(t.TempDir(), "keys.log")
	n := startNode(t, "-connect="+src.P2PAddr(), "-v2keylog="+keyLog)
	var st engine.Status
	n.waitFor(60*time.Second, "the node to download btcd's blocks over v2", func() bool {
		n.get("/api/status", &st)
		return st.Blocks == blocks
	})
	if st.BestHash != tip {
		t.Fatalf("synced to %s, want %s", st.BestHash, tip)
	}
	p, ok := n.established("btcd")
	if !ok || p.Transport != "v2" || len(p.SessionID) != 64 {
		t.Fatalf("btcd peer: transport %q session %q", p.Transport, p.SessionID)
	}
	if ours := src.WaitForPeers(t, 10*time.Second, func(pi btcdtest.PeerInfo) bool { return strings.Contains(pi.SubVer, "watchnode") }); !ours.V2Connection {
		t.Errorf("btcd sees our connection as v1: %+v", ours)
	}
	for _, d := range n.disconnects() {
		t.Errorf("unexpected disconnect: %+v", d)
	}
	if st.DisconnectsByKind[p2p.DropV2Refused] != 0 {
		t.Errorf("a v2 btcd refused our key: %v", st.DisconnectsByKind)
	}
	if tt := st.Transports["v2"]; tt.Peers != 1 || tt.BytesRecv == 0 || st.Transports["v1"].Peers != 0 {
		t.Errorf("transports: %+v", st.Transports)
	}
	metrics := string(n.getRaw("/metrics"))
	for _, want := range []string{`watchnode_peers_by_transport{transport="v2"} 1`, `watchnode_peers_by_transport{transport="v1"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The key log: mode 0600, one line naming the session id we show.
	fi, err := os.Stat(keyLog)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key log: %v, mode %v", err, fi.Mode())
	}
	f, _ := os.Open(keyLog)
	entries, err := protocol.ReadV2KeyLog(f)
	f.Close()
	if err != nil || len(entries) != 1 || !strings.Contains(entries[0].String(), p.SessionID) {
		t.Fatalf("key log entries %v (%v), want one with session %s", entries, err, p.SessionID)
	}

	// A btcd that dials us speaks v2 too, and syncs every block from us.
	dst := btcdtest.Start(t, btcdtest.Options{Args: []string{"--v2transport", "--connect=" + n.p2p}})
	dst.WaitForBlockCount(t, blocks, 60*time.Second)
	if got := dst.BestBlockHash(t); got != tip {
		t.Fatalf("btcd synced from us to %s, want %s", got, tip)
	}
	if pi := dst.WaitForPeers(t, 10*time.Second, func(pi btcdtest.PeerInfo) bool { return strings.Contains(pi.SubVer, "watchnode") }); !pi.V2Connection {
		t.Errorf("the dialling btcd sees us as v1: %+v", pi)
	}
	var in engine.PeerInfo
	n.waitFor(10*time.Second, "the inbound btcd to be listed as v2", func() bool {
		for _, pi := range n.peers() {
			if pi.Inbound && pi.Transport == "v2" && pi.SessionID != "" {
				in = pi
				return true
			}
		}
		return false
	})
	if in.SessionID == p.SessionID {
		t.Errorf("two connections share session id %s", in.SessionID)
	}
}

// TestV2FallbackToV1OnlyBtcd: a btcd that speaks only v1 hangs up on our
// BIP324 key; the node redials it at once with v1, says why in the
// disconnect list, and remembers: when btcd comes back, the node dials it
// with v1 straight away.
func TestV2FallbackToV1OnlyBtcd(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{})
	n := startNode(t, "-connect="+btcd.P2PAddr())
	n.waitFor(15*time.Second, "btcd to be an established v1 peer", func() bool {
		p, ok := n.established("btcd")
		return ok && p.Transport == "v1"
	})
	// Counted by kind, not listed as a lost peer (TestMiningForFive-
	// MinutesDropsNobody holds the list empty).
	refused := func() uint64 {
		var st engine.Status
		n.get("/api/status", &st)
		return st.DisconnectsByKind[p2p.DropV2Refused]
	}
	if got := refused(); got != 1 {
		t.Errorf("%d v2-refused disconnects, want 1: %+v", got, n.disconnects())
	}
	btcd.Kill(t)
	n.waitFor(10*time.Second, "btcd to be gone", func() bool { return len(n.peers()) == 0 })
	btcd.Restart(t)
	n.waitFor(30*time.Second, "the node to reconnect with v1", func() bool {
		p, ok := n.established("btcd")
		return ok && p.Transport == "v1"
	})
	if got := refused(); got != 1 {
		t.Errorf("after reconnecting: %d v2-refused disconnects, want still 1 (the address is remembered as v1-only)", got)
	}
}

// TestInboundV1AndV2OnOnePort: a v1-only btcd and a v2 btcd dial the same
// port of ours; each is answered in its own transport.
func TestInboundV1AndV2OnOnePort(t *testing.T) {
	n := startNode(t)
	btcdtest.Start(t, btcdtest.Options{Args: []string{"--connect=" + n.p2p}})
	btcdtest.Start(t, btcdtest.Options{Args: []string{"--v2transport", "--connect=" + n.p2p}})
	n.waitFor(20*time.Second, "one v1 and one v2 inbound btcd", func() bool {
		v1, v2 := 0, 0
		for _, p := range n.peers() {
			if p.Inbound && p.Established && strings.Contains(p.UserAgent, "btcd") {
				switch p.Transport {
				case "v1":
					v1++
				case "v2":
					v2++
				}
			}
		}
		return v1 == 1 && v2 == 1
	})
}

// TestV2NodeToNode: two of our nodes speak v2 to each other by default
// and show the same session id; with -v2transport=0 on one side, they
// speak v1.
func TestV2NodeToNode(t *testing.T) {
	a := startNode(t)
	b := startNode(t, "-connect="+a.p2p)
	var pa, pb engine.PeerInfo
	a.waitFor(10*time.Second, "A to list B", func() bool { var ok bool; pa, ok = a.established("watchnode"); return ok })
	b.waitFor(10*time.Second, "B to list A", func() bool { var ok bool; pb, ok = b.established("watchnode"); return ok })
	if pa.Transport != "v2" || pb.Transport != "v2" || pa.SessionID == "" || pa.SessionID != pb.SessionID {
		t.Errorf("A sees %s %s, B sees %s %s", pa.Transport, pa.SessionID, pb.Transport, pb.SessionID)
	}
	if pa.Services&p2pV2 == 0 || pb.Services&p2pV2 == 0 {
		t.Errorf("NODE_P2P_V2 not offered: %x %x", pa.Services, pb.Services)
	}

	c := startNode(t, "-connect="+a.p2p, "-v2transport=0")
	var pc engine.PeerInfo
	c.waitFor(10*time.Second, "C to list A", func() bool { var ok bool; pc, ok = c.established("watchnode"); return ok })
	if pc.Transport != "v1" || pc.SessionID != "" || pc.Services&p2pV2 == 0 {
		t.Errorf("C (v1 only) sees A as %s %q services %x", pc.Transport, pc.SessionID, pc.Services)
	}
}

// p2pV2 is NODE_P2P_V2's bit.
const p2pV2 = 1 << 11

// v2Initiate runs the initiator's side of a BIP324 handshake with the node
// on r, by hand (key, garbage, terminator, version packet), and returns the
// cipher for what we send next.
func v2Initiate(t *testing.T, r *rawPeer) *protocol.V2Sender {
	t.Helper()
	priv, ours, err := ellswift.EllswiftCreate()
	if err != nil {
		t.Fatal(err)
	}
	garbage := []byte("hostile garbage")
	r.write(append(ours[:], garbage...))
	var theirs [64]byte
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(r.nc, theirs[:]); err != nil {
		t.Fatalf("reading the node's key: %v", err)
	}
	secret, err := ellswift.V2Ecdh(priv, theirs, ours, true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := protocol.DeriveV2Session(*secret, protocol.Regtest.Magic())
	if err != nil {
		t.Fatal(err)
	}
	send, err := s.Sender(true)
	if err != nil {
		t.Fatal(err)
	}
	term := s.SendTerminator(true)
	out, err := send.AppendPacket(term[:], garbage, false)
	if err != nil {
		t.Fatal(err)
	}
	r.write(out)
	return send
}

// junkAfterKey is 64 bytes that are not a v1 header, then more garbage
// than BIP324 allows, with no terminator.
func junkAfterKey() []byte {
	b := make([]byte, 64+protocol.V2MaxGarbage+protocol.V2TerminatorSize+100)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

// tamperedPacket is a ping whose authentication tag was changed.
func tamperedPacket(t *testing.T, s *protocol.V2Sender) []byte {
	p, err := s.AppendPacket(nil, nil, false, protocol.V2MessageType("ping"), make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	p[len(p)-1] ^= 1
	return p
}

// oversizedPacket is the length field of a packet one byte over the
// limit: the node must refuse it before the body comes.
func oversizedPacket(t *testing.T, s *protocol.V2Sender) []byte {
	p, err := s.AppendPacket(nil, nil, false, make([]byte, protocol.V2MaxContents+1))
	if err != nil {
		t.Fatal(err)
	}
	return p[:protocol.V2LengthSize]
}
