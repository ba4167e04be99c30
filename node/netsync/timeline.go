package netsync

import (
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/p2p"
)

// Block timelines: what happened to each recent block, for whoever
// watches (Core's users ask for exactly this: which peer announced a block
// first, whom we asked and why, how long each stage took).
const (
	// MaxTimelines is how many blocks' timelines are kept, the most
	// recently begun (older ones are forgotten first): enough for the
	// last 1,000 connected blocks and a download window in flight
	// above them. A timeline is about half a kilobyte (a request's why
	// is most of it), so about 1 MB in all.
	MaxTimelines = 1000 + BlockDownloadWindow
	// maxAnnouncements and maxTimelineRequests bound one timeline's
	// lists: a block is announced by each peer at most once, and asked of
	// a new peer only after the last one failed, so these are reached only
	// by a block that many peers failed to deliver.
	maxAnnouncements    = 16
	maxTimelineRequests = 16
)

// BlockTimeline is one block's life in the node: who announced it and
// when, whom we asked for it and why, and when it was received, stored,
// validated and connected. Zero times are stages not reached (yet).
type BlockTimeline struct {
	Hash chainhash.Hash `json:"hash"`
	// Height is -1 for a block first announced off the best chain.
	Height int32 `json:"height"`
	// Announcements are the peers that announced the block (inv, or a
	// headers message of at most MaxAnnouncementHeaders), in order: the
	// first is the first announcer.
	Announcements []Announcement `json:"announcements"`
	// Requests are the getdata requests for it, in order.
	Requests []TimelineRequest `json:"requests"`
	// Received is when its bytes arrived, From who sent them and Bytes
	// the message's size.
	Received time.Time  `json:"received,omitzero"`
	From     p2p.PeerID `json:"from,omitempty"`
	Bytes    int        `json:"bytes,omitempty"`
	// Stored is when the block store wrote it (every block rule passed);
	// Validated when
	// the block connector reported it connected to the UTXO set (without
	// full validation, never); Connected when it became part of the
	// node's chain (the last connected block reached it).
	Stored    time.Time `json:"stored,omitzero"`
	Validated time.Time `json:"validated,omitzero"`
	Connected time.Time `json:"connected,omitzero"`
	// Failed names the rule the block broke, if it did.
	Failed string `json:"failed,omitempty"`
}

// MaxAnnouncementHeaders: a headers message carrying at most this many
// headers counts as an announcement (Core announces new blocks with up to
// 8 headers, MAX_BLOCKS_TO_ANNOUNCE); a longer one is a sync batch.
const MaxAnnouncementHeaders = 8

// Announcement is one peer telling us of a block.
type Announcement struct {
	Peer p2p.PeerID `json:"peer"`
	At   time.Time  `json:"at"`
	// Via is the message: "inv" or "headers".
	Via string `json:"via"`
}

// TimelineRequest is one getdata for the block: whom, when, why, and how
// it ended.
type TimelineRequest struct {
	Peer p2p.PeerID `json:"peer"`
	At   time.Time  `json:"at"`
	Why  string     `json:"why"`
	// Ended and Outcome: when and how the request ended ("delivered",
	// "notfound", "timed out", "stalled", "peer gone", "mutated", "no
	// longer needed"); zero while in flight.
	Ended   time.Time `json:"ended,omitzero"`
	Outcome string    `json:"outcome,omitempty"`
}

// Outcomes of a TimelineRequest.
const (
	OutcomeDelivered = "delivered"
	OutcomeNotFound  = "notfound"
	OutcomeTimedOut  = "timed out"
	OutcomeStalled   = "stalled"
	OutcomePeerGone  = "peer gone"
	OutcomeMutated   = "mutated"
	OutcomeUnneeded  = "no longer needed"
)

// timelineStore keeps the timelines of the last MaxTimelines blocks
// begun. Timelines are copied on write: a timeline handed out (in a
// snapshot) is never written to again, so observers read them without a
// lock, and a snapshot copies only the map of pointers.
type timelineStore struct {
	byHash map[chainhash.Hash]*BlockTimeline
	// order holds the hashes in the order their timelines began, as a
	// ring of MaxTimelines; next is where the next one goes.
	order []chainhash.Hash
	next  int
	// view is the map observers see, rebuilt when dirty.
	view  map[chainhash.Hash]*BlockTimeline
	dirty bool
}

