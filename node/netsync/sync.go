package netsync

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/p2p"
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
	// syncTimeoutBase and syncTimeoutPerHeader bound a whole sync from one
	// peer, as Core's HEADERS_DOWNLOAD_TIMEOUT_BASE (15 min) and _PER_HEADER
	// (1 ms) do: a peer that answers every getheaders just in time would
	// otherwise hold a new node's sync, and so its blocks (headers first),
	// for as long as it likes.
	syncTimeoutBase      = 15 * time.Minute
	syncTimeoutPerHeader = time.Millisecond
	// syncRecentAge: once the best header is this recent, the sync is
	// caught up enough that the whole-sync timeout no longer applies
	// (Core's 24 hours).
	syncRecentAge = 24 * time.Hour
)

// Sync states reported in the status.
const (
	StateIdle       = "idle"       // no peer to sync from
	StatePresync    = "presync"    // validating a low-work chain without storing it
	StateRedownload = "redownload" // fetching the presynced chain again to store it
	StateSyncing    = "syncing"    // downloading headers from the sync peer
	StateSynced     = "synced"     // at the best tip any peer has shown us
)

// Sync is the header sync state machine, plugged into a p2p.Core. It owns
// the header chain. See the package documentation.
type Sync struct {
	core  *p2p.Core
	chain *chain.Chain
	peers map[p2p.PeerID]*syncPeer

	state string
	peer  p2p.PeerID // the sync peer, 0 when none
	// syncDeadline is when the sync peer's whole sync times out (see
	// checkSyncTimeout); zero when none applies. syncStart and
	// syncStartHeight are when and where that sync started.
	syncDeadline    time.Time
	syncStart       time.Time
	syncStartHeight int32
	// presync is set while the chain is below the minimum chain work: the
	// sync peer's headers go through it before anything is stored.
	presync *chain.Presync
	// samples of (time, height) for the headers/s rate.
	samples  []rateSample
	syncedAt time.Time
	// blocks is block download and serving; nil for a node that keeps
	// headers only.
	blocks *blockState
}

// syncPeer is what sync knows of one established peer.
type syncPeer struct {
	// bestKnown is the highest of our main-chain heights the peer is known
	// to have, bestHash the header there when we learned it.
	bestKnown int32
	bestHash  chainhash.Hash
	announced chainhash.Hash // the tip we last announced to it
	// tipAsked: we asked it for its tip after our sync.
	tipAsked bool
	// unconnecting is its run of headers messages that did not connect.
	unconnecting int
	// tooNew counts its headers messages refused as too far in the future.
	tooNew   int
	lowWork  bool // its chain stayed below the minimum chain work
	syncDone bool // we synced to the end of what it serves
	// prepared is the headers batch made ahead for it (serve.go).
	prepared *preparedBatch
	// lastServed is the last header of our last non-empty headers answer
	// to it: a getheaders from there continues a sync from us.
	lastServed chainhash.Hash
	// lastUnknown is the last block it announced that we had no header
	// for; once we have it, the peer is known to have it too.
	lastUnknown chainhash.Hash
	// bestHeader is the highest header it has shown us on any branch
	// (Core's pindexBestKnownBlock): a fork header today may be on the
	// main chain after a reorg, and the peer then has its blocks.
	bestHeader       chainhash.Hash
	bestHeaderHeight int32
}

type rateSample struct {
	at     time.Time
	height int32
}

// StoreHeaders is the job of writing main-chain header records to the
// header store, in order; a failure stops the node.
type StoreHeaders struct{ Write chain.Write }

// JobName implements p2p.Job.
func (StoreHeaders) JobName() string { return "store-headers" }

// New returns sync for core over ch. Plug it in with p2p.New's newSync
// argument. blocks is what the block store holds at start; nil makes a
// node that syncs headers only (it neither downloads nor serves blocks).
func New(core *p2p.Core, ch *chain.Chain, blocks *BlockStart) *Sync {
	s := &Sync{core: core, chain: ch, peers: make(map[p2p.PeerID]*syncPeer), state: StateIdle}
	if blocks != nil {
		s.blocks = newBlockState(blocks)
	}
	return s
}

// Chain returns the header chain sync owns. Only the core's goroutine may
// use it; observers read Views.
func (s *Sync) Chain() *chain.Chain { return s.chain }

// Height implements p2p.Sync.
func (s *Sync) Height() int32 { return s.chain.Height() }

