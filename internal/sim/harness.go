package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// Harness is one node in a world of scripted peers, with the checks core
// tests repeat: the step-by-step style of a unit test, over the simulator.
type Harness struct {
	T testing.TB
	S *Sim
	N *Node
}

// NewHarness returns a harness around a fresh regtest node configured by
// cfg (mods may change it). The world's invariants are checked after
// every step; a violation fails the test.
func NewHarness(t testing.TB, cfg NodeConfig, mods ...func(*NodeConfig)) *Harness {
	t.Helper()
	s := New(1)
	for _, m := range mods {
		m(&cfg)
	}
	n, err := s.NewNode(cfg)
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	s.Check = func(err error) {
		if err != nil {
			t.Helper()
			t.Fatalf("invariant broken: %v", err)
		}
	}
	return &Harness{T: t, S: s, N: n}
}

// Now returns the simulated time.
func (h *Harness) Now() time.Time { return h.S.Now() }

// Advance moves the clock by d (no tick).
func (h *Harness) Advance(d time.Duration) time.Time { return h.S.Advance(d) }

// Tick runs the node's timers.
func (h *Harness) Tick() { h.N.Tick(); h.S.Settle() }

// Connect connects a scripted peer (the node sends its version at once to
// an outbound one) and fails the test if the node refuses it.
func (h *Harness) Connect(inbound bool) *Remote {
	h.T.Helper()
	r, adm := h.N.ConnectRemote(inbound)
	if adm.Refused {
		h.T.Fatalf("connection refused: %s", adm.Reason.Text)
	}
	return r
}

// PeerVersion is a version message as a recent Bitcoin Core sends it.
func (h *Harness) PeerVersion(pver int32) *wire.MsgVersion {
	nonce := h.S.rng.Uint64()
	me := wire.NewNetAddressIPPort(nil, 0, wire.SFNodeNetwork|wire.SFNodeWitness)
	you := wire.NewNetAddressIPPort(nil, 0, 0)
	v := wire.NewMsgVersion(me, you, nonce, 0)
	v.ProtocolVersion = pver
	v.Services = wire.SFNodeNetwork | wire.SFNodeWitness
	v.UserAgent = "/Satoshi:27.0.0/"
	return v
}

// Handshake runs the version handshake with r, the peer announcing
// lastBlock and wtxidrelay and sendaddrv2 as Core does, and returns what
// the node sent in answer to the peer's verack.
func (h *Harness) Handshake(r *Remote, lastBlock int32) []wire.Message {
	h.T.Helper()
	v := h.PeerVersion(int32(protocol.ProtocolVersion))
	v.LastBlock = lastBlock
	r.Send(v)
	r.Send(wire.NewMsgWTxIdRelay())
	r.Send(wire.NewMsgSendAddrV2())
	r.Drain()
	r.Send(wire.NewMsgVerAck())
	if info := r.Info(); !info.Established {
		h.T.Fatalf("peer %d not established after the handshake", r.ID)
	}
	return r.Drain()
}

// Established returns an established peer with nothing left unread.
func (h *Harness) Established(inbound bool) *Remote {
	h.T.Helper()
	r := h.Connect(inbound)
	h.Handshake(r, 0)
	return r
}

// ExpectSent reads what r was sent and checks the commands, in order.
func (h *Harness) ExpectSent(r *Remote, want ...string) []wire.Message {
	h.T.Helper()
	msgs := r.Drain()
	if got := Commands(msgs); strings.Join(got, ",") != strings.Join(want, ",") {
		h.T.Fatalf("peer %d was sent %v, want %v", r.ID, got, want)
	}
	return msgs
}

// Commands lists the messages' commands.
func Commands(msgs []wire.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Command()
	}
	return out
}

// LastDisconnect returns the newest disconnect record.
func (h *Harness) LastDisconnect() p2p.Disconnect {
	h.T.Helper()
	d, ok := h.N.LastDisconnect()
	if !ok {
		h.T.Fatal("no disconnect recorded")
	}
	return d
}

// ExpectDropped checks that r is gone with kind and a reason containing
// text, and that the node closed the connection.
func (h *Harness) ExpectDropped(r *Remote, kind p2p.DropKind, text string) p2p.Disconnect {
	h.T.Helper()
	if r.Alive() {
		h.T.Fatalf("peer %d is still connected, want dropped (%s: %s)", r.ID, kind, text)
	}
	if !r.Closed() {
		h.T.Fatalf("peer %d dropped but its connection is open", r.ID)
	}
	d := h.LastDisconnect()
	if d.ID != r.ID || d.Kind != kind || !strings.Contains(d.Reason, text) {
		h.T.Fatalf("last disconnect = %+v, want peer %d, kind %s, reason containing %q", d, r.ID, kind, text)
	}
	return d
}

// Filler is a valid bulk frame of n payload bytes, for filling queues.
func Filler(n int) *p2p.Frame {
	b, err := protocol.AppendFrame(nil, protocol.Regtest.Magic(), "filler", make([]byte, n))
	if err != nil {
		panic(err)
	}
	return &p2p.Frame{Bytes: b, Command: "filler", Summary: fmt.Sprintf("%d filler bytes", n)}
}
