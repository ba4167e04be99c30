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
// are read from the store one at a time, in ReadBlock jobs, the next one
// only once the peer's send queue has room again (Core's ProcessGetData
// stops at a full send buffer the same way). The core never touches the
// disk and never holds more than one block read for a peer.
const (
	// maxServeQueue bounds the block items a peer may have waiting: a
	// getdata may carry 50,000 items, and a peer could send many. Items
	// past it are ignored (the peer's request for them times out, as if we
	// were slow); honest peers ask at most 16 or so at a time (btcd asks
	// more, up to 500, well under it).
	maxServeQueue = 1024
	// maxServeReads bounds the ReadBlock jobs in flight for all peers: each
	// holds up to one block (4 MB) and its stripped copy.
	maxServeReads = 4
)

// serveQueue is one peer's blocks to serve, oldest first.
type serveQueue struct {
	items   []serveItem
	reading bool // a ReadBlock job for it is in flight
}

type serveItem struct {
	hash    chainhash.Hash
	witness bool
}

// ReadBlock is the job of reading a block from the store for a peer that
// asked for it. Its result comes back as a BlockRead.
type ReadBlock struct {
	Peer p2p.PeerID
	Hash chainhash.Hash
	// Witness: the peer asked for MSG_WITNESS_BLOCK; otherwise it gets the
	// block without witness data (MSG_BLOCK).
	Witness bool
}

// JobName implements p2p.Job.
func (ReadBlock) JobName() string { return "read-block" }

// Result is the BlockRead to hand back for a block read as raw (its
// serialization with witness data, as stored) or failed with err.
func (j ReadBlock) Result(raw []byte, err error) BlockRead {
	r := BlockRead{Peer: j.Peer, Hash: j.Hash, Err: err, Payload: raw}
	if err == nil && !j.Witness {
		r.Payload, r.Err = stripWitness(raw)
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

// BlockRead is the result of a ReadBlock job: the block message's payload,
// or the error that kept the block from being read (pruned meanwhile, or a
// disk error, which the shell also logs).
type BlockRead struct {
	Peer    p2p.PeerID
	Hash    chainhash.Hash
	Payload []byte
	Err     error
}

// JobName implements p2p.Job.
func (BlockRead) JobName() string { return "block-read" }

// canServe reports whether a block may be served: a block of the best
// header chain at or below the last connected one (it is stored and passed
// the rules). Blocks off the best chain are not served, as Core serves
// only blocks it has validated and not ones of a chain it left.
func (s *Sync) canServe(hash *chainhash.Hash) bool {
	h, ok := s.chain.MainHeight(hash)
	return ok && h <= s.blocks.connected
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
		if !isBlock || !s.canServe(&iv.Hash) {
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
		q.items = append(q.items, serveItem{hash: iv.Hash, witness: iv.Type == wire.InvTypeWitnessBlock})
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
	it := q.items[0]
	q.items = q.items[1:]
	q.reading = true
	b.reading++
	s.core.StartJob(ReadBlock{Peer: id, Hash: it.hash, Witness: it.witness})
}

// blockRead sends a block read for a peer, then the next.
func (s *Sync) blockRead(r BlockRead) {
	b := s.blocks
	b.reading--
	if q := b.serving[r.Peer]; q != nil {
		q.reading = false
	}
	if _, ok := s.core.Peer(r.Peer); ok {
		if r.Err != nil {
			nf := wire.NewMsgNotFound()
			nf.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &r.Hash))
			s.core.Send(r.Peer, nf)
		} else if f, err := s.core.NewPayloadFrame(wire.CmdBlock, r.Payload, "block "+protocol.ShortHash(r.Hash)); err == nil {
			s.core.SendFrame(r.Peer, f)
			if sp := s.peers[r.Peer]; sp != nil {
				if h, ok := s.chain.MainHeight(&r.Hash); ok && h > sp.bestKnown {
					sp.bestKnown, sp.bestHash = h, r.Hash
				}
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
