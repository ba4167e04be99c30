package netsync

import (
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/p2p"
)

// Block timelines: what happened to each recent block, for whoever
// watches (Core's users ask for exactly this: which peer announced a block
// first, whom we asked and why, how long each stage took).
const (
	// MaxTimelines is how many blocks' timelines are kept, the most
	// recently begun; older ones are forgotten first.
	MaxTimelines = 1000
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
	Hash   chainhash.Hash `json:"hash"`
	Height int32          `json:"height"`
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
	// Stored is when the block store said it is durable; Validated when
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
