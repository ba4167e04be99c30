package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestBlockWatchFigures: a node that downloads and validates a chain from
// a peer over TCP shows each recent block's timeline in order (asked of
// that peer, received, stored, validated with its stages, connected), the
// connector's totals and the chain's transaction count, Core's
// verification progress, and a "block connected" event for the blocks
// near the tip only.
func TestBlockWatchFigures(t *testing.T) {
	gen, err := blockgen.Generate(blockgen.Options{Seed: 11, Blocks: 110, TxPerBlock: 2, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	raw := [][]byte{serialize(t, protocol.Regtest.Params().GenesisBlock)}
	txs := uint64(1) // the genesis block's
	for i := range gen.Blocks {
		raw = append(raw, gen.Raw(i))
		txs += uint64(len(gen.Blocks[i].Transactions))
	}
	r, addr := blockNode(t)
	a := newServedChain(t, raw)
	p := netPeer{dialRaw(t, addr), protocol.Regtest.Magic()}
	p.handshake(950, 110)
	go a.serve(p, func(h int) []byte { return a.raw[h] })
	waitForWithin(t, 60*time.Second, "the chain connected", func() bool {
		st := r.e.Snapshot().Status
		return st.Blocks == 110 && st.UTXO != nil && st.UTXO.Height == 110
	})
	waitForWithin(t, 10*time.Second, "the connector's figures published", func() bool {
		v := r.e.Snapshot().Status.Validation
		return v != nil && v.Blocks == 110
	})
	snap := r.e.Snapshot()
	v := snap.Status.Validation
	if v.Txs != txs-1 || v.ChainTx != txs || v.VerificationProgress != 1 {
		t.Errorf("validation %+v: want %d transactions connected, %d in the chain, progress 1", *v, txs-1, txs)
	}
	if h := v.Stages["scripts"]; h.Count != 110 || h.Counts[len(h.Counts)-1] > h.Count {
		t.Errorf("scripts histogram %+v: want 110 blocks", h)
	}
	peerID := snap.Peers[0].ID
	hash := gen.Blocks[109].BlockHash()
	tl, ok := snap.Blocks.Timeline(hash)
	if !ok {
		t.Fatalf("no timeline for the tip %s", hash)
	}
	if len(tl.Requests) != 1 || tl.Requests[0].Peer != peerID || tl.From != peerID || tl.Stages == nil {
		t.Fatalf("tip timeline %+v: want one request of peer %d, delivered by it, with stages", tl, peerID)
	}
	order := []time.Time{tl.Requests[0].At, tl.Received, tl.Stored, tl.Stages.Start, tl.Validated}
	for i := 1; i < len(order); i++ {
		if order[i].IsZero() || order[i].Before(order[i-1]) {
			t.Fatalf("tip timeline stages out of order at %d: %v", i, order)
		}
	}
	if tl.Connected.IsZero() || tl.Stages.Txs != len(gen.Blocks[109].Transactions) || tl.Stages.ScriptsChecked == 0 {
		t.Errorf("tip timeline %+v stages %+v: want connected, its transactions and verified scripts", tl, *tl.Stages)
	}
	if n := len(snap.Blocks.Recent); n != 110 || snap.Blocks.Recent[n-1].Height != 110 {
		t.Errorf("%d recent connects, last %+v: want 110, the last at 110", n, snap.Blocks.Recent[n-1])
	}
	if got := snap.Blocks.RecentTimelines(5); len(got) != 5 || got[0].Height != 110 || got[4].Height != 106 {
		t.Errorf("recent timelines: %d, want 5 from 110 down", len(got))
	}
	_, evs, _ := r.e.Events().Since(0, 1000)
	near, far := false, false
	for _, ev := range evs {
		near = near || strings.HasPrefix(ev.Text, "block 110 ") && strings.Contains(ev.Text, "connected")
		far = far || strings.HasPrefix(ev.Text, "block 30 ") && strings.Contains(ev.Text, "connected")
	}
	if !near || far {
		t.Errorf("block connected events: tip's %v (want true), block 30's %v (want false)", near, far)
	}
}

// TestVerificationProgress: Core's estimate, against mainnet's
// statistics: half the transactions at the statistics' time is one half;
// the statistics' count a year later is less, by the year's growth at
// their rate; a chain past them counts from its own tip; unknown is 0.
func TestVerificationProgress(t *testing.T) {
	d := txDataOf(consensus.ParamsFor(protocol.Mainnet).TxData)
	if got := verificationProgress(d, d.count/2, d.time, d.time); got < 0.4999 || got > 0.5001 {
		t.Errorf("half the transactions: %v, want 0.5", got)
	}
	year := d.time.Add(365 * 24 * time.Hour)
	want := float64(d.count) / (float64(d.count) + 365*24*3600*d.rate)
	if got := verificationProgress(d, d.count, d.time, year); got < want-1e-9 || got > want+1e-9 {
		t.Errorf("a year on: %v, want %v", got, want)
	}
	if got := verificationProgress(d, d.count+100, year, year); got != 1 {
		t.Errorf("past the statistics with a tip of now: %v, want 1", got)
	}
	if got := verificationProgress(d, 0, year, year); got != 0 {
		t.Errorf("unknown count: %v, want 0", got)
	}
}
