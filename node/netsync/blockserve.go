package netsync

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// Serving blocks: a getdata's block items go to the peer's serve queue and
// are read from the store in ReadBlocks jobs, one job per peer at a time,
// the next only once the peer's send queue has room again (Core's
// ProcessGetData stops at a full send buffer the same way). The core never
// touches the disk; a peer has at most one batch (about 1 MiB and one
// block) read for it beyond its send queue's limit.
const (
	// maxServeQueue bounds the block items a peer may have waiting: one
	// getdata's worth (50,000), since btcd asks for every block it lacks
	// in one getdata (up to that) and asks again only when nearly all are
	// answered; Core too works through a whole getdata before it reads
	// the peer's next message. Items past it are ignored (the peer's
	// request for them times out, as if we were slow). An item is a
	// main-chain height with a witness bit, 4 bytes: 200 KB per peer.
	maxServeQueue = wire.MaxInvPerMsg
	// maxServeReads bounds the ReadBlocks jobs in flight for all peers:
	// each holds up to maxServeBatchBytes and one block (4 MB) more.
	maxServeReads = 4
)

// serveQueue is one peer's blocks to serve, oldest first.
type serveQueue struct {
	// items are main-chain heights, witnessBit set for MSG_WITNESS_BLOCK:
	// only blocks of the best chain are queued, and a height is an eighth
	// of a hash. A reorg drops the items above the fork point (their
	// heights now name other blocks).
	items   []uint32
	reading bool // a ReadBlocks job for it is in flight
}

// witnessBit marks a serve item that asked for witness data.
const witnessBit = 1 << 31

// ServeItem is one block a peer asked for.
type ServeItem struct {
	Hash chainhash.Hash
	// Witness: the peer asked for MSG_WITNESS_BLOCK; otherwise it gets the
	// block without witness data (MSG_BLOCK).
	Witness bool
}

// Serving reads in batches: a job reads the next blocks a peer asked for,
// in order, up to maxServeBatch blocks or until it has read
// maxServeBatchBytes (the block that passes it included), and the core
// queues them all. One job per block would cost a round trip through the
// shell per block, which for small blocks is most of the time.
const (
	maxServeBatch      = 64
	maxServeBatchBytes = 1 << 20
)

// ReadBlocks is the job of reading blocks from the store for a peer that
// asked for them. Its result comes back as a BlockRead.
type ReadBlocks struct {
	Peer  p2p.PeerID
	Items []ServeItem
}

// JobName implements p2p.Job.
func (ReadBlocks) JobName() string { return "read-blocks" }

// Read does the job with read, the store's reader: it reads the items in
// order until maxServeBatchBytes are read, strips the witness data for
// items that asked for MSG_BLOCK, and returns the blocks read and the
// items left for the next job. A block that cannot be read (pruned
// meanwhile, or a disk error) comes back with its error, to be answered
// with notfound.
func (j ReadBlocks) Read(read func(chainhash.Hash) ([]byte, error)) BlockRead {
	r := BlockRead{Peer: j.Peer}
	size := 0
	for i, it := range j.Items {
		if size >= maxServeBatchBytes {
			r.Unread = j.Items[i:]
			break
		}
		raw, err := read(it.Hash)
		if err == nil && !it.Witness {
			raw, err = stripWitness(raw)
		}
		size += len(raw)
		r.Blocks = append(r.Blocks, ServedBlock{Hash: it.Hash, Witness: it.Witness, Payload: raw, Err: err})
	}
	return r
}

// stripWitness re-serializes a block without its witness data, for a peer
// that asked for MSG_BLOCK.
func stripWitness(raw []byte) ([]byte, error) {
	var msg wire.MsgBlock
	if err := msg.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("decoding a stored block: %w", err)
	}
	if !slices.ContainsFunc(msg.Transactions, (*wire.MsgTx).HasWitness) {
		return raw, nil
	}
	var buf bytes.Buffer
	buf.Grow(msg.SerializeSizeStripped())
	if err := msg.SerializeNoWitness(&buf); err != nil {
		return nil, fmt.Errorf("serializing a block without witness: %w", err)
	}
	return buf.Bytes(), nil
}

// BlockRead is the result of a ReadBlocks job.
type BlockRead struct {
	Peer   p2p.PeerID
	Blocks []ServedBlock
	// Unread are the items the job left for the next one.
	Unread []ServeItem
}

// ServedBlock is one block read for a peer: its block message's payload,
// or the error that kept it from being read.
type ServedBlock struct {
	Hash chainhash.Hash
	// Witness: the peer asked for MSG_WITNESS_BLOCK.
	Witness bool
	Payload []byte
	Err     error
}

// JobName implements p2p.Job.
func (BlockRead) JobName() string { return "block-read" }

// servingReorged drops the queued items above a reorg's fork point: their
// heights now name blocks of the other branch, which nobody asked for.
func (s *Sync) servingReorged(forkHeight int32) {
	for _, q := range s.blocks.serving {
		q.items = slices.DeleteFunc(q.items, func(item uint32) bool { return int32(item&^witnessBit) > forkHeight })
	}
}

