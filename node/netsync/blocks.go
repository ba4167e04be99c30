package netsync

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// BlockStart is what the shell found in the block store when the node
// started: how far the best header chain's blocks are stored without a
// gap, and which blocks above that are stored too.
type BlockStart struct {
	// Connected is the height of the last block of the best header chain
	// stored with every block below it: the last connected block. Every
	// stored block passed the block rules before it was stored.
	Connected int32
	// Stored holds stored blocks of the best header chain above Connected,
	// by hash (their height as value), at most a window's worth.
	Stored map[chainhash.Hash]int32
	// MaxPendingBytes bounds the memory of received blocks waiting for the
	// store; 0 means MaxBlockBytesPending. Tests lower it.
	MaxPendingBytes int
	// Validate turns on full validation: stored blocks are connected to
	// the UTXO set by the shell's block connector (ConnectBlocks jobs),
	// and "connected" means validated. Validated is the height, on the
	// best header chain, of the block the UTXO set reflects (or of the
	// last block it shares with that chain).
	Validate  bool
	Validated int32
}

// blockState is block download's and block serving's part of Sync.
type blockState struct {
	window *blockWindow
	// connected is the height of the last connected block: stored, with
	// its ancestors, on the best header chain.
	connected int32
	// stored holds blocks stored above connected (out of order), by hash.
	// Only blocks of the window are asked for, so it holds at most
	// BlockDownloadWindow entries, plus the ones a reorg left behind,
	// which go when connected passes their height.
	stored map[chainhash.Hash]int32
	// storing holds blocks handed to a StoreBlock job and not yet durable:
	// being checked, being written, or written and waiting for the store's
	// next sync (BlocksSynced).
	storing map[chainhash.Hash]int32
	// failed holds blocks found invalid, with the rule they broke. Each
	// needs a valid proof of work on a chain with the most work, so an
	// attacker cannot make many; it is bounded by maxFailed anyway.
	failed map[chainhash.Hash]string
	// failedView is a copy of failed for observers, replaced (never
	// written to) when failed changes, which takes a peer's proof of work.
	failedView map[chainhash.Hash]string
	// validate: connecting to the UTXO set is the shell's connector's
	// (see ConnectBlocks); validated is the height of the last block it
	// connected on the best header chain, at most connected. Without
	// validate, a stored block counts as connected.
	validate  bool
	validated int32
	// target is the last ConnectBlocks asked for.
	target chainhash.Hash
	// serving is each peer's queue of blocks it asked us for.
	serving map[p2p.PeerID]*serveQueue
	// reading counts ReadBlocks jobs in flight, for the bound.
	reading int

	received, receivedBytes, unsolicited, mutated uint64

	// timelines and stalls are kept for whoever watches (see timeline.go
	// and watch.go).
	timelines *timelineStore
	stalls    stallLog
}

// tip is the height of the last block connected in the node's sense: the
// one the UTXO set reflects when validating, else the last stored without
// a gap. Serving, announcing, pruning and the download window go by it.
func (b *blockState) tip() int32 {
	if b.validate {
		return b.validated
	}
	return b.connected
}

// maxFailed bounds the failed-block marks kept.
const maxFailed = 10_000

// blockRequestTimeout is the tracked getdata's own timeout. The window's
// timeouts (stall, per-block) decide long before it; it only keeps a
// request from living forever should both miss it.
const blockRequestTimeout = 2 * time.Hour

func newBlockState(start *BlockStart) *blockState {
	b := &blockState{
		window:    newBlockWindow(start.MaxPendingBytes),
		connected: start.Connected,
		stored:    make(map[chainhash.Hash]int32, len(start.Stored)),
		storing:   make(map[chainhash.Hash]int32),
		failed:    make(map[chainhash.Hash]string),
		serving:   make(map[p2p.PeerID]*serveQueue),
		validate:  start.Validate,
		validated: min(start.Validated, start.Connected),
		timelines: newTimelineStore(),
	}
	for h, height := range start.Stored {
		if height > start.Connected {
			b.stored[h] = height
		}
	}
	return b
}

