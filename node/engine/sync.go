package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// Header sync tuning.
const (
	// maxHeadersPerMsg is the protocol's limit on a headers message.
	maxHeadersPerMsg = wire.MaxBlockHeadersPerMsg
	// headersTimeoutBase and headersTimeoutPerHeader scale a getheaders
	// request's timeout to the headers expected, as Core's headers sync
	// timeout does (HEADERS_DOWNLOAD_TIMEOUT_BASE/PER_HEADER, per request).
	headersTimeoutBase      = 15 * time.Second
	headersTimeoutPerHeader = 2 * time.Millisecond
	// maxUnconnecting is how many non-connecting headers messages a peer
	// may send before it is penalized (Core's MAX_NUM_UNCONNECTING_HEADERS_MSGS).
	maxUnconnecting = 10
	// maxAnnounce is the most new headers announced to a peer in one
	// headers message (Core announces up to MAX_BLOCKS_TO_ANNOUNCE = 8).
	maxAnnounce = 8
	// rateWindow is the span over which headers/s is measured.
	rateWindow = 10 * time.Second
)

// Sync states reported in the status.
const (
	SyncIdle       = "idle"       // no peer to sync from
	SyncPresync    = "presync"    // validating a low-work chain without storing it
	SyncRedownload = "redownload" // fetching the presynced chain again to store it
	SyncSyncing    = "syncing"    // downloading headers from the sync peer
	SyncSynced     = "synced"     // at the best tip any peer has shown us
)

// headerSync is the headers-first download state. It lives in the engine
// goroutine.
type headerSync struct {
	state string
	peer  PeerID // the sync peer, 0 when none
	// presync is set while the chain is below the minimum chain work: the
	// sync peer's headers go through it before anything is stored.
	presync *chain.Presync
	// samples of (time, height) for the headers/s rate.
	samples  []rateSample
	syncedAt time.Time
}

type rateSample struct {
	at     time.Time
	height int32
}

// SyncStatus is the sync part of the status.
type SyncStatus struct {
	State         string  `json:"state"`
	Progress      float64 `json:"progress"` // 0..1
	HeadersPerSec float64 `json:"headers_per_sec"`
	EtaS          float64 `json:"eta_s"`
	Peer          PeerID  `json:"peer"` // 0: none
	Target        int32   `json:"target_height"`
	// PresyncHeight is how far the presync or redownload has got.
	PresyncHeight int32 `json:"presync_height,omitempty"`
	// SyncedAt is when the node last caught up with its peers.
	SyncedAt time.Time `json:"synced_at"`
}

// headersRequestDone is told how a sync peer's getheaders ended.
func (e *Engine) headersRequestDone(r *Request, o Outcome) {
	if o != Expired {
		if o == Released && r.Peer == e.sync.peer {
			e.resetSyncPeer() // choose another at the next tick
		}
		return
	}
	p, ok := e.peers[r.Peer]
	if !ok {
		return
	}
	if r.Peer != e.sync.peer {
		// A tip check or follow-up to a peer that is not our sync peer:
		// nodes in their own initial sync ignore getheaders, which is no
		// reason to drop them.
		return
	}
	e.requestTimeouts++
	e.drop(p, dropReason(DropStall, "headers sync stalled: no headers within %s", r.Timeout), e.now())
}

// requestHeaders sends getheaders with locator to p, tracked with a timeout
// scaled to the headers p can be expected to send.
func (e *Engine) requestHeaders(p *peerState, locator []chainhash.Hash, now time.Time) {
	msg := wire.NewMsgGetHeaders()
	msg.ProtocolVersion = protocol.ProtocolVersion
	for i := range locator {
		if err := msg.AddBlockLocatorHash(&locator[i]); err != nil {
			break
		}
	}
	expected := maxHeadersPerMsg
	if p.version != nil {
		if gap := int(p.version.LastBlock) - int(e.chain.Height()); gap >= 0 && gap < expected {
			expected = gap
		}
	}
	timeout := headersTimeoutBase + time.Duration(expected)*headersTimeoutPerHeader
	e.sendRequest(p, msg, timeout, e.headersRequestDone, now)
}

