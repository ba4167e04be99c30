package netsync_test

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// presyncHarness is a regtest node whose minimum chain work needs 5000
// headers; the chains the tests generate end an hour before its clock.
func presyncHarness(t *testing.T) (*harness, time.Time) {
	params := consensus.ParamsFor(protocol.Regtest)
	var w consensus.U256
	for range 5001 {
		w = w.Add(consensus.Work(params.PowLimitBits))
	}
	params.MinimumChainWork = w
	h := newHarness(t, func(c *sim.NodeConfig) { c.Params = params })
	return h, h.Now().Add(-time.Hour)
}

// presyncPeer is an established outbound peer announcing height lastBlock.
func presyncPeer(h *harness, lastBlock int32) *sim.Remote {
	r := h.Connect(false)
	v := h.PeerVersion(int32(protocol.ProtocolVersion))
	v.LastBlock = lastBlock
	r.Send(v)
	r.Send(wire.NewMsgVerAck())
	return r
}

// answerGetHeaders delivers the headers of chain that follow the getheaders
// just sent to r, up to 2000, and reports how many it sent.
func answerGetHeaders(h *harness, r *sim.Remote, chain []wire.BlockHeader) int {
	var gh *wire.MsgGetHeaders
	for _, m := range r.Drain() {
		if m, ok := m.(*wire.MsgGetHeaders); ok {
			gh = m
		}
	}
	if gh == nil {
		return -1
	}
	start := 0
	if len(gh.BlockLocatorHashes) > 0 {
		first := *gh.BlockLocatorHashes[0]
		for i := range chain {
			if chain[i].BlockHash() == first {
				start = i + 1
				break
			}
		}
	}
	msg := wire.NewMsgHeaders()
	for i := start; i < len(chain) && i < start+2000; i++ {
		msg.AddBlockHeader(&chain[i])
	}
	r.Send(msg)
	return len(msg.Headers)
}

func TestPresyncStoresNothingUntilMinimumWork(t *testing.T) {
	h, end := presyncHarness(t)
	chain := append([]wire.BlockHeader{regtestGenesis()}, chaingen.Generate(6000, chaingen.Options{End: end, Seed: 1})...)
	r := presyncPeer(h, 6000)
	if h.state() != netsync.StatePresync || h.syncPeer() != r.ID {
		t.Fatalf("sync state %s peer %d", h.state(), h.syncPeer())
	}
	writes := h.N.StoreWrites
	for round := 0; round < 20; round++ {
		if answerGetHeaders(h, r, chain) < 0 {
			break
		}
		if h.state() == netsync.StatePresync && (h.chain().Height() != 0 || h.N.StoreWrites != writes) {
			t.Fatalf("headers stored during presync: height %d, %d store writes", h.chain().Height(), h.N.StoreWrites-writes)
		}
	}
	if h.chain().Height() != 6000 || h.state() != netsync.StateSynced || !r.Alive() {
		t.Fatalf("after presync and redownload: height %d state %s alive %v", h.chain().Height(), h.state(), r.Alive())
	}
	if got := h.chain().HashAt(6000); got != chain[6000].BlockHash() {
		t.Errorf("tip %s", got)
	}
}

func TestPresyncLowWorkPeerStoresNothing(t *testing.T) {
	h, end := presyncHarness(t)
	chain := append([]wire.BlockHeader{regtestGenesis()}, chaingen.Generate(4500, chaingen.Options{End: end, Seed: 2})...)
	r := presyncPeer(h, 4500)
	for round := 0; round < 10 && answerGetHeaders(h, r, chain) >= 0; round++ {
	}
	if h.chain().Height() != 0 || !h.peerState(r).LowWork || h.syncPeer() != 0 || !r.Alive() {
		t.Fatalf("low-work chain: height %d lowWork %v sync peer %d alive %v", h.chain().Height(), h.peerState(r).LowWork, h.syncPeer(), r.Alive())
	}
	// Its announcements are not stored either.
	msg := wire.NewMsgHeaders()
	msg.AddBlockHeader(&chain[1])
	r.Send(msg)
	if h.chain().Height() != 0 {
		t.Errorf("an announcement below the minimum work was stored")
	}
}

func TestPresyncRedownloadMismatchDropsPeer(t *testing.T) {
	h, end := presyncHarness(t)
	honest := append([]wire.BlockHeader{regtestGenesis()}, chaingen.Generate(5200, chaingen.Options{End: end, Seed: 3})...)
	liar := append([]wire.BlockHeader{regtestGenesis()}, chaingen.Generate(5200, chaingen.Options{End: end, Seed: 4})...)
	r := presyncPeer(h, 5200)
	for h.state() == netsync.StatePresync {
		if answerGetHeaders(h, r, honest) < 0 {
			t.Fatal("no getheaders during presync")
		}
	}
	if h.state() != netsync.StateRedownload {
		t.Fatalf("state %s", h.state())
	}
	answerGetHeaders(h, r, liar)
	h.ExpectDropped(r, p2p.DropViolation, "presync")
	if h.chain().Height() != 0 {
		t.Errorf("the liar's headers were stored: height %d", h.chain().Height())
	}
}
