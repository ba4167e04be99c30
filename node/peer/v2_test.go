package peer

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2/ellswift"
	"github.com/btcsuite/btcd/v2transport"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

func withTransport(tr Transport) option {
	return func(_ *harness, cfg *Config) { cfg.Transport = tr }
}

// keyLog collects the key log entries a Conn hands out.
type keyLog struct {
	mu      sync.Mutex
	entries []protocol.V2KeyLogEntry
}

func (k *keyLog) add(e protocol.V2KeyLogEntry) {
	k.mu.Lock()
	k.entries = append(k.entries, e)
	k.mu.Unlock()
}

func withKeyLog(k *keyLog) option { return func(_ *harness, cfg *Config) { cfg.KeyLog = k.add } }

// btcdV2 is btcd's own BIP324 implementation on the test's end of the
// socket: the counterpart our handshake and packets must agree with.
type btcdV2 struct {
	t *testing.T
	p *v2transport.Peer
}

func newBtcdV2(t *testing.T, remote net.Conn) *btcdV2 {
	p := v2transport.NewPeer()
	p.UseReadWriter(remote)
	remote.SetDeadline(time.Now().Add(guard))
	return &btcdV2{t: t, p: p}
}

func (b *btcdV2) respond() {
	b.t.Helper()
	if err := b.p.RespondV2Handshake(1000, v2transport.BitcoinNet(magic)); err != nil {
		b.t.Fatalf("btcd responder: %v", err)
	}
	if err := b.p.CompleteHandshake(false, []int{7, 0}, v2transport.BitcoinNet(magic)); err != nil {
		b.t.Fatalf("btcd responder completing: %v", err)
	}
}

func (b *btcdV2) send(msg wire.Message) {
	b.t.Helper()
	var buf bytes.Buffer
	if _, err := wire.WriteV2MessageN(&buf, msg, wire.ProtocolVersion, wire.LatestEncoding); err != nil {
		b.t.Fatal(err)
	}
	if _, _, err := b.p.V2EncPacket(buf.Bytes(), nil, false); err != nil {
		b.t.Fatalf("btcd sending %s: %v", msg.Command(), err)
	}
}

func (b *btcdV2) recv() wire.Message {
	b.t.Helper()
	plain, err := b.p.V2ReceivePacket(nil)
	if err != nil {
		b.t.Fatalf("btcd receiving: %v", err)
	}
	msg, _, err := wire.ReadV2MessageN(plain, wire.ProtocolVersion, wire.LatestEncoding)
	if err != nil {
		b.t.Fatalf("btcd decoding %x: %v", plain[:min(len(plain), 16)], err)
	}
	return msg
}

// Our initiator against btcd's responder: the handshake agrees, messages
// go both ways with short and long ids, btcd's decoys are skipped, and the
// session id and key log entry are the connection's.
func TestV2InitiatorAgainstBtcd(t *testing.T) {
	local, remote := tcpPair(t)
	var kl keyLog
	h := start(t, local, remote, withTransport(TransportV2), withKeyLog(&kl),
		withQueued(outbound(t, wire.NewMsgPing(7), true, 0), outbound(t, wire.NewMsgSendAddrV2(), true, 0)))
	b := newBtcdV2(t, remote)
	b.respond()
	if ping, ok := b.recv().(*wire.MsgPing); !ok || ping.Nonce != 7 {
		t.Fatalf("btcd got %v, want ping 7", ping)
	}
	if _, ok := b.recv().(*wire.MsgSendAddrV2); !ok {
		t.Fatal("btcd did not get sendaddrv2 (a long message type)")
	}
	b.send(wire.NewMsgPong(7))
	b.send(wire.NewMsgVerAck())
	got := h.pop(t, 2)
	if pong, ok := got[0].Msg.(*wire.MsgPong); !ok || pong.Nonce != 7 || got[1].Command != wire.CmdVerAck {
		t.Fatalf("got %s, %s", got[0].Command, got[1].Command)
	}
	if h.c.Transport() != TransportNameV2 || len(h.c.SessionID()) != 64 {
		t.Errorf("transport %q session %q", h.c.Transport(), h.c.SessionID())
	}
	kl.mu.Lock()
	defer kl.mu.Unlock()
	if len(kl.entries) != 1 || hex.EncodeToString(kl.entries[0].SessionID[:]) != h.c.SessionID() || kl.entries[0].Magic != magic {
		t.Fatalf("key log %v, session %s", kl.entries, h.c.SessionID())
	}
	// The logged size is the packet's: 1-byte type, 8-byte nonce, 20 bytes
	// of BIP324 overhead.
	if r, _, ok := h.log.find(false, wire.CmdPing); !ok || r.Size != 1+8+protocol.V2Overhead {
		t.Errorf("ping logged with size %d", r.Size)
	}
}

