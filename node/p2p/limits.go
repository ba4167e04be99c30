package p2p

import (
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

// Memory bounds: everything a peer can make the node keep is counted
// against one of these.
//
//   - Outbound queue: the core counts every frame it queues for a peer at
//     its Cost: its bytes, its summary and FrameOverhead for the Frame and
//     its queue slot (TestFrameCostCoversHeap: a 32-byte pong keeps 136
//     bytes of heap and counts 152). Past OutQueueLimit it makes no optional
//     work for the peer (HasRoom); past twice that it stops serving the
//     peer's messages until the writer drains the queue, so control replies
//     (pongs) stop too. A bulk frame queued past twice the limit means a
//     producer ignored HasRoom: the peer is dropped. The queue is checked
//     before each message the core serves, so the last message served
//     below twice the limit may add one answer: at most MaxReplyCost, a
//     full headers batch (every other answer is smaller: a getblocks inv
//     of 500 hashes, an addr of at most 1,000 addresses, a notfound part,
//     which package netsync keeps under it and sends only while HasRoom).
//     Per peer: at most 2*OutQueueLimit + MaxReplyCost plus the control
//     messages the core's timers add while the peer is paused
//     (MaxOutQueue).
//   - Serve-ahead: package netsync keeps at most 8 headers batches made
//     ahead for peers syncing from us (about 162 KB each, 1.3 MB in all),
//     only for peers that asked for a continuation.
//   - Blocks (package netsync): received blocks waiting for the store, plus
//     the blocks in flight at the mean block cost, stay under
//     netsync.MaxBlockBytesPending (64 MiB), off by at most one block per
//     request in flight; a peer's serve queue holds at most one getdata's
//     worth of block items (50,000, 4 bytes each: 200 KB); at most 4
//     block reads (about 1 MiB and one
//     block each) are in flight for all peers, and a peer gets its next
//     read only once its send queue is below OutQueueLimit; failed-block
//     marks are at most 10,000. With full validation the shell keeps
//     written blocks decoded for its block connector, at most 32 MiB by
//     their Cost (engine's handoffBytes), oldest dropped first; a block
//     batch for a slow reader goes into its send queue only while the
//     queue has room, the rest waiting as serve-queue items.
//   - Inbound queue: the shell's queue of decoded messages waiting for the
//     core, counted by Message.Cost (payload, decoded form, overhead). A
//     peer may have InQueueFloor queued; a single message larger than
//     that is admitted into an empty queue only while the InQueuePool
//     shared by all peers has room. In all: peers*InQueueFloor +
//     InQueuePool. A full queue stops the peer's reader, and TCP pushes
//     back on that peer alone.
//   - Request links (links.go): a tracked request keeps its log number
//     (8 bytes in the Request, which the core made and bounds itself);
//     each link leaves the core at once as an action. The shell keeps the
//     newest links in a ring as long as its message log (engine's
//     linkLogSize, 4,096 links of 48 bytes: 192 KiB, allocated at start,
//     for all peers together), and each dashboard client waits on at most
//     1,000 (web's maxPendingLinks, about 100 bytes each encoded).
//   - Block timelines (netsync's timeline.go): what peers' announcements,
//     requests and deliveries make the node remember of a block goes in
//     its timeline; at most MaxTimelines (2,024) are kept, the oldest
//     forgotten first, each with at most 16 announcements (one per peer)
//     and 16 requests: about 1 MB in all, whatever peers send. The last
//     32 stalls are kept; the block connector keeps the stage times of as
//     many blocks as there are timelines (about 100 KB).
//   - BIP324 (package peer): a v2 reader learns a packet's length before
//     reading it, refuses one above protocol.V2MaxContents and reserves it
//     in the inbound queue's bound like a v1 payload; a handshake keeps at
//     most 4,095 bytes of the peer's garbage; a v2 writer's encrypted
//     batch is at most one batch or one frame, for one write. The
//     -v2keylog file, which every v2 connection adds a line to, stops at
//     64 MiB (engine's maxKeyLogBytes).
const (
	OutQueueLimit = 512 << 10
	FrameOverhead = 96
	InQueueFloor  = 512 << 10
	InQueuePool   = 32 << 20
)

// MaxReplyCost is the Cost of the largest answer the node queues for one
// message: a headers message of 2,000 headers (81 bytes each, with the
// count's 3 bytes), with an allowance of 64 bytes for its summary.
const MaxReplyCost = protocol.HeaderSize + 3 + wire.MaxBlockHeadersPerMsg*81 + 64 + FrameOverhead

// PerTurn is how many messages the core takes from one peer's inbound
// queue before serving the next peer, so a flooding peer delays the others
// by at most PerTurn messages.
const PerTurn = 8

// progressUnit is what counts as progress for the send-stall rule: a
// peer with something queued must accept one whole message, or this many
// bytes of a larger one, every WriteTimeout.
const progressUnit = 64 << 10

// Other bounds and durations.
const (
	// discouragement is how long a misbehaving address is refused (Core's
	// discouragement filter is cleared roughly daily).
	discouragement = 24 * time.Hour
	// maxDiscouraged bounds the discouraged addresses kept at once, the
	// size of Core's rolling discouragement filter: each misbehaving
	// address adds one, and an attacker has IPv6 addresses for free. Past
	// it the discouragement expiring soonest is forgotten. The operator's
	// bans are not counted and never evicted.
	maxDiscouraged = 50000
	// maxDisconnects is how many recent disconnects are kept for the UI.
	maxDisconnects = 100
	// maxDialsPerTick keeps a burst of failures from hammering the
	// address book.
	maxDialsPerTick = 2
)

// AdmitInbound applies the inbound queue bound: may a message of cost join
// a peer's queue that holds queued cost in count messages, while the
// shared pool has poolUsed taken? It returns how much of the pool the
// message takes (0 while the peer stays within its floor). A message that
// is not admitted waits: the reader stops reading until the core has
// taken enough from the queue, or the pool has room.
func AdmitInbound(queued, count, cost, poolUsed int) (poolCharge int, ok bool) {
	if queued+cost <= InQueueFloor {
		return 0, true
	}
	if count > 0 {
		return 0, false
	}
	charge := cost - InQueueFloor
	return charge, poolUsed+charge <= InQueuePool
}