// maintainSync picks a sync peer when there is none and there is something
// to download.
func (e *Engine) maintainSync(now time.Time) {
	if e.sync.peer != 0 {
		if _, ok := e.peers[e.sync.peer]; ok {
			return
		}
		e.resetSyncPeer()
	}
	best := e.pickSyncPeer()
	if best == nil {
		if e.sync.state != SyncSynced {
			e.sync.state = SyncIdle
		}
		return
	}
	e.sync.peer = best.id
	e.sync.state = SyncSyncing
	e.chain.Reserve(best.version.LastBlock)
	if e.chain.NeedsPresync() {
		e.sync.presync = e.chain.NewPresync()
		e.sync.state = SyncPresync
	}
	e.event(now, EventSync, best, "header sync from height %d, peer announces %d", e.chain.Height(), best.version.LastBlock)
	e.log.Info("header sync starting", "peer", best.id, "addr", best.addr, "from_height", e.chain.Height(), "peer_height", best.version.LastBlock)
	if !best.reqs.outstanding(wire.CmdGetHeaders) {
		e.requestHeaders(best, e.chain.Locator(), now)
	}
}

// pickSyncPeer prefers outbound peers (an attacker chooses to be inbound)
// with the highest announced height above ours.
func (e *Engine) pickSyncPeer() *peerState {
	var best *peerState
	for _, id := range e.order {
		p := e.peers[id]
		if !p.established() || p.version.LastBlock <= e.chain.Height() && e.sync.state == SyncSynced {
			continue
		}
		if p.lowWork || p.syncDone {
			// Its whole chain had less than the minimum work, or we already
			// synced to the end of what it serves: whatever it claims,
			// it has nothing more until it announces new headers.
			continue
		}
		if p.version.LastBlock <= e.chain.Height() && e.sync.state != SyncSynced {
			// A peer that claims nothing above us: we are synced with it.
			continue
		}
		if best == nil || (best.inbound() && !p.inbound()) ||
			(best.inbound() == p.inbound() && p.version.LastBlock > best.version.LastBlock) {
			best = p
		}
	}
	return best
}

// handleHeaders processes a headers message: matched responses drive the
// pipelined download, unsolicited ones are announcements.
func (e *Engine) handleHeaders(p *peerState, m peer.Inbound, answered *Request, now time.Time) {
	headers, hashes := m.Headers, m.HeaderHashes
	if headers == nil {
		headers, hashes = peer.HashHeaders(m.Msg.(*wire.MsgHeaders))
	}
	if len(headers) == 0 {
		if answered != nil && p.id == e.sync.peer {
			e.syncCaughtUp(p, now)
		}
		return
	}
	full := len(headers) == maxHeadersPerMsg
	if e.sync.presync != nil || e.chain.NeedsPresync() {
		if m.Hashed != nil {
			<-m.Hashed
		}
		if e.sync.presync != nil && answered != nil && p.id == e.sync.peer {
			e.handlePresyncHeaders(p, headers, hashes, full, now)
		} else {
			// Below the minimum chain work only the sync peer's presync may
			// bring headers in; announcements wait until we have a chain.
			p.ignored++
		}
		return
	}
	// Pipelining: ask for the next batch before validating this one, so
	// the peer prepares it while we validate. If the batch turns out to be
	// invalid the peer is dropped and the request released.
	if full && answered != nil && e.chain.Known(&headers[0].PrevBlock) {
		last := hashes[len(hashes)-1]
		e.requestHeaders(p, []chainhash.Hash{last}, now)
	}
	if m.Hashed != nil {
		// The reader is finishing the hashes it started after handing the
		// batch over (a few hundred microseconds at most).
		<-m.Hashed
	}
	res, err := e.chain.Accept(headers, hashes, now.Unix())
	e.storeWrites(res.Writes) // with an error too: the valid prefix stays
	e.learnedFrom(p, res)
	if err != nil {
		var rerr *consensus.RuleError
		switch {
		case errors.Is(err, consensus.ErrTimeTooNew):
			// Not invalid, only early (Core's BLOCK_TIME_FUTURE): keep the
			// peer, and take the header when it is offered again.
			e.log.Info("header too far in the future; ignored for now", "peer", p.id, "err", err)
		case errors.As(err, &rerr):
			e.drop(p, violation("invalid header: %v", err), now)
		case errors.Is(err, chain.ErrNotConnected):
			p.unconnecting++
			if p.unconnecting > maxUnconnecting {
				e.drop(p, violation("%d headers messages that do not connect to our chain", p.unconnecting), now)
				return
			}
			// The peer is on a branch we lack the start of: ask it from
			// our locator (Core does the same).
			if !p.reqs.outstanding(wire.CmdGetHeaders) {
				e.requestHeaders(p, e.chain.Locator(), now)
			}
		default:
			e.drop(p, violation("bad headers: %v", err), now)
		}
		return
	}
	p.unconnecting = 0
	if res.TipChanged {
		e.tipChanged(res, now)
	}
	if !full && answered != nil && p.id == e.sync.peer {
		e.syncCaughtUp(p, now)
	}
	// A full batch from a peer that is not the sync peer (answering our
	// tip check) means it has more: keep fetching from it.
	if full && answered == nil && !p.reqs.outstanding(wire.CmdGetHeaders) {
		e.requestHeaders(p, e.chain.Locator(), now)
	}
}