// StoreBlock is the job of checking a received block against the block
// rules and, when it passes, writing it to the block store. Its result
// comes back as a BlockStored once the block is written (its memory is
// free then), and, for a block that passed, a BlocksSynced once the write
// is durable: only then may it connect.
type StoreBlock struct {
	Peer  p2p.PeerID
	Block *consensus.Block
	// Raw is the block's serialization as received (the message payload).
	Raw []byte
	// Context is what the rules need beyond the block.
	Context consensus.BlockContext
	// Cost is the memory the block holds (its message's Cost), counted
	// against MaxBlockBytesPending until the job is done.
	Cost int
}

// JobName implements p2p.Job.
func (StoreBlock) JobName() string { return "store-block" }

// Check runs the rules a block must pass before it is stored: first the
// ones that say whether the bytes are the block the header commits to
// (a failure blames the peer), then the context-free block rules. It is
// the job's CPU work, done off the core's goroutine.
func (j StoreBlock) Check() error {
	if err := consensus.CheckBlockMutation(&j.Context, j.Block); err != nil {
		return err
	}
	return consensus.CheckBlock(&j.Context, j.Block)
}

// Result is the BlockStored to hand back for this job: err is Check's
// error (nil when the block was stored).
func (j StoreBlock) Result(err error) BlockStored {
	return BlockStored{Peer: j.Peer, Hash: j.Block.Hash, Height: j.Context.Height, Cost: j.Cost, Err: err}
}

// BlocksSynced says the blocks written so far are durable: the store
// synced them and their index entries.
type BlocksSynced struct{ Hashes []chainhash.Hash }

// JobName implements p2p.Job.
func (BlocksSynced) JobName() string { return "blocks-synced" }

// BlockStored is the first result of a StoreBlock job: the block was
// written (not yet durable), or refused by a rule.
type BlockStored struct {
	Peer   p2p.PeerID
	Hash   chainhash.Hash
	Height int32
	Cost   int
	// Err is the rule the block broke (a *consensus.BlockRuleError), nil
	// when it was stored. A write failure stops the node instead.
	Err error
}

// JobName implements p2p.Job.
func (BlockStored) JobName() string { return "block-stored" }

// JobDone implements p2p.Sync.
func (s *Sync) JobDone(result p2p.Job) {
	if s.blocks == nil {
		return
	}
	switch r := result.(type) {
	case BlockStored:
		s.blockStored(r)
	case BlocksSynced:
		s.blocksSynced(r)
	case BlockRead:
		s.blockRead(r)
	case BlocksValidated:
		s.blocksValidated(r)
	case BlockInvalid:
		s.blockInvalid(r)
	}
}

// Writable implements p2p.Sync: a peer whose queue has room again gets the
// next block it asked for.
func (s *Sync) Writable(id p2p.PeerID) {
	if s.blocks != nil {
		s.serveNext(id)
	}
}

// addBlockPeer makes a newly established peer a block source when it
// serves blocks and witness data (Core asks only peers that can serve
// witness blocks once segwit is active; every network here has it active).
func (s *Sync) addBlockPeer(id p2p.PeerID) {
	p, ok := s.core.Peer(id)
	if !ok || p.Version() == nil {
		return
	}
	svc := p.Version().Services
	if svc&wire.SFNodeWitness == 0 {
		return
	}
	switch {
	case svc&wire.SFNodeNetwork != 0:
		s.blocks.window.addPeer(id, false)
	case svc&wire.SFNodeNetworkLimited != 0:
		s.blocks.window.addPeer(id, true)
	}
}

// dropBlockPeer forgets a peer's block requests; their blocks go to the
// next peer asked.
func (s *Sync) dropBlockPeer(id p2p.PeerID) {
	now := s.core.Now()
	for _, r := range s.blocks.window.removePeer(id) {
		s.blocks.timelines.ended(r.Hash, id, now, OutcomePeerGone)
	}
	delete(s.blocks.serving, id)
}