// Our inbound side answers btcd's initiator as v2, and a v1 peer as v1, on
// the same kind of socket.
func TestDetectAnswersV2AndV1(t *testing.T) {
	local, remote := tcpPair(t)
	h := start(t, local, remote, withTransport(TransportDetect), withQueued(outbound(t, wire.NewMsgPing(9), true, 0)))
	b := newBtcdV2(t, remote)
	if err := b.p.InitiateV2Handshake(4095); err != nil {
		t.Fatal(err)
	}
	if err := b.p.CompleteHandshake(true, []int{100}, v2transport.BitcoinNet(magic)); err != nil {
		t.Fatalf("btcd initiator: %v", err)
	}
	b.send(wire.NewMsgPing(3))
	if m := h.pop(t, 1)[0]; m.Command != wire.CmdPing {
		t.Fatalf("got %s", m.Command)
	}
	if ping, ok := b.recv().(*wire.MsgPing); !ok || ping.Nonce != 9 {
		t.Fatalf("btcd got %v", ping)
	}
	if h.c.Transport() != TransportNameV2 {
		t.Errorf("transport %q", h.c.Transport())
	}

	h1 := startPipe(t, withTransport(TransportDetect))
	h1.send(frameOf(t, wire.NewMsgVersion(wire.NewNetAddressIPPort(net.IPv4zero, 0, 0), wire.NewNetAddressIPPort(net.IPv4zero, 0, 0), 1, 0)))
	if m := h1.pop(t, 1)[0]; m.Command != wire.CmdVersion {
		t.Fatalf("v1 peer: got %s", m.Command)
	}
	if h1.c.Transport() != TransportNameV1 || h1.c.SessionID() != "" {
		t.Errorf("v1 peer: transport %q session %q", h1.c.Transport(), h1.c.SessionID())
	}
}

// Two of our connections agree with each other: the same session id on
// both ends, messages both ways.
func TestV2OurselvesBothEnds(t *testing.T) {
	a, b := tcpPair(t)
	ha := start(t, a, b, withTransport(TransportV2), withQueued(outbound(t, wire.NewMsgPing(1), true, 0)))
	hb := start(t, b, a, withTransport(TransportDetect), withQueued(outbound(t, wire.NewMsgPing(2), true, 0)))
	if m := hb.pop(t, 1)[0].Msg.(*wire.MsgPing); m.Nonce != 1 {
		t.Fatalf("responder got nonce %d", m.Nonce)
	}
	if m := ha.pop(t, 1)[0].Msg.(*wire.MsgPing); m.Nonce != 2 {
		t.Fatalf("initiator got nonce %d", m.Nonce)
	}
	if ha.c.SessionID() == "" || ha.c.SessionID() != hb.c.SessionID() {
		t.Errorf("session ids %q and %q", ha.c.SessionID(), hb.c.SessionID())
	}
}

// A v1-only peer reads our key as a bad header and hangs up: the error
// says to retry with v1.
func TestV2RefusedByV1OnlyPeer(t *testing.T) {
	h := startPipe(t, withTransport(TransportV2))
	key := make([]byte, 64)
	if _, err := h.remote.Read(key); err != nil {
		t.Fatal(err)
	}
	h.remote.Close()
	if err := h.rep.closeErr(t); !errors.Is(err, protocol.ErrV2Refused) {
		t.Fatalf("closed with %v, want ErrV2Refused", err)
	}
}

// rawV2 is a hand-driven BIP324 responder for hostile cases: it completes
// the handshake correctly, then sends whatever the test makes.
type rawV2 struct {
	remote net.Conn
	send   *protocol.V2Sender
}

