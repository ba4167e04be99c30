package web

import (
	"strconv"
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
	peersByTransport, transportBytes                        *prometheus.Desc

	blocksConnected, blockStage, utxoCoins, utxoCacheBytes, utxoCacheLimit *prometheus.Desc
	utxoDiskBytes, utxoFlushes, windowBlocks, peerInFlight, stalls         *prometheus.Desc
	peerBlockBytes, verification                                           *prometheus.Desc
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
		// By transport in families of their own: a transport label on
		// watchnode_peers or watchnode_bytes_total would make summing
		// those over their labels count every peer and byte twice.
		peersByTransport: d("peers_by_transport", "Connected peers, by transport (v1 plaintext, v2 BIP324 encrypted); a peer still in a v2 handshake is in neither.", "transport"),
		transportBytes:   d("transport_bytes_total", "Bytes received (in) and sent (out) since start, by transport, all connections included.", "transport", "direction"),

		blocksConnected: d("blocks_connected_total", "Blocks connected to the UTXO set since start."),
		blockStage:      d("block_connect_stage_seconds", "Time to connect a block to the UTXO set, by stage (read, inputs, scripts, write).", "stage"),
		utxoCoins:       d("utxo_coins", "Unspent outputs in the UTXO set."),
		utxoCacheBytes:  d("utxo_cache_bytes", "Estimated memory of the UTXO set's coin cache."),
		utxoCacheLimit:  d("utxo_cache_limit_bytes", "Bound of the coin cache (-dbcache)."),
		utxoDiskBytes:   d("utxo_disk_bytes", "Size of the UTXO set's store on disk, as of its last flush."),
		utxoFlushes:     d("utxo_flushes_total", "Flushes of the UTXO set to disk since start."),
		windowBlocks:    d("download_window_blocks", "Blocks of the download window, by state (missing, requested, received, stored, validated).", "state"),
		peerInFlight:    d("peer_blocks_in_flight", "Blocks asked of each peer now.", "peer"),
		stalls:          d("block_stalls_total", "Peers dropped for stalling the block download, by outcome (replaced: another peer then delivered the block; pending: not yet).", "outcome"),
		peerBlockBytes:  d("peer_block_bytes_total", "Bytes of blocks each connected peer delivered.", "peer"),
		verification:    d("verification_progress", "Sync progress by transactions, Core's verificationprogress estimate, from 0 to 1."),
	}
}

// Describe implements prometheus.Collector.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.peers, c.height, c.headersPerSec, c.syncProgress, c.forkHeaders,
		c.addrBook, c.queueBytes, c.uptime, c.bans,
		c.bytes, c.messages, c.messageBytes, c.timeouts, c.disconnects,
		c.peersByTransport, c.transportBytes,
		c.blocksConnected, c.blockStage, c.utxoCoins, c.utxoCacheBytes, c.utxoCacheLimit,
		c.utxoDiskBytes, c.utxoFlushes, c.windowBlocks, c.peerInFlight, c.stalls, c.peerBlockBytes, c.verification,
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
	// A nil map is an engine that does not split by transport (yet): no
	// series then, rather than zeros that would claim there is no v1 peer.
	// The keys are the engine's own names ("v1", "v2"), valid label values.
	for name, t := range st.Transports {
		gauge(c.peersByTransport, float64(t.Peers), name)
		counter(c.transportBytes, float64(t.BytesRecv), name, "in")
		counter(c.transportBytes, float64(t.BytesSent), name, "out")
	}
	c.collectBlocks(ch, snap, gauge, counter)
}

// collectBlocks emits block download's and validation's metrics.
func (c *nodeCollector) collectBlocks(ch chan<- prometheus.Metric, snap *engine.Snapshot, gauge, counter func(*prometheus.Desc, float64, ...string)) {
	st := &snap.Status
	if v := st.Validation; v != nil {
		counter(c.blocksConnected, float64(v.Blocks))
		counter(c.utxoFlushes, float64(v.Flushes))
		gauge(c.verification, v.VerificationProgress)
		for _, name := range engine.StageNames() {
			h := v.Stages[name]
			buckets := make(map[float64]uint64, len(h.Bounds))
			for i, b := range h.Bounds {
				buckets[b] = h.Counts[i]
			}
			m, err := prometheus.NewConstHistogram(c.blockStage, h.Count, h.Sum, buckets, name)
			if err != nil {
				m = prometheus.NewInvalidMetric(c.blockStage, err)
			}
			ch <- m
		}
	}
	if u := st.UTXO; u != nil {
		gauge(c.utxoCoins, float64(u.Coins))
		gauge(c.utxoCacheBytes, float64(u.CacheBytes))
		gauge(c.utxoCacheLimit, float64(u.CacheLimit))
		gauge(c.utxoDiskBytes, float64(u.BytesOnDisk))
	}
	if b := st.Sync.Blocks; b != nil {
		counter(c.stalls, float64(b.StallsReplaced), "replaced")
		counter(c.stalls, float64(uint64(b.Stalls)-min(uint64(b.Stalls), b.StallsReplaced)), "pending")
	}
	if v := snap.Blocks; v != nil {
		count := map[engine.CellState]int{}
		for _, cell := range v.Window.Cells {
			count[cell.State]++
		}
		for _, s := range engine.CellStates() {
			gauge(c.windowBlocks, float64(count[s]), s.Name())
		}
		for i := range snap.Peers {
			p := &snap.Peers[i]
			id := strconv.FormatUint(uint64(p.ID), 10)
			gauge(c.peerInFlight, float64(p.BlocksInFlight), id)
			counter(c.peerBlockBytes, float64(p.BlockBytes), id)
		}
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