// MainHash implements windowChain.
func (s *Sync) MainHash(height int32) (chainhash.Hash, bool) {
	if height < 0 || height > s.chain.Height() {
		return chainhash.Hash{}, false
	}
	return s.chain.HashAt(height), true
}

// HaveBlock implements windowChain: stored, being stored, or failed (a
// failed block is never asked for again).
func (s *Sync) HaveBlock(hash chainhash.Hash) bool {
	b := s.blocks
	if _, ok := b.stored[hash]; ok {
		return true
	}
	if _, ok := b.storing[hash]; ok {
		return true
	}
	if _, ok := b.failed[hash]; ok {
		return true
	}
	h, ok := s.chain.MainHeight(&hash)
	return ok && h <= b.connected
}

// requestBlocks asks every block peer with room for the next blocks of the
// window. Outbound peers are preferred: inbound ones are asked only when
// no outbound peer serves blocks (Core's fPreferredDownload), since an
// attacker chooses to connect to us but not whom we connect to.
//
// Headers first: the peer we download headers from is asked for no blocks
// until that download ends (caught up, or the peer is gone). A peer
// answers its messages in order (btcd and Core both do), so every block
// asked of it would wait in front of our next getheaders, and the best
// chain, which the window follows, would be learned later. Core asks the
// sync peer for blocks too; we choose not to. Other peers download blocks
// meanwhile, once they have shown what they have (an initial sync asks
// them for their tips only when it caught up, so it gets its first blocks
// then); a node with one peer starts its blocks once its headers are
// in (on mainnet minutes, against the hours of the block download), and
// on a 40,000-block regtest chain from btcd this took the header sync from
// process start from 150 to 106 ms (BENCHMARKS.md).
func (s *Sync) requestBlocks() {
	b := s.blocks
	if b == nil || b.connected >= s.chain.Height() {
		return
	}
	ids := make([]p2p.PeerID, 0, len(b.window.peers))
	outbound := false
	for id := range b.window.peers {
		if p, ok := s.core.Peer(id); ok {
			ids = append(ids, id)
			outbound = outbound || !p.Inbound()
		}
	}
	slices.Sort(ids) // a deterministic order, for simulations
	now := s.core.Now()
	for _, id := range ids {
		p, _ := s.core.Peer(id)
		sp := s.peers[id]
		if sp == nil || !p.HasRoom() || (outbound && p.Inbound()) || id == s.peer {
			// The sync peer serves headers first (see above).
			continue
		}
		reqs := b.window.next(now, id, s.blockAvailability(sp), b.tip(), s)
		if len(reqs) == 0 {
			continue
		}
		gd := wire.NewMsgGetDataSizeHint(uint(len(reqs)))
		for _, r := range reqs {
			gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &r.Hash))
			b.timelines.asked(r)
		}
		if _, ok := s.core.Request(id, gd, blockRequestTimeout, nil); !ok {
			// The send dropped the peer: its requests go with it.
			continue
		}
		s.core.Logf(slog.LevelDebug, "blocks requested", "peer", id, "count", len(reqs),
			"from", reqs[0].Height, "to", reqs[len(reqs)-1].Height, "why", reqs[0].Why)
	}
}

// blockAvailability is the highest main-chain height whose blocks peer sp
// is known to have: its best main-chain header, or where the best header
// it showed us on any branch meets the main chain (after a reorg to that
// branch, its whole height).
func (s *Sync) blockAvailability(sp *syncPeer) int32 {
	if sp.bestHeader != (chainhash.Hash{}) {
		if h, ok := s.chain.MainHeight(&sp.bestHeader); ok && h > sp.bestKnown {
			sp.bestKnown, sp.bestHash = h, sp.bestHeader
		}
	}
	return s.common(sp)
}

