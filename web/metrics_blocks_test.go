package web

import (
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestBlockMetrics: block download's and validation's metrics come from
// the snapshot: the stage histograms, the window by state, blocks in
// flight and bytes per peer, stalls by outcome, the UTXO set.
func TestBlockMetrics(t *testing.T) {
	f, _ := newTestServer()
	f.setSnapshot(syncSnapshot(f))
	srv := httptest.NewServer(New(f, "secret", nil))
	defer srv.Close()
	mfs := scrape(t, srv)
	want := map[string]map[string]float64{
		"watchnode_download_window_blocks": {"state=requested": 1, "state=received": 9, "state=stored": 10, "state=missing": 1004, "state=validated": 0},
		"watchnode_peer_blocks_in_flight":  {"peer=7": 16},
		"watchnode_utxo_coins":             {"": 1234},
		"watchnode_utxo_cache_bytes":       {"": 1 << 20},
		"watchnode_verification_progress":  {"": 0.25},
	}
	for name, w := range want {
		got := series(t, mfs, name, dto.MetricType_GAUGE)
		for k, v := range w {
			if got[k] != v {
				t.Errorf("%s{%s} = %v, want %v", name, k, got[k], v)
			}
		}
	}
	counters := map[string]map[string]float64{
		"watchnode_block_stalls_total":     {"outcome=replaced": 1, "outcome=pending": 0},
		"watchnode_blocks_connected_total": {"": 100},
		"watchnode_utxo_flushes_total":     {"": 2},
		"watchnode_peer_block_bytes_total": {"peer=7": 2 << 20},
	}
	for name, w := range counters {
		got := series(t, mfs, name, dto.MetricType_COUNTER)
		for k, v := range w {
			if got[k] != v {
				t.Errorf("%s{%s} = %v, want %v", name, k, got[k], v)
			}
		}
	}
	h, ok := mfs["watchnode_block_connect_stage_seconds"]
	if !ok || h.GetType() != dto.MetricType_HISTOGRAM || len(h.GetMetric()) != 4 {
		t.Fatalf("stage histogram: %v", h)
	}
	for _, m := range h.GetMetric() {
		hist := m.GetHistogram()
		if hist.GetSampleCount() != 2 || hist.GetBucket()[0].GetCumulativeCount() != 1 {
			t.Errorf("stage %s: %v", labelString(m), hist)
		}
	}
}