// PeerEstablished implements p2p.Sync: a new peer is asked for its tip
// once we are synced, or may become the sync peer.
func (s *Sync) PeerEstablished(id p2p.PeerID) {
	s.peers[id] = &syncPeer{}
	if s.state == StateSynced {
		s.askTip(id)
	} else {
		s.maintain()
		if s.peer == 0 && s.blocks != nil && s.blocks.connected < s.chain.Height() {
			// No peer announces more than we have, but blocks are missing
			// (a restart with the headers on disk): ask this peer what
			// follows our tip, as Core's first getheaders does. Its answer
			// says it has our tip, so it may serve our blocks (without it
			// the window would never ask it), and whether we are caught up.
			s.askTip(id)
		}
	}
	if s.blocks != nil {
		s.addBlockPeer(id)
		s.requestBlocks()
	}
}

// PeerDropped implements p2p.Sync.
func (s *Sync) PeerDropped(id p2p.PeerID) {
	if sp, ok := s.peers[id]; ok {
		s.takePrepared(sp)
	}
	delete(s.peers, id)
	if id == s.peer {
		s.resetSyncPeer()
	}
	if s.blocks != nil {
		s.dropBlockPeer(id)
		s.requestBlocks()
	}
}

// Tick implements p2p.Sync.
func (s *Sync) Tick() {
	s.checkSyncTimeout()
	s.maintain()
	if s.blocks != nil {
		s.expireBlocks()
		s.requestBlocks()
		if s.blocks.validate {
			// At start, blocks stored past the UTXO set's best block
			// are to be connected before anything new arrives.
			s.askConnect()
		}
	}
}

// Message implements p2p.Sync.
func (s *Sync) Message(id p2p.PeerID, m *p2p.Message, answered *p2p.Request) {
	sp, ok := s.peers[id]
	if !ok {
		return
	}
	switch msg := m.Msg.(type) {
	case *wire.MsgHeaders:
		s.handleHeaders(id, sp, m, answered)
	case *wire.MsgInv:
		s.handleInv(id, sp, msg)
	case *wire.MsgGetHeaders:
		s.handleGetHeaders(id, sp, msg)
	case *wire.MsgGetData:
		s.handleGetData(id, msg)
	case *wire.MsgGetBlocks:
		s.handleGetBlocks(id, sp, msg)
	case *wire.MsgBlock:
		s.handleBlock(id, m)
	case *wire.MsgNotFound:
		s.handleNotFound(id, msg)
	default:
		// reject, cf* requests, compact blocks and the like: the node
		// offers none of them, so they count as ignored.
		if p, ok := s.core.Peer(id); ok {
			p.Ignore()
		}
	}
}

// store hands the chain's writes to the shell, in order.
func (s *Sync) store(writes []chain.Write) {
	for _, w := range writes {
		s.core.StartJob(StoreHeaders{Write: w})
	}
}

// maintain picks a sync peer when there is none and there is something to
// download.
func (s *Sync) maintain() {
	if s.peer != 0 {
		if _, ok := s.core.Peer(s.peer); ok {
			return
		}
		s.resetSyncPeer()
	}
	best, ok := s.pickSyncPeer()
	if !ok {
		if s.state != StateSynced {
			s.state = StateIdle
		}
		return
	}
	s.peer = best.ID()
	s.state = StateSyncing
	s.syncDeadline = s.syncTimeout()
	s.syncStart, s.syncStartHeight = s.core.Now(), s.chain.Height()
	s.chain.Reserve(best.StartHeight())
	if s.chain.NeedsPresync() {
		s.presync = s.chain.NewPresync()
		s.state = StatePresync
	}
	s.core.Event(p2p.EventSync, best.ID(), fmt.Sprintf("header sync from height %d, peer announces %d", s.chain.Height(), best.StartHeight()))
	s.core.Logf(slog.LevelInfo, "header sync starting", "peer", best.ID(), "addr", best.Addr(), "from_height", s.chain.Height(), "peer_height", best.StartHeight())
	if !best.Outstanding(wire.CmdGetHeaders) {
		s.requestHeaders(best.ID(), s.chain.Locator())
	}
}

// pickSyncPeer prefers outbound peers (an attacker chooses to be inbound)
// with the highest announced height above ours.
func (s *Sync) pickSyncPeer() (p2p.Peer, bool) {
	var best p2p.Peer
	found := false
	height := s.chain.Height()
	s.core.Peers(func(p p2p.Peer) {
		sp, ok := s.peers[p.ID()]
		if !ok || !p.Established() {
			return
		}
		if sp.lowWork || sp.syncDone {
			// Its whole chain had less than the minimum work, or we already
			// synced to the end of what it serves: whatever it claims,
			// it has nothing more until it announces new headers.
			return
		}
		if p.StartHeight() <= height {
			// A peer that claims nothing above us: we are synced with it.
			return
		}
		if !found || (best.Inbound() && !p.Inbound()) ||
			(best.Inbound() == p.Inbound() && p.StartHeight() > best.StartHeight()) {
			best, found = p, true
		}
	})
	return best, found
}