func newTimelineStore() *timelineStore {
	return &timelineStore{byHash: make(map[chainhash.Hash]*BlockTimeline), view: map[chainhash.Hash]*BlockTimeline{}}
}

// update applies f to a copy of hash's timeline, begun (forgetting the
// oldest when full) if create and it has none; without create a block
// with no timeline is left alone. A height of -1 means not known (a block
// announced before its header arrived); the timeline keeps the last known.
func (t *timelineStore) update(hash chainhash.Hash, height int32, create bool, f func(*BlockTimeline)) {
	old, ok := t.byHash[hash]
	if !ok && !create {
		return
	}
	var tl BlockTimeline
	if ok {
		tl = *old
		// Appends must not write into the arrays the old copy shares.
		tl.Announcements = tl.Announcements[:len(tl.Announcements):len(tl.Announcements)]
		tl.Requests = slicesClone(tl.Requests)
	} else {
		tl = BlockTimeline{Hash: hash, Height: -1}
		if len(t.order) < MaxTimelines {
			t.order = append(t.order, hash)
		} else {
			delete(t.byHash, t.order[t.next])
			t.order[t.next] = hash
			t.next = (t.next + 1) % MaxTimelines
		}
	}
	if height >= 0 {
		tl.Height = height
	}
	f(&tl)
	t.byHash[hash] = &tl
	t.dirty = true
}

// slicesClone copies requests, whose entries are updated in place.
func slicesClone(r []TimelineRequest) []TimelineRequest {
	if r == nil {
		return nil
	}
	return append(make([]TimelineRequest, 0, len(r)+1), r...)
}

// announced records that peer announced hash via the message named via;
// a peer's second announcement of the same block is not recorded.
func (t *timelineStore) announced(hash chainhash.Hash, height int32, peer p2p.PeerID, at time.Time, via string) {
	if tl, ok := t.byHash[hash]; ok {
		if len(tl.Announcements) >= maxAnnouncements {
			return
		}
		for _, a := range tl.Announcements {
			if a.Peer == peer {
				return
			}
		}
	}
	t.update(hash, height, true, func(tl *BlockTimeline) {
		tl.Announcements = append(tl.Announcements, Announcement{Peer: peer, At: at, Via: via})
	})
}

// asked records a getdata for the block.
func (t *timelineStore) asked(r *blockRequest) {
	t.update(r.Hash, r.Height, true, func(tl *BlockTimeline) {
		if len(tl.Requests) >= maxTimelineRequests {
			tl.Requests = tl.Requests[1:]
		}
		tl.Requests = append(tl.Requests, TimelineRequest{Peer: r.Peer, At: r.Asked, Why: r.Why})
	})
}

// ended records how the request of peer for hash ended; a request already
// ended keeps its first outcome.
func (t *timelineStore) ended(hash chainhash.Hash, peer p2p.PeerID, at time.Time, outcome string) {
	tl, ok := t.byHash[hash]
	if !ok {
		return
	}
	i := len(tl.Requests) - 1
	for ; i >= 0 && (tl.Requests[i].Peer != peer || !tl.Requests[i].Ended.IsZero()); i-- {
	}
	if i < 0 {
		return
	}
	t.update(hash, -1, false, func(tl *BlockTimeline) {
		tl.Requests[i].Ended, tl.Requests[i].Outcome = at, outcome
	})
}

// snapshot is the map observers read: shared, never written to.
func (t *timelineStore) snapshot() map[chainhash.Hash]*BlockTimeline {
	if t.dirty {
		t.view = make(map[chainhash.Hash]*BlockTimeline, len(t.byHash))
		for h, tl := range t.byHash {
			t.view[h] = tl
		}
		t.dirty = false
	}
	return t.view
}

// checkInvariants verifies the store's bounds: at most MaxTimelines
// timelines, each ring slot naming one, every list within its bound.
func (t *timelineStore) checkInvariants() error {
	if len(t.byHash) > MaxTimelines || len(t.order) != len(t.byHash) {
		return fmt.Errorf("%d timelines kept, %d in the ring (bound %d)", len(t.byHash), len(t.order), MaxTimelines)
	}
	for h, tl := range t.byHash {
		if len(tl.Announcements) > maxAnnouncements || len(tl.Requests) > maxTimelineRequests {
			return fmt.Errorf("timeline of %s holds %d announcements and %d requests (bounds %d, %d)",
				h, len(tl.Announcements), len(tl.Requests), maxAnnouncements, maxTimelineRequests)
		}
	}
	return nil
}
