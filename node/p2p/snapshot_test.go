package p2p_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

func TestSnapshotPeerInfo(t *testing.T) {
	h := newHarness(t)
	start := h.Now()
	r, frames := h.establishedKeepFrames(true)
	out := h.Established(false)

	nonce, _ := pingOf(t, frames)
	h.Advance(50 * time.Millisecond)
	r.Send(wire.NewMsgPong(nonce))
	r.Send(wire.NewMsgPong(nonce)) // once more: unsolicited
	r.Send(&protocol.MsgUnknown{Cmd: "madeup"})

	// The next ping is in flight, written 20ms ago.
	h.Advance(p2p.DefaultPingInterval)
	h.Tick()
	pingOf(t, r.Read())
	h.Advance(20 * time.Millisecond)
	h.fill(r, 100-24, false)

	now := h.Now()
	s := h.c.Snapshot(now)
	if len(s.Peers) != 2 {
		t.Fatalf("snapshot with %d peers", len(s.Peers))
	}
	info := s.Peers[0]
	if info.ID != r.ID || info.Addr != r.Addr.String() || !info.Inbound || info.ConnType != p2p.Inbound || !info.Established {
		t.Errorf("identity: %+v", info)
	}
	if info.UserAgent != "/Satoshi:27.0.0/" || info.Version != 70016 || info.StartHeight != 0 {
		t.Errorf("version fields: agent %q, version %d, height %d", info.UserAgent, info.Version, info.StartHeight)
	}
	if info.Services != uint64(wire.SFNodeNetwork|wire.SFNodeWitness) || !slices.Equal(info.ServiceNames, []string{"NETWORK", "WITNESS"}) {
		t.Errorf("services %x %v", info.Services, info.ServiceNames)
	}
	if info.PingMs != 50 || info.MinPingMs != 50 || info.PingWaitMs != 20 {
		t.Errorf("ping %v, min %v, wait %v; want 50, 50, 20", info.PingMs, info.MinPingMs, info.PingWaitMs)
	}
	if len(info.Inflight) != 1 || info.Inflight[0].Command != wire.CmdPing || info.Inflight[0].Written.IsZero() || info.Inflight[0].AgeMs != 20 {
		t.Errorf("inflight = %+v", info.Inflight)
	}
	if want := sim.Filler(100 - 24).Cost(); info.QueueBytes != want || info.QueueMsgs != 1 || info.Misbehavior != p2p.UnsolicitedPenalty || info.Unsolicited[wire.CmdPong] != 1 || info.Ignored != 1 {
		t.Errorf("queue %d (%d msgs), misbehavior %d, unsolicited %v, ignored %d", info.QueueBytes, info.QueueMsgs, info.Misbehavior, info.Unsolicited, info.Ignored)
	}
	if !info.Features.WtxidRelay || !info.Features.SendAddrV2 || !info.Features.Relay {
		t.Errorf("features %+v", info.Features)
	}
	if !info.ConnectedAt.Equal(start) {
		t.Errorf("connected at %v, want %v", info.ConnectedAt, start)
	}
	// The snapshot is a copy: later changes do not show through.
	r.Send(wire.NewMsgPong(nonce + 7))
	if info.Unsolicited[wire.CmdPong] != 1 {
		t.Error("snapshot shares the unsolicited map")
	}

	if o := s.Peers[1]; o.ID != out.ID || o.ConnType != p2p.OutboundFullRelay || o.Inbound {
		t.Errorf("outbound peer info %+v", o)
	}
	if s.Network != "regtest" || s.Inbound != 1 || s.Outbound != 1 {
		t.Errorf("status %+v", s)
	}
	if s.UserAgent != p2p.DefaultUserAgent || s.ProtocolVersion != 70016 {
		t.Errorf("status identity %+v", s)
	}
	if s.UptimeS != int64(now.Sub(start)/time.Second) {
		t.Errorf("uptime %d", s.UptimeS)
	}
	// It serializes (the API serves it as is).
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotBeforeVersion(t *testing.T) {
	h := newHarness(t)
	if s := h.N.Snapshot(); len(s.Peers) != 0 || s.Peers == nil {
		t.Fatalf("empty snapshot %+v, want a non-nil peer list", s)
	}
	h.Connect(true)
	info := h.N.Snapshot().Peers[0]
	if info.Established || info.UserAgent != "" || info.Inflight == nil {
		t.Errorf("pre-handshake info %+v", info)
	}
}