// handleBlock takes a block a peer sent: one we asked that peer for goes
// to a StoreBlock job; anything else is counted and dropped (Core keeps
// unrequested blocks only when they extend its tip, which a node in
// download never needs).
func (s *Sync) handleBlock(id p2p.PeerID, m *p2p.Message) {
	b := s.blocks
	p, ok := s.core.Peer(id)
	if b == nil || m.Block == nil || !ok {
		if ok {
			p.Ignore()
		}
		return
	}
	blk := m.Block
	now := s.core.Now()
	if !b.window.received(now, id, blk.Hash, m.Cost) {
		b.unsolicited++
		p.Ignore()
		return
	}
	b.received++
	b.receivedBytes += uint64(len(m.Payload))
	b.window.peers[id].bytes += uint64(len(m.Payload))
	b.timelines.ended(blk.Hash, id, now, OutcomeDelivered)
	b.timelines.update(blk.Hash, -1, false, func(tl *BlockTimeline) {
		tl.Received, tl.From, tl.Bytes = now, id, len(m.Payload)
	})
	b.stalls.delivered(blk.Hash, id, now)
	height, onMain := s.chain.MainHeight(&blk.Hash)
	if !onMain || height <= b.connected {
		// A reorg moved it off the best chain while it was on its way:
		// no longer needed.
		b.window.stored(m.Cost)
		s.requestBlocks()
		return
	}
	b.storing[blk.Hash] = height
	s.core.StartJob(StoreBlock{
		Peer: id, Block: blk, Raw: m.Payload, Cost: m.Cost,
		Context: consensus.BlockContext{
			Params:         s.chain.Params(),
			Height:         height,
			MedianTimePast: consensus.MedianTimePast(s.chain, height-1),
		},
	})
	s.requestBlocks()
}

// handleNotFound releases the blocks a peer says it lacks to other peers.
func (s *Sync) handleNotFound(id p2p.PeerID, m *wire.MsgNotFound) {
	if s.blocks == nil {
		return
	}
	now := s.core.Now()
	for _, iv := range m.InvList {
		if (iv.Type == wire.InvTypeBlock || iv.Type == wire.InvTypeWitnessBlock) && s.blocks.window.notFound(now, id, iv.Hash) {
			s.blocks.timelines.ended(iv.Hash, id, now, OutcomeNotFound)
		}
	}
	s.requestBlocks()
}

// blockStored takes a StoreBlock job's result: a stored block may connect;
// a mutated one blames its peer only (the header stays good and the block
// is asked of another peer); one that broke a block rule is marked failed
// and blames its peer.
func (s *Sync) blockStored(r BlockStored) {
	b := s.blocks
	b.window.stored(r.Cost)
	if r.Err != nil {
		delete(b.storing, r.Hash)
		var rerr *consensus.BlockRuleError
		isRule := errors.As(r.Err, &rerr)
		switch {
		case isRule && rerr.Mutated:
			b.mutated++
			b.timelines.update(r.Hash, -1, false, func(tl *BlockTimeline) {
				if n := len(tl.Requests); n > 0 && tl.Requests[n-1].Peer == r.Peer {
					tl.Requests[n-1].Outcome = OutcomeMutated
				}
			})
			s.core.Event(p2p.EventBlock, r.Peer, fmt.Sprintf("block %d %s from this peer does not match its header (%s); asking another peer",
				r.Height, protocol.ShortHash(r.Hash), rerr.Rule))
			s.core.Drop(r.Peer, p2p.Violation("mutated block %d %s: %v", r.Height, r.Hash, r.Err))
		default:
			s.markFailed(r.Hash, r.Height, r.Err)
			s.core.Drop(r.Peer, p2p.Violation("invalid block %d %s: %v", r.Height, r.Hash, r.Err))
		}
		s.requestBlocks()
		return
	}
	now := s.core.Now()
	b.timelines.update(r.Hash, -1, false, func(tl *BlockTimeline) { tl.Stored = now })
	// Written: its memory is free, so the window may ask for more.
	// Without validation it connects once BlocksSynced says it is
	// durable. With validation it may go to the connector at once: the
	// connector reads written blocks (their bytes are in the file) and
	// syncs the block store before it flushes the UTXO set past them, so
	// the set never reflects a block a crash could lose, and waiting for
	// each sync would put the disk's latency into every step of the
	// download window.
	if height, ok := b.storing[r.Hash]; ok && b.validate {
		delete(b.storing, r.Hash)
		if height > b.connected {
			b.stored[r.Hash] = height
		}
		s.connectBlocks()
	}
	s.requestBlocks()
}

