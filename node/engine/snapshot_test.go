package engine

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

func TestSnapshotPeerInfo(t *testing.T) {
	h := newTestEngine(t)
	start := h.now()
	p, frames := h.establishedKeepFrames(true)
	out := h.established(false)
	h.link(p).sent = peer.Traffic{Bytes: 300, Messages: 3, ByCommand: map[string]peer.CommandTraffic{"ping": {Bytes: 32, Messages: 1}}}
	h.link(p).recv = peer.Traffic{Bytes: 500, Messages: 5}

	nonce, req := pingOf(t, frames)
	h.e.requestWritten(p.id, req, h.now())
	h.clock.Advance(50 * time.Millisecond)
	h.deliver(p, wire.NewMsgPong(nonce))
	h.deliver(p, wire.NewMsgPong(nonce)) // once more: unsolicited
	h.deliver(p, &protocol.MsgUnknown{Cmd: "madeup"})

	// The next ping is in flight, written 20ms ago.
	h.clock.Advance(DefaultPingInterval)
	h.e.tick(h.now())
	_, req = sentPing(t, drainFrames(p))
	h.e.requestWritten(p.id, req, h.now())
	h.clock.Advance(20 * time.Millisecond)
	p.out.Push(peer.Outbound{Frame: make([]byte, 100), Command: "filler"})

	now := h.now()
	h.e.publish(now)
	s := h.e.Snapshot()
	if !s.Time.Equal(now) || len(s.Peers) != 2 {
		t.Fatalf("snapshot at %v with %d peers", s.Time, len(s.Peers))
	}
	info := s.Peers[0]
	if info.ID != p.id || info.Addr != p.addr.String() || !info.Inbound || info.ConnType != Inbound || !info.Established {
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
	if info.BytesSent != 300 || info.BytesRecv != 500 || info.MsgsSent["ping"].Messages != 1 {
		t.Errorf("traffic: %d/%d %v", info.BytesSent, info.BytesRecv, info.MsgsSent)
	}
	if info.QueueBytes != 100 || info.Misbehavior != unsolicitedPenalty || info.Unsolicited[wire.CmdPong] != 1 || info.Ignored != 1 {
		t.Errorf("queue %d, misbehavior %d, unsolicited %v, ignored %d", info.QueueBytes, info.Misbehavior, info.Unsolicited, info.Ignored)
	}
	if !info.Features.WtxidRelay || !info.Features.SendAddrV2 || !info.Features.Relay {
		t.Errorf("features %+v", info.Features)
	}
	if !info.ConnectedAt.Equal(start) {
		t.Errorf("connected at %v, want %v", info.ConnectedAt, start)
	}
	// The snapshot is a copy: later changes do not show through.
	p.unsolicited[wire.CmdPong] = 99
	if info.Unsolicited[wire.CmdPong] != 1 {
		t.Error("snapshot shares the unsolicited map")
	}

	if o := s.Peers[1]; o.ID != out.id || o.ConnType != OutboundFullRelay || o.Inbound {
		t.Errorf("outbound peer info %+v", o)
	}
	st := s.Status
	if st.Network != "regtest" || st.Peers != 2 || st.Inbound != 1 || st.Outbound != 1 || st.BytesSent != 300 || st.BytesRecv != 500 {
		t.Errorf("status %+v", st)
	}
	if st.UserAgent != DefaultUserAgent || st.ProtocolV != 70016 || st.BestHash != protocol.Regtest.Params().GenesisHash.String() {
		t.Errorf("status identity %+v", st)
	}
	if st.UptimeS != int64(now.Sub(start)/time.Second) {
		t.Errorf("uptime %d", st.UptimeS)
	}
	// It serializes (the API serves it as is).
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotBeforeVersion(t *testing.T) {
	h := newTestEngine(t)
	if s := h.e.Snapshot(); s == nil || len(s.Peers) != 0 || s.Peers == nil {
		t.Fatalf("New published %+v, want an empty snapshot with a non-nil peer list", s)
	}
	h.connectFakePeer(true)
	h.e.publish(h.now())
	info := h.e.Snapshot().Peers[0]
	if info.Established || info.UserAgent != "" || info.Inflight == nil {
		t.Errorf("pre-handshake info %+v", info)
	}
}
