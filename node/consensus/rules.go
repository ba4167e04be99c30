package consensus

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// Ancestors gives the rules read access to the branch being extended.
// HeaderAt(h) returns the header at height h of that branch, for
// 0 <= h <= the parent's height. The rules never modify the headers.
type Ancestors interface {
	HeaderAt(height int32) *Header
}

// Context is what the contextual rules know about the header being checked.
// It is read-only to the rules.
type Context struct {
	Params *Params
	// Height is the height of the header being checked: the parent's + 1.
	// The rules check headers above the genesis only (Height >= 1).
	Height int32
	// Parent is the header being extended, and ParentHash its hash.
	Parent     *Header
	ParentHash chainhash.Hash
	// Ancestors reaches every header of the branch up to the parent.
	Ancestors Ancestors
	// Now is the current time in unix seconds. Adjusting it (for instance
	// by peers' clock offsets) is the caller's concern.
	Now int64
}

// The errors the rules report, one per kind of breach, wrapped (with
// details) in a RuleError's Err. Test for them with errors.Is.
//
// ErrTimeTooNew is the one breach that time can heal: Core treats such a
// header as not yet valid rather than invalid, and so should callers (do not
// punish the peer; the header may be offered again later).
var (
	ErrBadLink          = errors.New("header does not link to its parent")
	ErrBadBits          = errors.New("bits do not encode a positive target")
	ErrTargetAboveLimit = errors.New("target is above the proof-of-work limit")
	ErrHighHash         = errors.New("hash is above the target")
	ErrWrongDifficulty  = errors.New("bits differ from the required difficulty")
	ErrTimeTooOld       = errors.New("timestamp is not after the median time past")
	ErrTimeTooNew       = errors.New("timestamp is too far in the future")
	ErrObsoleteVersion  = errors.New("version is obsolete at this height")
	ErrTimewarp         = errors.New("first header of a period is too early (BIP94 timewarp)")
	ErrCheckpoint       = errors.New("hash differs from the checkpoint at this height")
)

// RuleError says which rule a header broke, at which height.
type RuleError struct {
	Rule   string         // the Name of the broken Rule
	Height int32          // the header's height
	Hash   chainhash.Hash // the header's hash
	Err    error          // wraps one of the Err* sentinels, with details
}

// Error returns "header <hash> at height H breaks rule <Rule>: <Err>".
func (e *RuleError) Error() string {
	return fmt.Sprintf("header %s at height %d breaks rule %s: %v", e.Hash, e.Height, e.Rule, e.Err)
}

// Unwrap returns Err, so errors.Is(err, ErrHighHash) and the like work.
func (e *RuleError) Unwrap() error { return e.Err }

// Rule is one named consensus rule. Check returns nil when h (whose hash is
// *hash) satisfies the rule in ctx, and an error wrapping the rule's sentinel
// otherwise. Checks are pure: they read ctx and h and nothing else.
type Rule struct {
	Name  string
	Check func(ctx *Context, h *Header, hash *chainhash.Hash) error
}

// Rules is the ordered ruleset CheckHeader runs, cheapest first, so that
// most bad headers cost a comparison or two. A header that breaks several
// rules is reported under the first: a changed field other than PrevBlock
// changes the hash, so corrupted headers mostly fail hash-meets-target
// before difficulty or the time rules are reached. Callers must not modify
// it.
var Rules = []Rule{
	{"links-to-parent", checkLinksToParent},
	{"bits-well-formed", checkBitsWellFormed},
	{"hash-meets-target", checkHashMeetsTarget},
	{"difficulty", checkDifficulty},
	{"timestamp-above-median", checkTimestampAboveMedian},
	{"timestamp-not-too-far-ahead", checkTimestampNotTooFarAhead},
	{"version-minimum", checkVersionMinimum},
	{"bip94-timewarp", checkBIP94Timewarp},
	{"checkpoint", checkCheckpoint},
}

// CheckHeader runs Rules in order on header h, whose hash is *hash, in ctx,
// and returns a *RuleError for the first rule it breaks, or nil. It does not
// allocate unless a rule fails. Hashing is the caller's job so that a header
// is hashed once, wherever that is cheapest (on a peer's reader goroutine).
func CheckHeader(ctx *Context, h *Header, hash *chainhash.Hash) error {
	for i := range Rules {
		if err := Rules[i].Check(ctx, h, hash); err != nil {
			return &RuleError{Rule: Rules[i].Name, Height: ctx.Height, Hash: *hash, Err: err}
		}
	}
	return nil
}

// checkLinksToParent: a header MUST name the header it extends: its
// PrevBlock MUST equal the parent's hash.
func checkLinksToParent(ctx *Context, h *Header, _ *chainhash.Hash) error {
	if ctx.Parent == nil {
		return fmt.Errorf("%w: no parent given (height %d)", ErrBadLink, ctx.Height)
	}
	if h.PrevBlock != ctx.ParentHash {
		return fmt.Errorf("%w: previous block %s, parent %s", ErrBadLink, h.PrevBlock, ctx.ParentHash)
	}
	return nil
}