// blocksSynced takes the store's word that blocks written are durable:
// they join the stored set and connect when they follow the last connected
// block.
func (s *Sync) blocksSynced(r BlocksSynced) {
	b := s.blocks
	for _, hash := range r.Hashes {
		height, ok := b.storing[hash]
		if !ok {
			continue
		}
		delete(b.storing, hash)
		if height > b.connected {
			b.stored[hash] = height
		}
	}
	s.connectBlocks()
	s.requestBlocks()
}

// markFailed records that block hash broke a block rule and makes the
// header chain leave it, as Core's invalid-block handling: the block and
// its descendants are marked invalid in the chain (headers building on it
// are refused from then on), and the best header chain becomes the best
// branch that does not contain it; block download follows from the fork
// point.
func (s *Sync) markFailed(hash chainhash.Hash, height int32, err error) {
	b := s.blocks
	if len(b.failed) >= maxFailed {
		for h := range b.failed {
			delete(b.failed, h)
			break
		}
	}
	rule := err.Error()
	var rerr *consensus.BlockRuleError
	var named interface{ RuleName() string } // the connector's *validate.RuleError
	switch {
	case errors.As(err, &rerr):
		rule = rerr.Rule
	case errors.As(err, &named):
		rule = named.RuleName()
	}
	b.failed[hash] = rule
	b.failedView = maps.Clone(b.failed)
	b.timelines.update(hash, height, false, func(tl *BlockTimeline) { tl.Failed = rule })
	s.core.Event(p2p.EventBlock, 0, fmt.Sprintf("block %d %s is invalid: %v", height, protocol.ShortHash(hash), err))
	s.core.Logf(slog.LevelWarn, "invalid block", "height", height, "hash", hash, "rule", rule, "err", err)
	res := s.chain.Invalidate(hash)
	s.store(res.Writes)
	if r := res.Reorg; r != nil {
		s.blocksReorged(r.ForkHeight)
		s.core.Event(p2p.EventReorg, 0, fmt.Sprintf("left invalid block %d, depth %d: tip %d %s replaces %d %s",
			height, r.OldHeight-r.ForkHeight, r.NewHeight, protocol.ShortHash(r.NewTip), r.OldHeight, protocol.ShortHash(r.OldTip)))
		s.core.PublishSoon()
	}
}

// connectBlocks moves the last connected block up over every stored block
// that follows it on the best header chain; when validating, it asks the
// connector to connect them to the UTXO set.
func (s *Sync) connectBlocks() {
	b := s.blocks
	from := b.connected
	for b.connected < s.chain.Height() {
		next := s.chain.HashAt(b.connected + 1)
		if _, ok := b.stored[next]; !ok {
			break
		}
		delete(b.stored, next)
		b.connected++
		b.window.connectedBlock(b.connected)
		if !b.validate {
			b.timelines.update(next, b.connected, false, func(tl *BlockTimeline) { tl.Connected = s.core.Now() })
		}
	}
	if b.validate {
		s.askConnect()
	}
	if b.connected == from {
		return
	}
	// Blocks a reorg left behind, at or below the connected height, are
	// off the best chain: forget them (they stay on disk).
	for h, height := range b.stored {
		if height <= b.connected {
			delete(b.stored, h)
		}
	}
	if b.connected == s.chain.Height() {
		s.core.Event(p2p.EventBlock, 0, fmt.Sprintf("every block of the best header chain is stored: %d", b.connected))
	}
	if !b.validate {
		s.tipAdvanced()
	}
	s.core.PublishSoon()
}

