package p2p_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// A target that hangs up on our BIP324 key is redialled at once with v1,
// without a failure or a backoff, and stays v1 from then on; NODE_P2P_V2
// is offered only when the node speaks v2.
func TestV2RefusedTargetRedialledWithV1(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.V2Transport = true })
	server, err := h.S.NewNode(sim.NodeConfig{Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	target := server.Addr.String()
	if h.c.Params().Services&wire.SFNodeP2PV2 == 0 {
		t.Errorf("services %v lack NODE_P2P_V2", h.c.Params().Services)
	}
	h.N.Do(func(c *p2p.Core) {
		if err := c.Connect(h.Now(), target); err != nil {
			t.Fatal(err)
		}
	})
	h.S.Settle() // the sim links the dial
	if len(h.N.DialsV2) != 1 || !h.N.DialsV2[0] {
		t.Fatalf("first dial v2 %v, want a BIP324 dial", h.N.DialsV2)
	}
	var id p2p.PeerID
	for _, p := range h.c.Snapshot(h.Now()).Peers {
		id = p.ID
	}
	dials := len(h.N.Dials)
	h.N.Do(func(c *p2p.Core) {
		c.Closed(h.Now(), id, p2p.ReadFailure(fmt.Errorf("%w: %v", protocol.ErrV2Refused, io.EOF)))
	})
	snap := h.c.Snapshot(h.Now())
	if snap.DisconnectsByKind[p2p.DropV2Refused] != 1 || len(snap.Disconnects) != 0 {
		t.Fatalf("disconnects %+v by kind %v, want one v2-refused counted and none listed", snap.Disconnects, snap.DisconnectsByKind)
	}
	if len(h.N.Dials) != dials+1 || h.N.Dials[dials] != target || h.N.DialsV2[dials] {
		t.Fatalf("dials after the refusal: %v (v2 %v), want one more to %s with v1", h.N.Dials, h.N.DialsV2, target)
	}
	if tg := h.c.Targets()[0]; tg.Failures != 0 {
		t.Errorf("the refusal counted as a failure of the target: %+v", tg)
	}
	if h.c.WantV2(target, true, 0) {
		t.Error("the target is still dialled with v2")
	}
}

func TestV2DialChoice(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.V2Transport = true })
	v2 := uint64(wire.SFNodeP2PV2 | wire.SFNodeNetwork)
	for _, c := range []struct {
		manual   bool
		services uint64
		want     bool
	}{
		{true, 0, true},   // an operator's target: try v2, as Core
		{false, v2, true}, // gossip says NODE_P2P_V2
		{false, uint64(wire.SFNodeNetwork), false},
	} {
		if got := h.c.WantV2("10.0.0.1:8333", c.manual, c.services); got != c.want {
			t.Errorf("manual %v services %x: v2 %v, want %v", c.manual, c.services, got, c.want)
		}
	}
	off := newHarness(t)
	if off.c.WantV2("10.0.0.1:8333", true, v2) || off.c.Params().Services&wire.SFNodeP2PV2 != 0 {
		t.Error("a node without -v2transport dials v2 or offers NODE_P2P_V2")
	}
}