// respondRaw answers our initiator's key with a valid handshake.
func respondRaw(t *testing.T, remote net.Conn) *rawV2 {
	t.Helper()
	var theirs [64]byte
	if _, err := readFull(remote, theirs[:]); err != nil {
		t.Fatal(err)
	}
	priv, ours, err := ellswift.EllswiftCreate()
	if err != nil {
		t.Fatal(err)
	}
	secret, err := ellswift.V2Ecdh(priv, theirs, ours, false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := protocol.DeriveV2Session(*secret, magic)
	if err != nil {
		t.Fatal(err)
	}
	send, _ := s.Sender(false)
	term := s.SendTerminator(false)
	garbage := []byte("some garbage")
	out := append(ours[:], garbage...)
	out = append(out, term[:]...)
	out, _ = send.AppendPacket(out, garbage, false) // the version packet
	// Our side is still writing its garbage: read it (and all that
	// follows) so it can read ours, and send ours before the test sends
	// anything else.
	drain(remote)
	if _, err := remote.Write(out); err != nil {
		t.Fatal(err)
	}
	return &rawV2{remote: remote, send: send}
}

func readFull(c net.Conn, b []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(guard))
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (r *rawV2) packet(t *testing.T, contents ...[]byte) []byte {
	t.Helper()
	p, err := r.send.AppendPacket(nil, nil, false, contents...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// drain reads and discards what our side sends, so its writes never block.
func drain(c net.Conn) {
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
}

// Hostile BIP324 peers are dropped with a precise reason.
func TestV2HostilePeers(t *testing.T) {
	t.Run("no garbage terminator", func(t *testing.T) {
		h := startPipe(t, withTransport(TransportDetect))
		junk := make([]byte, 64+protocol.V2MaxGarbage+protocol.V2TerminatorSize+10)
		rand.Read(junk)
		junk[0] = 0 // not the regtest magic's first byte
		drain(h.remote)
		h.send(junk)
		if err := h.rep.closeErr(t); !errors.Is(err, protocol.ErrV2Handshake) {
			t.Fatalf("closed with %v", err)
		}
	})
	t.Run("v1 version of another network", func(t *testing.T) {
		h := startPipe(t, withTransport(TransportDetect))
		drain(h.remote)
		other, _ := protocol.EncodeFrame(wire.MainNet, wire.NewMsgVerAck())
		copy(other[4:], "version\x00\x00\x00\x00\x00")
		h.send(append(other, make([]byte, 64)...))
		if err := h.rep.closeErr(t); !errors.Is(err, protocol.ErrWrongMagic) {
			t.Fatalf("closed with %v", err)
		}
	})
	t.Run("packet failing authentication", func(t *testing.T) {
		h := startPipe(t, withTransport(TransportV2))
		r := respondRaw(t, h.remote)
		p := r.packet(t, protocol.V2MessageType("ping"), make([]byte, 8))
		p[len(p)-3] ^= 0x40
		h.send(p)
		if err := h.rep.closeErr(t); !errors.Is(err, protocol.ErrV2Packet) || p2p.ReadFailure(err).Kind != p2p.DropViolation {
			t.Fatalf("closed with %v (%v)", err, p2p.ReadFailure(err))
		}
	})
	t.Run("packet longer than the limit", func(t *testing.T) {
		h := startPipe(t, withTransport(TransportV2))
		r := respondRaw(t, h.remote)
		p := r.packet(t, make([]byte, protocol.V2MaxContents+1))
		h.send(p[:3]) // the length alone: refused before the body comes
		if err := h.rep.closeErr(t); !errors.Is(err, protocol.ErrV2Packet) {
			t.Fatalf("closed with %v", err)
		}
		if used := h.pool.Used(); used != 0 {
			t.Errorf("pool holds %d bytes for a refused packet", used)
		}
	})
	t.Run("unknown short id skipped", func(t *testing.T) {
		h := startPipe(t, withTransport(TransportV2))
		r := respondRaw(t, h.remote)
		h.send(append(r.packet(t, []byte{200, 1, 2}), r.packet(t, protocol.V2MessageType("verack"))...))
		if m := h.pop(t, 1)[0]; m.Command != wire.CmdVerAck {
			t.Fatalf("got %s", m.Command)
		}
	})
	t.Run("slow large packet is counted", func(t *testing.T) {
		h := startPipe(t, withTransport(TransportV2))
		r := respondRaw(t, h.remote)
		p := r.packet(t, protocol.V2MessageType("block"), make([]byte, 1_000_000))
		h.send(p[:100_000]) // the rest never comes
		want := p2p.PayloadCost(protocol.V2BodySize(1+1_000_000)) - p2p.InQueueFloor
		deadline := time.Now().Add(guard)
		for h.in.pool.Used() != want {
			if time.Now().After(deadline) {
				t.Fatalf("a packet declared at 1 MB holds %d counted bytes in the pool while it arrives, want %d", h.in.pool.Used(), want)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// A v1 peer that sends its version before we say anything is not mistaken
// for a key: the error says to retry with v1.
func TestV2RefusedByV1PeerSpeakingFirst(t *testing.T) {
	h := startPipe(t, withTransport(TransportV2))
	drain(h.remote)
	h.send(frameOf(t, wire.NewMsgVersion(wire.NewNetAddressIPPort(net.IPv4zero, 0, 0), wire.NewNetAddressIPPort(net.IPv4zero, 0, 0), 1, 0)))
	if err := h.rep.closeErr(t); !errors.Is(err, protocol.ErrV2Refused) {
		t.Fatalf("closed with %v, want ErrV2Refused", err)
	}
}