// tipAdvanced announces the new tip when it is near the best header
// (during a download every peer would be told of every block; Core
// announces nothing in initial block download either).
func (s *Sync) tipAdvanced() {
	b := s.blocks
	if s.state == StateSynced && b.tip() >= s.chain.Height()-maxAnnounce {
		s.announce()
	}
}

// askConnect asks the connector for the best header chain's blocks up to
// the last stored one, unless it was asked for exactly that already. The
// job carries a view of the header chain, so the connector can find the
// fork point and the blocks' ancestors without the core.
func (s *Sync) askConnect() {
	b := s.blocks
	hash := s.chain.HashAt(b.connected)
	if hash == b.target {
		return
	}
	b.target = hash
	s.core.StartJob(ConnectBlocks{Height: b.connected, Hash: hash, View: s.chain.View()})
}

// blocksValidated takes the connector's progress: the UTXO set reflects
// the block r names. A block no longer on the best header chain (a reorg
// moved the target meanwhile) moves nothing: the connector follows the new
// target.
func (s *Sync) blocksValidated(r BlocksValidated) {
	b := s.blocks
	if !b.validate || r.Height > s.chain.Height() || s.chain.HashAt(r.Height) != r.Hash {
		return
	}
	if r.Height != b.validated {
		from := b.validated
		b.validated = min(r.Height, b.connected)
		now := s.core.Now()
		for h := from + 1; h <= b.validated; h++ {
			b.timelines.update(s.chain.HashAt(h), h, false, func(tl *BlockTimeline) {
				if tl.Validated.IsZero() {
					tl.Validated = now
				}
				tl.Connected = now
			})
		}
		if b.validated == s.chain.Height() {
			s.core.Event(p2p.EventBlock, 0, fmt.Sprintf("every block of the best header chain is validated: tip %d", b.validated))
		}
		s.tipAdvanced()
		s.core.PublishSoon()
	}
	s.requestBlocks()
}

// blockInvalid takes the connector's word that a block broke a rule of
// the UTXO set or its scripts: it is marked failed like a block that broke
// a block rule, and the header chain leaves it.
func (s *Sync) blockInvalid(r BlockInvalid) {
	b := s.blocks
	if !b.validate {
		return
	}
	if h, ok := s.chain.MainHeight(&r.Hash); ok && h == r.Height {
		b.validated = min(b.validated, r.Height-1)
	}
	s.markFailed(r.Hash, r.Height, r.Err)
	s.askConnect()
	s.requestBlocks()
}

// blocksReorged moves the last connected block back to the fork point when
// the header chain reorganizes below it: the other branch's blocks are to
// be connected (or downloaded) from there.
func (s *Sync) blocksReorged(forkHeight int32) {
	if s.blocks != nil {
		s.servingReorged(forkHeight)
	}
	if s.blocks != nil && forkHeight < s.blocks.validated {
		s.blocks.validated = forkHeight
	}
	if s.blocks != nil && forkHeight < s.blocks.connected {
		s.blocks.connected = forkHeight
		s.connectBlocks()
	}
}

// expireBlocks drops the window's stallers and late peers.
func (s *Sync) expireBlocks() {
	now := s.core.Now()
	for _, d := range s.blocks.window.expire(now) {
		kind, outcome := p2p.DropTimeout, OutcomeTimedOut
		if d.Stall {
			kind, outcome = p2p.DropStall, OutcomeStalled
			s.blocks.stalls.add(StallRecord{At: now, Peer: d.Peer, Height: d.Height, Hash: d.Hash, Waited: d.Waited, Timeout: d.Timeout})
		}
		s.blocks.timelines.ended(d.Hash, d.Peer, now, outcome)
		s.core.Event(p2p.EventStall, d.Peer, d.Reason)
		s.core.Drop(d.Peer, p2p.Because(kind, "%s", d.Reason))
	}
}