// syncCaughtUp ends the download from the sync peer and, the first time,
// asks every other peer for its tip: the node never trusts one peer.
func (e *Engine) syncCaughtUp(p *peerState, now time.Time) {
	if e.sync.state != SyncSynced {
		e.log.Info("header sync caught up", "height", e.chain.Height(), "peer", p.id)
		e.event(now, EventSync, p, "header sync caught up at height %d", e.chain.Height())
		e.sync.syncedAt = now
		defer e.publish(now) // observers see it at once, not at the next tick
	}
	e.sync.state = SyncSynced
	e.sync.peer = 0
	p.syncDone = true
	for _, id := range e.order {
		q := e.peers[id]
		if q.id != p.id && q.established() && !q.tipAsked {
			e.askTip(q, now)
		}
	}
}

// askTip sends one getheaders from our tip to q, so a peer on a chain with
// more work shows it to us.
func (e *Engine) askTip(q *peerState, now time.Time) {
	q.tipAsked = true
	if !q.reqs.outstanding(wire.CmdGetHeaders) {
		e.requestHeaders(q, e.chain.Locator(), now)
	}
}

// tipChanged records progress and announces the new tip to the peers that
// asked for announcements by headers (BIP130), once we are synced.
func (e *Engine) tipChanged(res chain.AcceptResult, now time.Time) {
	e.recordRate(now)
	if r := res.Reorg; r != nil {
		e.log.Info("reorg", "fork_height", r.ForkHeight, "new_tip", r.NewTip)
		e.eventLog.Append(Event{Time: now, Kind: EventReorg, Text: fmt.Sprintf("reorganized at height %d: tip %d %s replaces %d %s",
			r.ForkHeight, r.NewHeight, protocol.ShortHash(r.NewTip), r.OldHeight, protocol.ShortHash(r.OldTip))})
	}
	if e.sync.state != SyncSynced {
		return
	}
	height := e.chain.Height()
	from := max(height-maxAnnounce+1, 1)
	if res.Reorg != nil {
		from = max(from, res.Reorg.ForkHeight+1)
	}
	msg := wire.NewMsgHeaders()
	for h := from; h <= height; h++ {
		w := e.chain.HeaderAt(h).ToWire()
		msg.AddBlockHeader(&w)
	}
	tip := e.chain.HashAt(height)
	inv := wire.NewMsgInv()
	inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &tip))
	// Peers that have the parent of the first header get the headers
	// (BIP130); the others could not connect them and get an inv of the
	// tip instead, as Core does, and ask with a locator.
	// What a peer has of our main chain: up to where its best header's
	// branch meets it (after a reorg, that is the fork point).
	common := func(p *peerState) int32 {
		if p.bestKnown == 0 {
			return 0
		}
		return e.chain.CommonHeight(&p.bestHash)
	}
	wants := func(p *peerState) bool { return p.announced != tip && common(p) < height }
	knowsParent := func(p *peerState) bool { return p.features.SendHeaders && common(p) >= from-1 }
	e.broadcast(msg, func(p *peerState) bool {
		if !wants(p) || !knowsParent(p) {
			return false
		}
		p.announced, p.bestKnown, p.bestHash = tip, height, tip
		return true
	}, now)
	e.broadcast(inv, func(p *peerState) bool {
		if !wants(p) || knowsParent(p) {
			return false
		}
		p.announced = tip
		return true
	}, now)
}