// checkBitsWellFormed: a header's Bits MUST encode a target that is
// positive (neither zero nor negative), fits in 256 bits, and is no higher
// than the network's proof-of-work limit.
func checkBitsWellFormed(ctx *Context, h *Header, _ *chainhash.Hash) error {
	t, neg, over := CompactToU256(h.Bits)
	switch {
	case neg:
		return fmt.Errorf("%w: bits %08x have the sign bit set", ErrBadBits, h.Bits)
	case over:
		return fmt.Errorf("%w: bits %08x overflow 256 bits", ErrBadBits, h.Bits)
	case t.IsZero():
		return fmt.Errorf("%w: bits %08x encode a zero target", ErrBadBits, h.Bits)
	case t.Cmp(ctx.Params.PowLimit) > 0:
		return fmt.Errorf("%w: bits %08x, limit %08x", ErrTargetAboveLimit, h.Bits, ctx.Params.PowLimitBits)
	}
	return nil
}

// checkHashMeetsTarget: a header's hash, read as a little-endian 256-bit
// number, MUST NOT exceed the target its Bits encode (the proof of work).
func checkHashMeetsTarget(_ *Context, h *Header, hash *chainhash.Hash) error {
	t, _, _ := CompactToU256(h.Bits)
	if HashToU256(hash).Cmp(t) > 0 {
		return fmt.Errorf("%w: bits %08x", ErrHighHash, h.Bits)
	}
	return nil
}

// checkDifficulty: a header's Bits MUST equal what the difficulty schedule
// requires at its height on its branch (NextWorkRequired).
func checkDifficulty(ctx *Context, h *Header, _ *chainhash.Hash) error {
	if want := NextWorkRequired(ctx, h); h.Bits != want {
		return fmt.Errorf("%w: bits %08x, required %08x", ErrWrongDifficulty, h.Bits, want)
	}
	return nil
}

// checkTimestampAboveMedian: a header's timestamp MUST be later than the
// median timestamp of the 11 headers ending at its parent.
func checkTimestampAboveMedian(ctx *Context, h *Header, _ *chainhash.Hash) error {
	if mtp := MedianTimePast(ctx.Ancestors, ctx.Height-1); h.Timestamp <= mtp {
		return fmt.Errorf("%w: time %d, median time past %d", ErrTimeTooOld, h.Timestamp, mtp)
	}
	return nil
}

// checkTimestampNotTooFarAhead: a header's timestamp MUST NOT be more than
// MaxFutureTime (two hours) ahead of the current time.
func checkTimestampNotTooFarAhead(ctx *Context, h *Header, _ *chainhash.Hash) error {
	if limit := ctx.Now + ctx.Params.MaxFutureTime; int64(h.Timestamp) > limit {
		return fmt.Errorf("%w: time %d, latest allowed %d", ErrTimeTooNew, h.Timestamp, limit)
	}
	return nil
}

// checkVersionMinimum: a header MUST have version 2 or more from
// BIP34Height, 3 or more from BIP66Height and 4 or more from BIP65Height
// (Core compares the signed version, so negative versions fail too).
func checkVersionMinimum(ctx *Context, h *Header, _ *chainhash.Hash) error {
	p := ctx.Params
	// The least version the active deployments allow; Core's three
	// separate comparisons amount to the largest of them.
	least := int32(-1 << 31)
	if ctx.Height >= p.BIP34Height {
		least = 2
	}
	if ctx.Height >= p.BIP66Height {
		least = max(least, 3)
	}
	if ctx.Height >= p.BIP65Height {
		least = 4
	}
	if h.Version < least {
		return fmt.Errorf("%w: version %#08x, at least %d required", ErrObsoleteVersion, uint32(h.Version), least)
	}
	return nil
}

// maxTimewarp is how much earlier than its parent the first header of a
// period may be under BIP94 (Core's MAX_TIMEWARP).
const maxTimewarp = 600

// checkBIP94Timewarp: where BIP94 is enforced (testnet4), the first header of
// each difficulty period MUST NOT be more than 600 seconds earlier than its
// parent.
func checkBIP94Timewarp(ctx *Context, h *Header, _ *chainhash.Hash) error {
	p := ctx.Params
	if !p.EnforceBIP94 || ctx.Height%p.RetargetInterval != 0 {
		return nil
	}
	if int64(h.Timestamp) < int64(ctx.Parent.Timestamp)-maxTimewarp {
		return fmt.Errorf("%w: time %d, parent %d", ErrTimewarp, h.Timestamp, ctx.Parent.Timestamp)
	}
	return nil
}

// checkCheckpoint: a header at a checkpointed height MUST have the
// checkpoint's hash.
func checkCheckpoint(ctx *Context, _ *Header, hash *chainhash.Hash) error {
	if len(ctx.Params.Checkpoints) == 0 {
		return nil
	}
	if want, ok := ctx.Params.Checkpoints[ctx.Height]; ok && *hash != want {
		return fmt.Errorf("%w: checkpoint %s", ErrCheckpoint, want)
	}
	return nil
}
