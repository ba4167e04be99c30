package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/watchnode/watchnode/node/engine"
)

// Feed timing and bounds.
const (
	// deltaInterval: state deltas go out at most 10 times a second.
	deltaInterval = 100 * time.Millisecond
	// sampleInterval is the charts' resolution; historySize samples (ten
	// minutes) come with every snapshot.
	sampleInterval = time.Second
	historySize    = 600
	// slowClientLimit: a client whose socket accepts nothing for this long
	// is closed; it reconnects and starts again from a snapshot.
	slowClientLimit = 10 * time.Second
	// maxPendingLines bounds the log lines waiting for one client; beyond
	// it lines are dropped and counted as skipped.
	maxPendingLines = 1000
	// maxPendingEvents bounds the events waiting for one client.
	maxPendingEvents = 200
	// maxPendingLinks bounds the request links waiting for one client;
	// beyond it the oldest are dropped (their requests then look pending
	// until the page is reloaded).
	maxPendingLinks = 1000
)

// Hub feeds every WebSocket client from the engine's published state. It
// reads only snapshots and the engine's logs, so a client, however slow,
// can never hold the engine up: each client has a bounded backlog in which
// state is coalesced (latest wins) and log lines beyond the bound are
// dropped and counted.
type Hub struct {
	eng Engine
	log *slog.Logger
	// slowLimit is slowClientLimit; tests shorten it.
	slowLimit time.Duration

	mu      sync.Mutex
	clients map[*client]struct{}
	history []Sample // last historySize samples
	last    lastSent
}

// lastSent remembers what the previous delta carried, to send only changes.
type lastSent struct {
	status, peers, disconnects, bans, added []byte
	eventSeq                                uint64
	sampleAt                                time.Time
	sync                                    []byte
	syncAt                                  time.Time
	prevStatus                              *engine.Status
}

// client is one WebSocket connection.
type client struct {
	hub    *Hub
	conn   *websocket.Conn
	notify chan struct{}

	mu      sync.Mutex
	pending *stateData // coalesced state not yet written
	lines   []MessageLine
	skipped uint64
	filter  *clientRequest // nil: not subscribed to the message log
	lastSeq uint64
	// wantSync: the client asked for the sync page's part of the feed.
	wantSync bool
	// links wait to go out with the lines (filter.Links); lastLink is the
	// newest link looked at.
	links    []LinkLine
	lastLink uint64
}

// NewHub returns a hub for eng; Run feeds the clients.
func NewHub(eng Engine, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{eng: eng, log: log, clients: make(map[*client]struct{}), slowLimit: slowClientLimit}
}

// Run ticks until ctx ends: it computes deltas, samples and log lines and
// hands them to the clients.
func (h *Hub) Run(ctx context.Context) {
	t := time.NewTicker(deltaInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.tick(now)
		}
	}
}

func marshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// tick builds one delta and one batch of log lines per client.
func (h *Hub) tick(now time.Time) {
	snap := h.eng.Snapshot()
	if snap == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var d stateData
	changed := false
	if b := marshal(snap.Status); !bytes.Equal(b, h.last.status) {
		h.last.status, d.Status, changed = b, &snap.Status, true
	}
	if b := marshal(snap.Peers); !bytes.Equal(b, h.last.peers) {
		h.last.peers, d.Peers, d.PeersEmpty, changed = b, snap.Peers, len(snap.Peers) == 0, true
	}
	if b := marshal(snap.Disconnects); !bytes.Equal(b, h.last.disconnects) {
		h.last.disconnects, d.Disconnects, changed = b, snap.Disconnects, true
	}
	if b := marshal(snap.Bans); !bytes.Equal(b, h.last.bans) {
		h.last.bans, d.Bans, d.BansEmpty, changed = b, snap.Bans, len(snap.Bans) == 0, true
	}
	if b := marshal(snap.AddedNodes); !bytes.Equal(b, h.last.added) {
		h.last.added, d.AddedNodes, d.AddedEmpty, changed = b, snap.AddedNodes, len(snap.AddedNodes) == 0, true
	}
	if _, evs, _ := h.eng.Events().Since(h.last.eventSeq, maxPendingEvents); len(evs) > 0 {
		h.last.eventSeq = h.eng.Events().Last()
		d.Events, changed = evs, true
	}
	if now.Sub(h.last.sampleAt) >= sampleInterval {
		if s, ok := h.sample(now, &snap.Status); ok {
			d.Samples, changed = []Sample{s}, true
		}
	}
	var sd *syncData
	if now.Sub(h.last.syncAt) >= syncInterval && h.anyWantsSync() {
		h.last.syncAt = now
		data := syncDataOf(snap, now)
		if b := marshal(data); !bytes.Equal(b, h.last.sync) {
			h.last.sync, sd = b, data
		}
	}
	for c := range h.clients {
		if changed {
			c.queueState(&d)
		}
		if sd != nil && c.wantsSync() {
			c.queueState(&stateData{Sync: sd})
		}
		// Links first: a link is appended after the lines it names, so
		// this batch's links name lines this batch or an earlier one has.
		c.queueLinks(h.eng.Links())
		c.queueLines(h.eng.Messages())
	}
}

