package validate

import (
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
	// Add puts c at op; overwriting an unspent coin is an error unless
	// overwrite is set.
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
type overlay struct {
	base    View
	coins   map[wire.OutPoint]overlayCoin
	changes []change
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

func (o *overlay) Get(op wire.OutPoint) (utxo.Coin, bool, error) {
	if c, ok := o.coins[op]; ok {
		return c.coin, !c.spent, nil
	}
	return o.base.Get(op)
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

func (o *overlay) Add(op wire.OutPoint, c utxo.Coin, overwrite bool) error {
	if _, ok, err := o.Get(op); err != nil {
		return err
	} else if ok && !overwrite {
		return fmt.Errorf("adding coin %v: already unspent", op)
	}
	o.coins[op] = overlayCoin{coin: c}
	o.changes = append(o.changes, change{op: op, add: true, coin: c, overwrite: overwrite})
	return nil
}

// commit replays the changes on the base.
func (o *overlay) commit() error {
	for _, ch := range o.changes {
		if ch.add {
			if err := o.base.Add(ch.op, ch.coin, ch.overwrite); err != nil {
				return err
			}
			continue
		}
		if _, ok, err := o.base.Spend(ch.op); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("committing a block's changes: coin %v vanished", ch.op)
		}
	}
	return nil
}
