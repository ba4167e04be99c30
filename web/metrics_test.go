package web

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/watchnode/watchnode/node/engine"
)

func metricsSnapshot() engine.Snapshot {
	return engine.Snapshot{
		Status: engine.Status{
			Network: "regtest", Height: 812345, ForkHeaders: 3,
			Inbound: 2, Outbound: 8, Peers: 10, UptimeS: 3600,
			Sync:      engine.SyncStatus{State: "headers", Progress: 0.25, HeadersPerSec: 1234.5},
			AddrNew:   1500,
			AddrTried: 42,
			BytesSent: 1000, BytesRecv: 2000,
			// Of the ten peers, three on v2; one in its handshake is in
			// neither. Every figure differs, so a swapped label shows.
			Transports: map[string]engine.TransportTraffic{
				"v1": {Peers: 6, BytesSent: 700, BytesRecv: 1500},
				"v2": {Peers: 3, BytesSent: 300, BytesRecv: 500},
			},
			MsgsSent: map[string]engine.CommandTraffic{
				"ping":    {Messages: 5, Bytes: 160},
				"version": {Messages: 1, Bytes: 126},
			},
			MsgsRecv: map[string]engine.CommandTraffic{
				"headers": {Messages: 7, Bytes: 1_000_000},
				"*other*": {Messages: 2, Bytes: 50},
			},
			DisconnectsByKind: map[engine.DropKind]uint64{engine.DropTimeout: 4, engine.DropViolation: 1},
			RequestTimeouts:   9,
		},
		Peers: []engine.PeerInfo{
			{ID: 1, QueueBytes: 100, InQueueBytes: 10},
			{ID: 2, QueueBytes: 200, InQueueBytes: 20},
		},
		Bans: []engine.Ban{{Addr: "10.0.0.1"}, {Addr: "10.0.0.2"}, {Addr: "10.0.0.3"}},
	}
}

func newMetricsServer(snap engine.Snapshot) (*fakeEngine, *httptest.Server) {
	f := &fakeEngine{msgs: engine.NewRing[engine.MessageRecord](8), events: engine.NewRing[engine.Event](8), snap: snap}
	return f, httptest.NewServer(New(f, "secret", nil))
}