// BlockStatus is block download's part of the status.
type BlockStatus struct {
	// Connected is the height of the last connected block (Core's
	// getblockchaininfo "blocks"): when validating, the block the UTXO
	// set reflects. Stored is the last block stored with every block
	// below it, which is Connected when not validating.
	Connected int32 `json:"connected"`
	Stored    int32 `json:"stored"`
	Validate  bool  `json:"validate"`
	// InFlight is how many blocks are asked of peers now, Peers how many
	// peers may be asked.
	InFlight int `json:"in_flight"`
	Peers    int `json:"peers"`
	// StoredAhead is how many blocks are stored above Connected, waiting
	// for a block below them; Storing how many are being checked and
	// written.
	StoredAhead int `json:"stored_ahead"`
	Storing     int `json:"storing"`
	// PendingBytes is the memory of received blocks not yet stored,
	// bounded by MaxBlockBytesPending.
	PendingBytes int `json:"pending_bytes"`
	// StallTimeout is the stall timeout in force; Stalls how many peers
	// were dropped for stalling the window.
	StallTimeoutS float64 `json:"stall_timeout_s"`
	Stalls        int     `json:"stalls"`
	// StallsReplaced counts the stalls whose block another peer then
	// delivered (among the last 32 recorded).
	StallsReplaced uint64 `json:"stalls_replaced"`
	Received       uint64 `json:"received"`
	ReceivedBytes  uint64 `json:"received_bytes"`
	Unsolicited    uint64 `json:"unsolicited"`
	Mutated        uint64 `json:"mutated"`
	Failed         int    `json:"failed"`
}

func (s *Sync) blockStatus() *BlockStatus {
	b := s.blocks
	if b == nil {
		return nil
	}
	return &BlockStatus{
		Connected: b.tip(), Stored: b.connected, Validate: b.validate, InFlight: len(b.window.inFlight), Peers: len(b.window.peers),
		StoredAhead: len(b.stored), Storing: len(b.storing), PendingBytes: b.window.pending,
		StallTimeoutS: b.window.stallTimeout.Seconds(), Stalls: b.window.stalls, StallsReplaced: b.stalls.replaced,
		Received: b.received, ReceivedBytes: b.receivedBytes, Unsolicited: b.unsolicited,
		Mutated: b.mutated, Failed: len(b.failed),
	}
}

// Connected returns the height of the last connected block (0 when the
// node downloads no blocks): when validating, the block the UTXO set
// reflects.
func (s *Sync) Connected() int32 {
	if s.blocks == nil {
		return 0
	}
	return s.blocks.tip()
}

// checkBlockInvariants verifies block download's state: the window's own
// invariants, the bound on pending bytes and stored marks, and no state
// for peers that are gone.
func (s *Sync) checkBlockInvariants() error {
	b := s.blocks
	if b == nil {
		return nil
	}
	if err := b.window.checkInvariants(); err != nil {
		return err
	}
	for id := range b.window.peers {
		if _, ok := s.peers[id]; !ok {
			return fmt.Errorf("the block window keeps peer %d, which sync does not know", id)
		}
	}
	for id := range b.serving {
		if _, ok := s.peers[id]; !ok {
			return fmt.Errorf("a serve queue for peer %d, which sync does not know", id)
		}
	}
	if len(b.failed) > maxFailed {
		return fmt.Errorf("%d failed blocks kept, more than %d", len(b.failed), maxFailed)
	}
	if err := b.timelines.checkInvariants(); err != nil {
		return err
	}
	if len(b.stalls.records) > maxStallRecords {
		return fmt.Errorf("%d stall records kept, more than %d", len(b.stalls.records), maxStallRecords)
	}
	if b.connected > s.chain.Height() {
		return fmt.Errorf("connected height %d above the header tip %d", b.connected, s.chain.Height())
	}
	if b.validated > b.connected {
		return fmt.Errorf("validated height %d above the stored height %d", b.validated, b.connected)
	}
	if b.reading > maxServeReads {
		return fmt.Errorf("%d block reads in flight, more than %d", b.reading, maxServeReads)
	}
	return nil
}