// resetSyncPeer forgets the sync peer and any presync of its chain.
func (s *Sync) resetSyncPeer() {
	s.peer = 0
	s.syncDeadline = time.Time{}
	s.presync = nil
	if s.state != StateSynced {
		s.state = StateIdle
	}
}

// requestHeaders sends getheaders with locator to peer id, tracked with a
// timeout scaled to the headers it can be expected to send.
func (s *Sync) requestHeaders(id p2p.PeerID, locator []chainhash.Hash) {
	msg := wire.NewMsgGetHeaders()
	msg.ProtocolVersion = protocol.ProtocolVersion
	for i := range locator {
		if err := msg.AddBlockLocatorHash(&locator[i]); err != nil {
			break
		}
	}
	expected := maxHeadersPerMsg
	if p, ok := s.core.Peer(id); ok && p.Version() != nil {
		if gap := int(p.StartHeight()) - int(s.chain.Height()); gap >= 0 && gap < expected {
			expected = gap
		}
	}
	timeout := headersTimeoutBase + time.Duration(expected)*headersTimeoutPerHeader
	s.core.Request(id, msg, timeout, s.headersRequestDone)
}

// headersRequestDone is told how a getheaders ended.
func (s *Sync) headersRequestDone(r *p2p.Request, o p2p.Outcome) {
	if o != p2p.Expired {
		return
	}
	if r.Peer != s.peer {
		// A tip check or follow-up to a peer that is not our sync peer:
		// nodes in their own initial sync ignore getheaders, which is no
		// reason to drop them.
		return
	}
	s.core.CountTimeout()
	s.core.Drop(r.Peer, p2p.Because(p2p.DropStall, "headers sync stalled: no headers within %s", r.Timeout))
}

// syncCaughtUp ends the download from the sync peer and, the first time,
// asks every other peer for its tip: the node never trusts one peer.
func (s *Sync) syncCaughtUp(id p2p.PeerID, sp *syncPeer) {
	if s.state != StateSynced {
		now := s.core.Now()
		s.core.Logf(slog.LevelInfo, "header sync caught up", "height", s.chain.Height(), "peer", id)
		s.core.Event(p2p.EventSync, id, fmt.Sprintf("header sync caught up at height %d", s.chain.Height()))
		s.syncedAt = now
		s.core.PublishSoon() // observers see it at once, not at the next tick
	}
	s.state = StateSynced
	s.peer = 0
	s.syncDeadline = time.Time{}
	sp.syncDone = true
	s.core.Peers(func(q p2p.Peer) {
		if qs, ok := s.peers[q.ID()]; ok && q.ID() != id && q.Established() && !qs.tipAsked {
			s.askTip(q.ID())
		}
	})
	// It served headers first; now it may serve blocks too.
	s.requestBlocks()
}

// askTip sends one getheaders from our tip to peer id, so a peer on a
// chain with more work shows it to us.
func (s *Sync) askTip(id p2p.PeerID) {
	sp, ok := s.peers[id]
	p, alive := s.core.Peer(id)
	if !ok || !alive {
		return
	}
	sp.tipAsked = true
	if !p.Outstanding(wire.CmdGetHeaders) {
		// From the tip's parent, as Core asks (pindexBestHeader->pprev):
		// a peer that has our tip answers with at least that header,
		// which tells us it has it, and so may serve its block.
		s.requestHeaders(id, s.chain.LocatorAt(max(0, s.chain.Height()-1)))
	}
}

func (s *Sync) recordRate(now time.Time) {
	s.samples = append(s.samples, rateSample{at: now, height: s.chain.Height()})
	cut := 0
	for cut < len(s.samples)-1 && now.Sub(s.samples[cut].at) > rateWindow {
		cut++
	}
	s.samples = s.samples[cut:]
}

// learnedFrom records the highest main-chain header peer sp has shown us;
// fork headers do not count (their height says nothing about our main
// chain).
func (s *Sync) learnedFrom(sp *syncPeer, res chain.AcceptResult) {
	if res.New+res.Duplicates == 0 {
		return
	}
	// A best block we no longer hold (an invalidated chain left the tree)
	// tells nothing any more: a lower one we hold replaces it.
	if h, ok := s.chain.MainHeight(&res.Last); ok && (h >= sp.bestKnown || !s.chain.Known(&sp.bestHash)) {
		sp.bestKnown, sp.bestHash = h, res.Last
	}
	if res.LastHeight >= sp.bestHeaderHeight {
		sp.bestHeader, sp.bestHeaderHeight = res.Last, res.LastHeight
	}
}