// scrape GETs /metrics and parses it; it checks the status and the format.
func scrape(t testing.TB, srv *httptest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	ct := resp.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "text/plain; version=0.0.4") || expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Errorf("content type %q, want the Prometheus text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// labelString renders a metric's labels as "k=v,k=v", sorted by name.
func labelString(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// series maps each of a family's series (by labelString) to its value,
// checking the family's type.
func series(t testing.TB, mfs map[string]*dto.MetricFamily, name string, typ dto.MetricType) map[string]float64 {
	t.Helper()
	mf, ok := mfs[name]
	if !ok {
		t.Errorf("%s missing", name)
		return nil
	}
	if mf.GetType() != typ {
		t.Errorf("%s: type %v, want %v", name, mf.GetType(), typ)
	}
	if mf.GetHelp() == "" {
		t.Errorf("%s: no help text", name)
	}
	out := map[string]float64{}
	for _, m := range mf.GetMetric() {
		k := labelString(m)
		if _, dup := out[k]; dup {
			t.Errorf("%s{%s}: duplicate series", name, k)
		}
		switch typ {
		case dto.MetricType_GAUGE:
			out[k] = m.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			out[k] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	_, srv := newMetricsServer(metricsSnapshot())
	defer srv.Close()
	mfs := scrape(t, srv)

	gauge, counter := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	want := []struct {
		name string
		typ  dto.MetricType
		vals map[string]float64
	}{
		{"watchnode_peers", gauge, map[string]float64{"direction=inbound": 2, "direction=outbound": 8}},
		{"watchnode_height", gauge, map[string]float64{"": 812345}},
		{"watchnode_headers_per_second", gauge, map[string]float64{"": 1234.5}},
		{"watchnode_sync_progress", gauge, map[string]float64{"": 0.25}},
		{"watchnode_fork_headers", gauge, map[string]float64{"": 3}},
		{"watchnode_address_book", gauge, map[string]float64{"table=new": 1500, "table=tried": 42}},
		{"watchnode_queue_bytes", gauge, map[string]float64{"direction=out": 300, "direction=in": 30}},
		{"watchnode_uptime_seconds", gauge, map[string]float64{"": 3600}},
		{"watchnode_bans", gauge, map[string]float64{"": 3}},
		{"watchnode_bytes_total", counter, map[string]float64{"direction=in": 2000, "direction=out": 1000}},
		{"watchnode_messages_total", counter, map[string]float64{
			"command=ping,direction=out": 5, "command=version,direction=out": 1,
			"command=headers,direction=in": 7, "command=*other*,direction=in": 2,
		}},
		{"watchnode_message_bytes_total", counter, map[string]float64{
			"command=ping,direction=out": 160, "command=version,direction=out": 126,
			"command=headers,direction=in": 1_000_000, "command=*other*,direction=in": 50,
		}},
		{"watchnode_request_timeouts_total", counter, map[string]float64{"": 9}},
		{"watchnode_disconnects_total", counter, map[string]float64{"reason=timeout": 4, "reason=protocol-violation": 1}},
		{"watchnode_peers_by_transport", gauge, map[string]float64{"transport=v1": 6, "transport=v2": 3}},
		{"watchnode_transport_bytes_total", counter, map[string]float64{
			"direction=in,transport=v1": 1500, "direction=out,transport=v1": 700,
			"direction=in,transport=v2": 500, "direction=out,transport=v2": 300,
		}},
	}
	for _, w := range want {
		if got := series(t, mfs, w.name, w.typ); got != nil && !maps.Equal(got, w.vals) {
			t.Errorf("%s = %v, want %v", w.name, got, w.vals)
		}
	}
	// Nothing else under watchnode_.
	for name := range mfs {
		if !strings.HasPrefix(name, "watchnode_") {
			continue
		}
		found := false
		for _, w := range want {
			found = found || w.name == name
		}
		if !found {
			t.Errorf("unexpected metric %s", name)
		}
	}
	// The standard collectors.
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_start_time_seconds"} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

// TestMetricsTwoServers: each server has its own registry, so a second one
// neither panics on duplicate registration nor sees the first's engine.
func TestMetricsTwoServers(t *testing.T) {
	_, a := newMetricsServer(metricsSnapshot())
	defer a.Close()
	other := metricsSnapshot()
	other.Status.Height = 7
	_, b := newMetricsServer(other)
	defer b.Close()
	if got := series(t, scrape(t, a), "watchnode_height", dto.MetricType_GAUGE)[""]; got != 812345 {
		t.Errorf("first server's height %v", got)
	}
	if got := series(t, scrape(t, b), "watchnode_height", dto.MetricType_GAUGE)[""]; got != 7 {
		t.Errorf("second server's height %v", got)
	}
}

// TestMetricsLabelValues: invalid UTF-8 in a command or kind is replaced,
// and commands that become alike are summed rather than failing the scrape
// with duplicate series; valid values, odd as they may be, are kept.
func TestMetricsLabelValues(t *testing.T) {
	snap := metricsSnapshot()
	snap.Status.MsgsRecv = map[string]engine.CommandTraffic{
		"a\xff":      {Messages: 1, Bytes: 10},
		"a\xfe":      {Messages: 2, Bytes: 20},
		`q"uo\te`:    {Messages: 3, Bytes: 30},
		"":           {Messages: 4, Bytes: 40},
		"héllo\nbye": {Messages: 5, Bytes: 50},
	}
	snap.Status.DisconnectsByKind = map[engine.DropKind]uint64{"bad\x80kind": 6}
	_, srv := newMetricsServer(snap)
	defer srv.Close()
	mfs := scrape(t, srv)
	msgs := series(t, mfs, "watchnode_messages_total", dto.MetricType_COUNTER)
	bytes := series(t, mfs, "watchnode_message_bytes_total", dto.MetricType_COUNTER)
	for _, c := range []struct {
		cmd         string
		msgs, bytes float64
	}{{"a\uFFFD", 3, 30}, {`q"uo\te`, 3, 30}, {"", 4, 40}, {"héllo\nbye", 5, 50}} {
		k := "command=" + c.cmd + ",direction=in"
		if msgs[k] != c.msgs || bytes[k] != c.bytes {
			t.Errorf("%q: %v messages, %v bytes; want %v, %v", c.cmd, msgs[k], bytes[k], c.msgs, c.bytes)
		}
	}
	if len(msgs) != 4+2 { // four in, two out
		t.Errorf("messages series: %v", msgs)
	}
	if got := series(t, mfs, "watchnode_disconnects_total", dto.MetricType_COUNTER); !maps.Equal(got, map[string]float64{"reason=bad\uFFFDkind": 6}) {
		t.Errorf("disconnects %v", got)
	}
}

// TestMetricsTransportsNotSplit: an engine that does not split peers and
// bytes by transport (a nil map) gets no transport series, rather than
// zeros claiming it has no v1 peer, and the rest is served as usual.
func TestMetricsTransportsNotSplit(t *testing.T) {
	snap := metricsSnapshot()
	snap.Status.Transports = nil
	_, srv := newMetricsServer(snap)
	defer srv.Close()
	mfs := scrape(t, srv)
	for _, name := range []string{"watchnode_peers_by_transport", "watchnode_transport_bytes_total"} {
		if mf, ok := mfs[name]; ok {
			t.Errorf("%s served without transports: %v", name, mf)
		}
	}
	if got := series(t, mfs, "watchnode_bytes_total", dto.MetricType_COUNTER); got["direction=in"] != 2000 {
		t.Errorf("bytes_total %v", got)
	}
}

// nilSnapEngine has published nothing yet.
type nilSnapEngine struct{ *fakeEngine }

func (nilSnapEngine) Snapshot() *engine.Snapshot { return nil }

func TestMetricsNoSnapshot(t *testing.T) {
	f, _ := newMetricsServer(engine.Snapshot{})
	srv := httptest.NewServer(New(nilSnapEngine{f}, "", nil))
	defer srv.Close()
	mfs := scrape(t, srv)
	for name := range mfs {
		if strings.HasPrefix(name, "watchnode_") {
			t.Errorf("%s served without a snapshot", name)
		}
	}
	if _, ok := mfs["go_goroutines"]; !ok {
		t.Error("go_goroutines missing")
	}
}

// TestMetricsRace scrapes concurrently while the engine publishes new
// snapshots; counters never go backwards within one scraper.
func TestMetricsRace(t *testing.T) {
	f, srv := newMetricsServer(metricsSnapshot())
	defer srv.Close()
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for i := uint64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// A new snapshot each time, fresh maps included: snapshots
			// are immutable once published.
			s := metricsSnapshot()
			s.Status.Height = int32(i)
			s.Status.BytesRecv = 2000 + i
			s.Status.MsgsRecv = map[string]engine.CommandTraffic{"headers": {Messages: 7 + i, Bytes: i}, fmt.Sprintf("cmd%d", i%5): {Messages: i}}
			s.Status.DisconnectsByKind = map[engine.DropKind]uint64{engine.DropStall: i}
			s.Peers = append(s.Peers, engine.PeerInfo{ID: engine.PeerID(i), QueueBytes: int(i)})
			f.setSnapshot(s)
		}
	}()
	var scrapers sync.WaitGroup
	for range 4 {
		scrapers.Go(func() {
			var last float64
			for range 50 {
				got := series(t, scrape(t, srv), "watchnode_bytes_total", dto.MetricType_COUNTER)["direction=in"]
				if got < last {
					t.Errorf("bytes_total went back from %v to %v", last, got)
				}
				last = got
			}
		})
	}
	scrapers.Wait()
	close(stop)
	<-stopped
}