// anyWantsSync reports whether a client asked for the sync page's data.
func (h *Hub) anyWantsSync() bool {
	for c := range h.clients {
		if c.wantsSync() {
			return true
		}
	}
	return false
}

func (c *client) wantsSync() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wantSync
}

// sample turns the counters' change since the last sample into rates.
func (h *Hub) sample(now time.Time, st *engine.Status) (Sample, bool) {
	prev, prevAt := h.last.prevStatus, h.last.sampleAt
	stCopy := *st
	h.last.prevStatus, h.last.sampleAt = &stCopy, now
	if prev == nil {
		return Sample{}, false
	}
	secs := now.Sub(prevAt).Seconds()
	s := Sample{
		T:       now.UnixMilli(),
		BytesIn: float64(st.BytesRecv-min(st.BytesRecv, prev.BytesRecv)) / secs, BytesOut: float64(st.BytesSent-min(st.BytesSent, prev.BytesSent)) / secs,
		HeadersPerSec: float64(st.Height-prev.Height) / secs, Height: st.Height,
		PeersIn: st.Inbound, PeersOut: st.Outbound, MsgsIn: map[string]uint64{},
	}
	if s.HeadersPerSec < 0 {
		s.HeadersPerSec = 0 // a reorg to a shorter chain
	}
	rate := func(now, before uint64) float64 { return float64(now-min(now, before)) / secs }
	if v, pv := st.Validation, prev.Validation; v != nil && pv != nil {
		s.BlocksPerSec, s.TxsPerSec = rate(v.Blocks, pv.Blocks), rate(v.Txs, pv.Txs)
		s.InputsPerSec, s.ScriptsPerSec = rate(v.Inputs, pv.Inputs), rate(v.ScriptsChecked, pv.ScriptsChecked)
	} else if st.Blocks > prev.Blocks {
		s.BlocksPerSec = float64(st.Blocks-prev.Blocks) / secs
	}
	if b, pb := st.Sync.Blocks, prev.Sync.Blocks; b != nil && pb != nil {
		s.BlockBytesPerSec = rate(b.ReceivedBytes, pb.ReceivedBytes)
	}
	for cmd, t := range st.MsgsRecv {
		if d := t.Messages - min(t.Messages, prev.MsgsRecv[cmd].Messages); d > 0 {
			s.MsgsIn[cmd] = d
		}
	}
	h.history = append(h.history, s)
	if len(h.history) > historySize {
		h.history = h.history[len(h.history)-historySize:]
	}
	return s, true
}

// queueState merges d into the client's pending state: sections are
// replaced by newer ones, events and samples appended within bounds.
func (c *client) queueState(d *stateData) {
	c.mu.Lock()
	p := c.pending
	if p == nil {
		p = &stateData{}
		c.pending = p
	}
	if d.Status != nil {
		p.Status = d.Status
	}
	if d.Peers != nil || d.PeersEmpty {
		p.Peers, p.PeersEmpty = d.Peers, d.PeersEmpty
	}
	if d.Disconnects != nil {
		p.Disconnects = d.Disconnects
	}
	if d.Bans != nil || d.BansEmpty {
		p.Bans, p.BansEmpty = d.Bans, d.BansEmpty
	}
	if d.AddedNodes != nil || d.AddedEmpty {
		p.AddedNodes, p.AddedEmpty = d.AddedNodes, d.AddedEmpty
	}
	if d.Sync != nil {
		p.Sync = d.Sync
	}
	p.Events = append(p.Events, d.Events...)
	if over := len(p.Events) - maxPendingEvents; over > 0 {
		p.Events = p.Events[over:]
	}
	p.Samples = append(p.Samples, d.Samples...)
	if over := len(p.Samples) - historySize; over > 0 {
		p.Samples = p.Samples[over:]
	}
	c.mu.Unlock()
	c.wake()
}

// queueLines adds the log lines matching the client's filter.
func (c *client) queueLines(ring *engine.Ring[engine.MessageRecord]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.filter == nil {
		return
	}
	first, recs, skipped := ring.Since(c.lastSeq, 4*maxPendingLines)
	c.skipped += skipped
	for i := range recs {
		if c.filter.matches(&recs[i]) {
			c.lines = append(c.lines, lineOf(first+uint64(i), &recs[i]))
		}
	}
	if len(recs) > 0 {
		c.lastSeq = first + uint64(len(recs)) - 1
	}
	if over := len(c.lines) - maxPendingLines; over > 0 {
		c.lines = c.lines[over:]
		c.skipped += uint64(over)
	}
	if len(c.lines) > 0 || c.skipped > 0 {
		defer c.wake()
	}
}

