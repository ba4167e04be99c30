package p2p_test

// The core's tests drive a p2p.Core (with header sync plugged in, as in
// the node) through the simulator: scripted peers send real frames, which
// the simulator frames and decodes with the functions node/peer's reader
// calls, and read what the core queued for them.

import (
	"fmt"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/p2p"
)

type harness struct {
	*sim.Harness
	t testing.TB
	c *p2p.Core
}

func newHarness(t testing.TB, mods ...func(*p2p.Config)) *harness {
	t.Helper()
	h := sim.NewHarness(t, sim.NodeConfig{}, func(nc *sim.NodeConfig) {
		for _, m := range mods {
			m(&nc.P2P)
		}
	})
	return &harness{Harness: h, t: t, c: h.N.Core}
}

// debug returns the core's internal view of r.
func (h *harness) debug(r *sim.Remote) p2p.PeerDebug {
	h.t.Helper()
	d, ok := h.c.Debug(r.ID)
	if !ok {
		h.t.Fatalf("peer %d is gone", r.ID)
	}
	return d
}

// tracked returns r's tracked request for command, or nil.
func (h *harness) tracked(r *sim.Remote, command string) *p2p.Request {
	d, ok := h.c.Debug(r.ID)
	if !ok {
		return nil
	}
	for _, req := range d.Requests {
		if req.Command == command {
			return req
		}
	}
	return nil
}

// trackedID reports whether request id is still tracked for r.
func (h *harness) trackedID(r *sim.Remote, id uint64) bool {
	d, _ := h.c.Debug(r.ID)
	for _, req := range d.Requests {
		if req.ID == id {
			return true
		}
	}
	return false
}

// request sends a tracked request to r, as sync does.
func (h *harness) request(r *sim.Remote, msg wire.Message, timeout time.Duration, done p2p.RequestDone) *p2p.Request {
	h.t.Helper()
	var req *p2p.Request
	h.N.Do(func(c *p2p.Core) {
		var ok bool
		if req, ok = c.Request(r.ID, msg, timeout, done); !ok {
			h.t.Fatal("request not queued")
		}
	})
	return req
}

// establishedKeepFrames is Established, but returns the frames the core sent
// after the peer's verack (sendheaders, feefilter, [getaddr,] ping), read.
func (h *harness) establishedKeepFrames(inbound bool) (*sim.Remote, []sim.Received) {
	h.t.Helper()
	r := h.Connect(inbound)
	r.Send(h.PeerVersion(70016))
	r.Send(wire.NewMsgWTxIdRelay())
	r.Send(wire.NewMsgSendAddrV2())
	r.Drain()
	r.Send(wire.NewMsgVerAck())
	return r, r.Read()
}

func pingOf(t *testing.T, frames []sim.Received) (nonce, req uint64) {
	t.Helper()
	for _, f := range frames {
		if f.Frame.Command == wire.CmdPing {
			return f.Msg.(*wire.MsgPing).Nonce, f.Request
		}
	}
	t.Fatal("no ping sent")
	return 0, 0
}

// doneRecorder collects the outcomes a RequestDone reports.
type doneRecorder struct{ outcomes []p2p.Outcome }

func (d *doneRecorder) done(_ *p2p.Request, o p2p.Outcome) { d.outcomes = append(d.outcomes, o) }

func (d *doneRecorder) expect(t *testing.T, want ...p2p.Outcome) {
	t.Helper()
	if fmt.Sprint(d.outcomes) != fmt.Sprint(want) {
		t.Fatalf("request outcomes = %v, want %v", d.outcomes, want)
	}
}