// handleGetHeaders answers from the main chain (at most 2000 headers).
func (e *Engine) handleGetHeaders(p *peerState, m *wire.MsgGetHeaders, now time.Time) {
	locator := make([]chainhash.Hash, len(m.BlockLocatorHashes))
	for i, h := range m.BlockLocatorHashes {
		locator[i] = *h
	}
	headers := e.chain.HeadersAfter(locator, m.HashStop, maxHeadersPerMsg)
	msg := &wire.MsgHeaders{Headers: make([]*wire.BlockHeader, len(headers))}
	ws := make([]wire.BlockHeader, len(headers))
	for i := range headers {
		ws[i] = headers[i].ToWire()
		msg.Headers[i] = &ws[i]
	}
	if len(headers) > 0 {
		// The peer now has our chain up to the last header sent (Core's
		// pindexBestHeaderSent), so announcements can build on it.
		last := headers[len(headers)-1].Hash()
		if h, ok := e.chain.MainHeight(&last); ok && h >= p.bestKnown {
			p.bestKnown, p.bestHash = h, last
		}
	}
	e.send(p, msg, now)
}

func (e *Engine) recordRate(now time.Time) {
	e.sync.samples = append(e.sync.samples, rateSample{at: now, height: e.chain.Height()})
	cut := 0
	for cut < len(e.sync.samples)-1 && now.Sub(e.sync.samples[cut].at) > rateWindow {
		cut++
	}
	e.sync.samples = e.sync.samples[cut:]
}

// syncStatus computes progress, rate and ETA for the status.
func (e *Engine) syncStatus(now time.Time) SyncStatus {
	height := e.chain.Height()
	st := SyncStatus{State: e.sync.state, Peer: e.sync.peer, Target: height, SyncedAt: e.sync.syncedAt}
	if ps := e.sync.presync; ps != nil {
		st.PresyncHeight = ps.Height()
	}
	for _, p := range e.peers {
		if p.version != nil {
			st.Target = max(st.Target, p.version.LastBlock, p.bestKnown)
		}
	}
	// A tip far in the past also says we are behind, whatever peers claim:
	// about one header per 10 minutes since the tip's time.
	tipTime := time.Unix(int64(e.chain.TipHeader().Timestamp), 0)
	if behind := now.Sub(tipTime); behind > 24*time.Hour && e.sync.state != SyncSynced {
		st.Target = max(st.Target, height+int32(behind/(10*time.Minute)))
	}
	switch {
	case e.sync.state == SyncSynced:
		// Synced with every peer we asked: a peer merely claiming a higher
		// height in its version message does not make us behind.
		st.Target, st.Progress = height, 1
	case st.Target > 0:
		st.Progress = min(1, float64(height)/float64(st.Target))
	default:
		st.Progress = 1
	}
	if n := len(e.sync.samples); n >= 2 && now.Sub(e.sync.samples[n-1].at) < rateWindow {
		first, last := e.sync.samples[0], e.sync.samples[n-1]
		if d := last.at.Sub(first.at).Seconds(); d > 0 {
			st.HeadersPerSec = float64(last.height-first.height) / d
		}
	}
	if st.HeadersPerSec > 0 && st.Target > height {
		st.EtaS = float64(st.Target-height) / st.HeadersPerSec
	}
	return st
}

