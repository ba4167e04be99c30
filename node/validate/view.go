package validate

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/utxo"
)

// View is the UTXO set as connecting and disconnecting blocks use it:
// *utxo.Store in the node, MemoryView in tests and fuzzing.
type View interface {
	// Get returns the unspent coin at op, if there is one.
	Get(op wire.OutPoint) (utxo.Coin, bool, error)
	// Spend removes the coin at op and returns it; ok is false when
	// there is no such unspent coin.
	Spend(op wire.OutPoint) (utxo.Coin, bool, error)
	// Add puts c at op. Without overwrite the caller promises the set
	// has no unspent coin at op (BIP30's check, or BIP34's unique
	// coinbases), and an implementation may check only what it holds in
	// memory, as Core's AddCoin checks only its cache: looking each new
	// output up on disk again would double the lookups of a block.
	Add(op wire.OutPoint, c utxo.Coin, overwrite bool) error
}

// MemoryView is a View in a map, for tests and fuzzing.
type MemoryView map[wire.OutPoint]utxo.Coin

// Get implements View.
func (m MemoryView) Get(op wire.OutPoint) (utxo.Coin, bool, error) {
	c, ok := m[op]
	return c, ok, nil
}

// Spend implements View.
func (m MemoryView) Spend(op wire.OutPoint) (utxo.Coin, bool, error) {
	c, ok := m[op]
	delete(m, op)
	return c, ok, nil
}

// Add implements View.
func (m MemoryView) Add(op wire.OutPoint, c utxo.Coin, overwrite bool) error {
	if _, ok := m[op]; ok && !overwrite {
		return fmt.Errorf("adding coin %v: already unspent", op)
	}
	m[op] = c
	return nil
}

// overlay holds one block's changes on top of a View until the block has
// passed every rule, so a block that fails leaves the set as it was (Core
// connects on a throw-away CCoinsViewCache for the same reason). Changes
// are kept in order and replayed on commit, which keeps the base's own
// bookkeeping (counts, MuHash) exact.
//
// Overlays stack: the next block's overlay may sit on this one while this
// block's scripts are verified (Pending). Once an overlay is committed its
// changes are in its base, so it steps aside: reads and the commit of an
// overlay above it go to the first uncommitted view below (target).
type overlay struct {
	base    View
	coins   map[wire.OutPoint]overlayCoin
	changes []change
	// committed is set once the changes are replayed on the base, and
	// dropped is set by abandon; either way coins and changes are gone.
	committed, dropped bool
}

type overlayCoin struct {
	coin  utxo.Coin
	spent bool
}

// change is one Spend or Add to replay on the base.
type change struct {
	op        wire.OutPoint
	add       bool
	coin      utxo.Coin
	overwrite bool
}

func newOverlay(base View, size int) *overlay {
	return &overlay{base: base, coins: make(map[wire.OutPoint]overlayCoin, size), changes: make([]change, 0, size)}
}

// target is the view below o that holds what o's changes apply to: its
// base, past the overlays already committed into their own bases. o then
// points at it directly: a committed overlay never comes back, and a
// connector that begins every block on the overlay of the block before
// would otherwise keep a chain of every overlay it ever made, walked by
// every read (a fifth of a 500,000-transaction IBD's CPU, and growing).
// Overlays are used by one goroutine at a time (the connector's), so
// this write needs no lock.
func (o *overlay) target() View {
	base := o.base
	for {
		below, ok := base.(*overlay)
		if !ok || !below.committed {
			o.base = base
			return base
		}
		base = below.base
	}
}

func (o *overlay) Get(op wire.OutPoint) (utxo.Coin, bool, error) {
	if o.committed || o.dropped {
		return utxo.Coin{}, false, errOverlayDone
	}
	if c, ok := o.coins[op]; ok {
		return c.coin, !c.spent, nil
	}
	return o.target().Get(op)
}

func (o *overlay) Spend(op wire.OutPoint) (utxo.Coin, bool, error) {
	c, ok, err := o.Get(op)
	if err != nil || !ok {
		return utxo.Coin{}, false, err
	}
	o.coins[op] = overlayCoin{spent: true}
	o.changes = append(o.changes, change{op: op})
	return c, true, nil
}

// Add checks only o's own coins (see View.Add): BIP30's lookups in Begin
// already asked the views below.
func (o *overlay) Add(op wire.OutPoint, c utxo.Coin, overwrite bool) error {
	if o.committed || o.dropped {
		return errOverlayDone
	}
	if have, ok := o.coins[op]; ok && !have.spent && !overwrite {
		return fmt.Errorf("adding coin %v: already unspent", op)
	}
	o.coins[op] = overlayCoin{coin: c}
	o.changes = append(o.changes, change{op: op, add: true, coin: c, overwrite: overwrite})
	return nil
}

// errOverlayDone says a block's overlay was used after its changes were
// committed or abandoned: a caller's bug (reads must go through the
// overlays still pending, or the set).
var errOverlayDone = errors.New("a block's overlay used after it was committed or abandoned")

// commit replays the changes on the target and steps o aside.
func (o *overlay) commit() error {
	if o.committed || o.dropped {
		return errOverlayDone
	}
	base := o.target()
	for _, ch := range o.changes {
		if ch.add {
			if err := base.Add(ch.op, ch.coin, ch.overwrite); err != nil {
				return err
			}
			continue
		}
		if _, ok, err := base.Spend(ch.op); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("committing a block's changes: coin %v vanished", ch.op)
		}
	}
	o.committed = true
	o.coins, o.changes = nil, nil
	return nil
}

// abandon drops the changes; the base never sees them.
func (o *overlay) abandon() {
	o.dropped = true
	o.coins, o.changes = nil, nil
}