// servableHeight returns the height of a block that may be served: a
// block of the best header chain at or below the last connected one (it is
// stored and passed the rules). Blocks off the best chain are not served,
// as Core serves only blocks it has validated and not ones of a chain it
// left.
func (s *Sync) servableHeight(hash *chainhash.Hash) (int32, bool) {
	h, ok := s.chain.MainHeight(hash)
	return h, ok && h <= s.blocks.tip()
}

// queueBlocks puts a getdata's servable block items on the peer's serve
// queue and returns the items to answer with notfound.
func (s *Sync) queueBlocks(id p2p.PeerID, items []*wire.InvVect) []*wire.InvVect {
	if s.blocks == nil {
		return items
	}
	q := s.blocks.serving[id]
	var missing []*wire.InvVect
	for _, iv := range items {
		isBlock := iv.Type == wire.InvTypeBlock || iv.Type == wire.InvTypeWitnessBlock
		height, servable := s.servableHeight(&iv.Hash)
		if !isBlock || !servable {
			missing = append(missing, iv)
			continue
		}
		if q == nil {
			q = &serveQueue{}
			s.blocks.serving[id] = q
		}
		if len(q.items) >= maxServeQueue {
			if p, ok := s.core.Peer(id); ok {
				p.Ignore()
			}
			continue
		}
		item := uint32(height)
		if iv.Type == wire.InvTypeWitnessBlock {
			item |= witnessBit
		}
		q.items = append(q.items, item)
	}
	return missing
}

// serveNext starts reading the next block peer id asked for, when its send
// queue has room and the global bound on reads allows.
func (s *Sync) serveNext(id p2p.PeerID) {
	b := s.blocks
	q := b.serving[id]
	if q == nil || q.reading || b.reading >= maxServeReads {
		return
	}
	p, ok := s.core.Peer(id)
	if !ok || !p.HasRoom() {
		return
	}
	if len(q.items) == 0 {
		delete(b.serving, id)
		return
	}
	n := min(len(q.items), maxServeBatch)
	batch := make([]ServeItem, n)
	for i, item := range q.items[:n] {
		batch[i] = ServeItem{Hash: s.chain.HashAt(int32(item &^ witnessBit)), Witness: item&witnessBit != 0}
	}
	q.items = q.items[n:]
	q.reading = true
	b.reading++
	s.core.StartJob(ReadBlocks{Peer: id, Items: batch})
}

// blockRead sends the blocks read for a peer, in order (notfound for any
// that could not be read), puts what the job left back at the front of
// the peer's queue, and starts the next reads.
func (s *Sync) blockRead(r BlockRead) {
	b := s.blocks
	b.reading--
	q := b.serving[r.Peer]
	if q != nil {
		q.reading = false
		var back []uint32
		for _, it := range r.Unread {
			if h, ok := s.chain.MainHeight(&it.Hash); ok {
				item := uint32(h)
				if it.Witness {
					item |= witnessBit
				}
				back = append(back, item)
			}
		}
		q.items = append(back, q.items...)
	}
	if p, ok := s.core.Peer(r.Peer); ok {
		sp := s.peers[r.Peer]
		for i, blk := range r.Blocks {
			if !p.HasRoom() && q != nil {
				// The peer reads slower than we read (a node busy
				// validating): the rest of the batch waits in its serve
				// queue, to be read again when the queue has drained
				// (Writable), rather than pushing the send queue past
				// its bound, which would drop the peer.
				back := make([]uint32, 0, len(r.Blocks)-i)
				for _, rest := range r.Blocks[i:] {
					if h, ok := s.chain.MainHeight(&rest.Hash); ok {
						item := uint32(h)
						if rest.Witness {
							item |= witnessBit
						}
						back = append(back, item)
					}
				}
				q.items = append(back, q.items...)
				break
			}
			if blk.Err != nil {
				nf := wire.NewMsgNotFound()
				nf.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &blk.Hash))
				s.core.Send(r.Peer, nf)
				continue
			}
			f, err := s.core.NewPayloadFrame(wire.CmdBlock, blk.Payload, "block "+protocol.ShortHash(blk.Hash))
			if err != nil || !s.core.SendFrame(r.Peer, f) {
				break
			}
			if h, ok := s.chain.MainHeight(&blk.Hash); ok && sp != nil && h > sp.bestKnown {
				sp.bestKnown, sp.bestHash = h, blk.Hash
			}
		}
	}
	// This read's slot may start another peer's read: the one it was for
	// first, then any other waiting.
	s.serveNext(r.Peer)
	waiting := make([]p2p.PeerID, 0, len(b.serving))
	for id := range b.serving {
		waiting = append(waiting, id)
	}
	slices.Sort(waiting) // a deterministic order, for simulations
	for _, id := range waiting {
		if b.reading >= maxServeReads {
			break
		}
		s.serveNext(id)
	}
}