// queueLinks adds the links of the subscribed peer's requests, for a
// subscription that asked for them.
func (c *client) queueLinks(ring *engine.Ring[engine.RequestLink]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.filter == nil || !c.filter.Links || c.filter.Peer == 0 {
		return
	}
	first, links, _ := ring.Since(c.lastLink, 4*maxPendingLinks)
	for i := range links {
		if uint64(links[i].Peer) == c.filter.Peer {
			c.links = append(c.links, linkOf(&links[i]))
		}
	}
	if len(links) > 0 {
		c.lastLink = first + uint64(len(links)) - 1
	}
	if over := len(c.links) - maxPendingLinks; over > 0 {
		c.links = c.links[over:]
	}
	if len(c.links) > 0 {
		defer c.wake()
	}
}

func (c *client) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// ServeHTTP upgrades the request to a WebSocket and feeds it: a snapshot
// first, then deltas and log lines. Origins are checked by coder/websocket
// (same host only).
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered (e.g. 403 for a foreign origin)
	}
	c := &client{hub: h, conn: conn, notify: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	h.mu.Lock()
	snap := h.eng.Snapshot()
	first := &stateData{Status: &snap.Status, Peers: snap.Peers, Disconnects: snap.Disconnects, Bans: snap.Bans,
		AddedNodes: snap.AddedNodes, AddedEmpty: len(snap.AddedNodes) == 0,
		Samples: append([]Sample(nil), h.history...), PeersEmpty: len(snap.Peers) == 0, BansEmpty: len(snap.Bans) == 0}
	// Events up to the last one the hub has handed out: later ones reach
	// this client with the next delta, as they reach everyone.
	firstSeq, evs, _ := h.eng.Events().Since(h.last.eventSeq-min(h.last.eventSeq, maxPendingEvents), maxPendingEvents)
	for i := range evs {
		if firstSeq+uint64(i) <= h.last.eventSeq {
			first.Events = append(first.Events, evs[i])
		}
	}
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
	}()

	go c.readLoop(ctx, cancel)
	if err := c.write(ctx, feedMsg{V: FeedVersion, Type: "snapshot", Data: first}); err != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			conn.Close(websocket.StatusGoingAway, "server closing")
			return
		case <-c.notify:
		}
		c.mu.Lock()
		state, lines, skipped, links := c.pending, c.lines, c.skipped, c.links
		c.pending, c.lines, c.skipped, c.links = nil, nil, 0, nil
		c.mu.Unlock()
		if state != nil {
			if err := c.write(ctx, feedMsg{V: FeedVersion, Type: "delta", Data: state}); err != nil {
				return
			}
		}
		if len(lines) > 0 || skipped > 0 || len(links) > 0 {
			if err := c.write(ctx, feedMsg{V: FeedVersion, Type: "messages", Data: messagesData{Lines: lines, Skipped: skipped, Links: links}}); err != nil {
				return
			}
		}
	}
}

// write sends one message, closing a client that cannot take it within
// slowClientLimit.
func (c *client) write(ctx context.Context, m feedMsg) error {
	wctx, cancel := context.WithTimeout(ctx, c.hub.slowLimit)
	defer cancel()
	err := c.conn.Write(wctx, websocket.MessageText, marshal(m))
	if errors.Is(err, context.DeadlineExceeded) {
		c.hub.log.Info("closing a WebSocket client that stopped reading")
		c.conn.Close(websocket.StatusPolicyViolation, "too slow")
	}
	return err
}

// readLoop applies the page's subscription requests.
func (c *client) readLoop(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	c.conn.SetReadLimit(4 << 10)
	for {
		_, data, err := c.conn.Read(ctx)
		if err != nil {
			return
		}
		var req clientRequest
		if json.Unmarshal(data, &req) != nil {
			continue
		}
		c.mu.Lock()
		switch req.Type {
		case "subscribe":
			if c.filter == nil {
				// Start with the recent past, as much as the backlog holds.
				c.lastSeq = c.hub.eng.Messages().Last() - min(c.hub.eng.Messages().Last(), 200)
				// And the links of that recent past: those made between
				// the page's rendering and this subscription included.
				c.lastLink = c.hub.eng.Links().Last() - min(c.hub.eng.Links().Last(), 200)
			}
			c.filter = &req
			c.lines, c.links = nil, nil
		case "unsubscribe":
			c.filter, c.lines, c.links = nil, nil, nil
		case "sync":
			c.wantSync = true
		case "unsync":
			c.wantSync = false
		}
		c.mu.Unlock()
		if req.Type == "sync" {
			// The next tick sends the window to every sync client,
			// changed or not, so the new one starts with it. (Taken
			// after the client's lock: the tick takes the hub's first.)
			c.hub.mu.Lock()
			c.hub.last.sync, c.hub.last.syncAt = nil, time.Time{}
			c.hub.mu.Unlock()
		}
	}
}
