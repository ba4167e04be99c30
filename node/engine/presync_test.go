package engine

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// presyncEngine is a regtest engine whose minimum chain work needs 5000
// headers, with its clock after the generated chains' timestamps.
func presyncEngine(t *testing.T, chainEnd time.Time) *harness {
	params := consensus.ParamsFor(protocol.Regtest)
	var w consensus.U256
	for range 5001 {
		w = w.Add(consensus.Work(params.PowLimitBits))
	}
	params.MinimumChainWork = w
	h := newTestEngine(t, func(c *Config) { c.Params = params })
	h.clock.t = chainEnd.Add(time.Hour)
	return h
}

// presyncPeer is an established outbound peer announcing height lastBlock.
func presyncPeer(h *harness, lastBlock int32) *peerState {
	p := h.connectFakePeer(false)
	v := peerVersion(int32(protocol.ProtocolVersion))
	v.LastBlock = lastBlock
	h.deliver(p, v)
	h.deliver(p, wire.NewMsgVerAck())
	return p
}

// answerGetHeaders delivers the headers of chain that follow the getheaders
// just sent to p, up to 2000, and reports how many it sent.
func answerGetHeaders(t *testing.T, h *harness, p *peerState, chain []wire.BlockHeader) int {
	t.Helper()
	var gh *wire.MsgGetHeaders
	for _, m := range h.drainSent(p) {
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
	h.deliver(p, msg)
	return len(msg.Headers)
}

func TestPresyncStoresNothingUntilMinimumWork(t *testing.T) {
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := presyncEngine(t, end)
	genesis := consensus.ParamsFor(protocol.Regtest).Genesis.ToWire()
	chain := append([]wire.BlockHeader{genesis}, chaingen.Generate(6000, chaingen.Options{End: end, Seed: 1})...)
	p := presyncPeer(h, 6000)
	if h.e.sync.state != SyncPresync || h.e.sync.peer != p.id {
		t.Fatalf("sync state %s peer %d", h.e.sync.state, h.e.sync.peer)
	}
	for round := 0; round < 20; round++ {
		if answerGetHeaders(t, h, p, chain) < 0 {
			break
		}
		if h.e.sync.state == SyncPresync && h.e.chain.Height() != 0 {
			t.Fatalf("headers stored during presync: height %d", h.e.chain.Height())
		}
	}
	if h.e.chain.Height() != 6000 || h.e.sync.state != SyncSynced || !h.alive(p) {
		t.Fatalf("after presync and redownload: height %d state %s alive %v", h.e.chain.Height(), h.e.sync.state, h.alive(p))
	}
	if got := h.e.chain.HashAt(6000); got != chain[6000].BlockHash() {
		t.Errorf("tip %s", got)
	}
}

func TestPresyncLowWorkPeerStoresNothing(t *testing.T) {
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := presyncEngine(t, end)
	genesis := consensus.ParamsFor(protocol.Regtest).Genesis.ToWire()
	chain := append([]wire.BlockHeader{genesis}, chaingen.Generate(4500, chaingen.Options{End: end, Seed: 2})...)
	p := presyncPeer(h, 4500)
	for round := 0; round < 10 && answerGetHeaders(t, h, p, chain) >= 0; round++ {
	}
	if h.e.chain.Height() != 0 || !p.lowWork || h.e.sync.peer != 0 || !h.alive(p) {
		t.Fatalf("low-work chain: height %d lowWork %v sync peer %d alive %v", h.e.chain.Height(), p.lowWork, h.e.sync.peer, h.alive(p))
	}
	// Its announcements are not stored either.
	msg := wire.NewMsgHeaders()
	msg.AddBlockHeader(&chain[1])
	h.deliver(p, msg)
	if h.e.chain.Height() != 0 {
		t.Errorf("an announcement below the minimum work was stored")
	}
}

func TestPresyncRedownloadMismatchDropsPeer(t *testing.T) {
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := presyncEngine(t, end)
	genesis := consensus.ParamsFor(protocol.Regtest).Genesis.ToWire()
	honest := append([]wire.BlockHeader{genesis}, chaingen.Generate(5200, chaingen.Options{End: end, Seed: 3})...)
	liar := append([]wire.BlockHeader{genesis}, chaingen.Generate(5200, chaingen.Options{End: end, Seed: 4})...)
	p := presyncPeer(h, 5200)
	for h.e.sync.state == SyncPresync {
		if answerGetHeaders(t, h, p, honest) < 0 {
			t.Fatal("no getheaders during presync")
		}
	}
	if h.e.sync.state != SyncRedownload {
		t.Fatalf("state %s", h.e.sync.state)
	}
	answerGetHeaders(t, h, p, liar)
	h.expectDropped(p, DropViolation, "presync")
	if h.e.chain.Height() != 0 {
		t.Errorf("the liar's headers were stored: height %d", h.e.chain.Height())
	}
}