// handleInv follows block announcements from peers that announce by inv
// (those that did not send sendheaders): an unknown block hash means the
// peer has headers we lack, so ask it from our locator, as Core does.
func (e *Engine) handleInv(p *peerState, m *wire.MsgInv, now time.Time) {
	for _, iv := range m.InvList {
		if iv.Type != wire.InvTypeBlock && iv.Type != wire.InvTypeWitnessBlock {
			continue
		}
		if !e.chain.Known(&iv.Hash) {
			if !p.reqs.outstanding(wire.CmdGetHeaders) {
				e.requestHeaders(p, e.chain.Locator(), now)
			}
			return
		}
	}
}

// resetSyncPeer forgets the sync peer and any presync of its chain.
func (e *Engine) resetSyncPeer() {
	e.sync.peer = 0
	e.sync.presync = nil
	if e.sync.state != SyncSynced {
		e.sync.state = SyncIdle
	}
}

// handlePresyncHeaders feeds the sync peer's headers to the presync: in
// PRESYNC they are validated and forgotten, in REDOWNLOAD the ones proven
// to be the presynced chain are stored.
func (e *Engine) handlePresyncHeaders(p *peerState, headers []consensus.Header, hashes []chainhash.Hash, full bool, now time.Time) {
	ps := e.sync.presync
	wasRedownloading := ps.Redownloading()
	out, outHashes, err := ps.Process(headers, hashes, now.Unix())
	if err != nil {
		e.resetSyncPeer()
		e.drop(p, violation("headers presync: %v", err), now)
		return
	}
	if len(out) > 0 {
		res, err := e.chain.Accept(out, outHashes, now.Unix())
		e.storeWrites(res.Writes)
		if err != nil {
			e.resetSyncPeer()
			e.drop(p, violation("invalid header on redownload: %v", err), now)
			return
		}
		e.learnedFrom(p, res)
		if res.TipChanged {
			e.tipChanged(res, now)
		}
	}
	switch {
	case !wasRedownloading && ps.Redownloading():
		e.log.Info("presync reached the minimum chain work; downloading again to store", "peer", p.id, "height", ps.Target())
		e.sync.state = SyncRedownload
		e.requestHeaders(p, e.chain.LocatorAt(ps.Anchor()), now)
	case ps.Done():
		e.sync.presync = nil
		e.sync.state = SyncSyncing
		if full {
			e.requestHeaders(p, []chainhash.Hash{hashes[len(hashes)-1]}, now)
		} else {
			e.syncCaughtUp(p, now)
		}
	case full:
		e.requestHeaders(p, []chainhash.Hash{hashes[len(hashes)-1]}, now)
	case !ps.Redownloading():
		// The peer's whole chain is below the minimum work: nothing to
		// store. Not misbehaviour (it may still be syncing); try another.
		e.log.Info("peer's chain is below the minimum chain work", "peer", p.id, "presync_height", ps.Height())
		p.lowWork = true
		e.resetSyncPeer()
	default:
		// A short batch during redownload before the target: the peer
		// served less than it presynced.
		e.resetSyncPeer()
		e.drop(p, violation("headers presync: redownload ended at %d before %d", ps.Height(), ps.Target()), now)
	}
}

// learnedFrom records the highest main-chain header p has shown us; fork
// headers do not count (their height says nothing about our main chain).
func (e *Engine) learnedFrom(p *peerState, res chain.AcceptResult) {
	if res.New+res.Duplicates == 0 {
		return
	}
	if h, ok := e.chain.MainHeight(&res.Last); ok && h >= p.bestKnown {
		p.bestKnown, p.bestHash = h, res.Last
	}
}
