package web

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/watchnode/watchnode/node/engine"
)

// routeMetrics registers /metrics: the node's state in the Prometheus text
// format, with the Go runtime's and the process's metrics. The registry is
// this server's own (never the global default one), so servers do not share
// state.
func (s *Server) routeMetrics() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newNodeCollector(s.eng),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}

// nodeCollector turns the engine's published snapshot into metrics at
// scrape time. It reads only Snapshot(), which never blocks on the engine.
type nodeCollector struct {
	eng Engine

	peers, height, headersPerSec, syncProgress, forkHeaders *prometheus.Desc
	addrBook, queueBytes, uptime, bans                      *prometheus.Desc
	bytes, messages, messageBytes, timeouts, disconnects    *prometheus.Desc
}

func newNodeCollector(eng Engine) *nodeCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("watchnode_"+name, help, labels, nil)
	}
	return &nodeCollector{
		eng:           eng,
		peers:         d("peers", "Connected peers, by direction.", "direction"),
		height:        d("height", "Height of the best header chain."),
		headersPerSec: d("headers_per_second", "Rate at which headers are being synced."),
		syncProgress:  d("sync_progress", "Header sync progress, from 0 to 1."),
		forkHeaders:   d("fork_headers", "Headers known off the best chain."),
		addrBook:      d("address_book", "Addresses in the address book, by table.", "table"),
		queueBytes:    d("queue_bytes", "Bytes queued in peers' outgoing (out) and incoming (in) queues, summed over connected peers.", "direction"),
		uptime:        d("uptime_seconds", "Seconds since the node started."),
		bans:          d("bans", "Addresses currently banned."),
		bytes:         d("bytes_total", "Bytes received (in) and sent (out) since start, all connections included.", "direction"),
		messages:      d("messages_total", "Messages received (in) and sent (out) since start, by command.", "command", "direction"),
		messageBytes:  d("message_bytes_total", "Bytes of messages received (in) and sent (out) since start, by command.", "command", "direction"),
		timeouts:      d("request_timeouts_total", "Requests to peers that expired unanswered since start."),
		disconnects:   d("disconnects_total", "Peers disconnected since start, by kind of reason.", "reason"),
	}
}

// Describe implements prometheus.Collector.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.peers, c.height, c.headersPerSec, c.syncProgress, c.forkHeaders,
		c.addrBook, c.queueBytes, c.uptime, c.bans,
		c.bytes, c.messages, c.messageBytes, c.timeouts, c.disconnects,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.eng.Snapshot()
	if snap == nil {
		return // nothing published yet
	}
	st := &snap.Status
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(d, t, v, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) { emit(d, prometheus.GaugeValue, v, labels...) }
	counter := func(d *prometheus.Desc, v float64, labels ...string) { emit(d, prometheus.CounterValue, v, labels...) }

	gauge(c.peers, float64(st.Inbound), "inbound")
	gauge(c.peers, float64(st.Outbound), "outbound")
	gauge(c.height, float64(st.Height))
	gauge(c.headersPerSec, st.Sync.HeadersPerSec)
	gauge(c.syncProgress, st.Sync.Progress)
	gauge(c.forkHeaders, float64(st.ForkHeaders))
	gauge(c.addrBook, float64(st.AddrNew), "new")
	gauge(c.addrBook, float64(st.AddrTried), "tried")
	var qOut, qIn int
	for i := range snap.Peers {
		qOut += snap.Peers[i].QueueBytes
		qIn += snap.Peers[i].InQueueBytes
	}
	gauge(c.queueBytes, float64(qOut), "out")
	gauge(c.queueBytes, float64(qIn), "in")
	gauge(c.uptime, float64(st.UptimeS))
	gauge(c.bans, float64(len(snap.Bans)))

	counter(c.bytes, float64(st.BytesRecv), "in")
	counter(c.bytes, float64(st.BytesSent), "out")
	for dir, byCmd := range map[string]map[string]engine.CommandTraffic{"in": st.MsgsRecv, "out": st.MsgsSent} {
		for cmd, t := range foldTraffic(byCmd) {
			counter(c.messages, float64(t.Messages), cmd, dir)
			counter(c.messageBytes, float64(t.Bytes), cmd, dir)
		}
	}
	counter(c.timeouts, float64(st.RequestTimeouts))
	for kind, n := range foldKinds(st.DisconnectsByKind) {
		counter(c.disconnects, float64(n), kind)
	}
}

// labelValue makes s a valid Prometheus label value: valid UTF-8, invalid
// bytes replaced; anything else is kept as is.
func labelValue(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// foldTraffic keys m by sanitized command, summing commands that sanitize
// alike: two series with the same labels would fail the whole scrape.
func foldTraffic(m map[string]engine.CommandTraffic) map[string]engine.CommandTraffic {
	out := make(map[string]engine.CommandTraffic, len(m))
	for cmd, t := range m {
		k := labelValue(cmd)
		sum := out[k]
		sum.Messages += t.Messages
		sum.Bytes += t.Bytes
		out[k] = sum
	}
	return out
}

// foldKinds keys m by sanitized kind, as foldTraffic.
func foldKinds(m map[engine.DropKind]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for kind, n := range m {
		out[labelValue(string(kind))] += n
	}
	return out
}
