package validate

import (
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/utxo"
)

// Disconnect undoes b on view, which must reflect b: the outputs b created
// are taken out of the set and the coins it spent, from undo, put back
// (Core's DisconnectBlock). The undo data must be b's (the block store
// checks its checksum against b's parent): a count that does not match the
// block's inputs is ErrUndoMismatch and view is unchanged.
//
// Like Core, a disconnect where an output to remove is missing or differs,
// or a coin to restore is already unspent, is "unclean" but goes on: such
// states come only from the BIP30 repeats, whose overwritten outputs no
// undo data can bring back. Clean reports whether it was clean.
func (v *Validator) Disconnect(view View, b *Block, undo *utxo.BlockUndo) (clean bool, err error) {
	txs := b.Msg.Transactions
	if len(undo.Txs) != len(txs)-1 {
		return false, fmt.Errorf("%w: %d transaction records for %d transactions (block %v at height %d)",
			ErrUndoMismatch, len(undo.Txs), len(txs)-1, b.Hash, b.Height)
	}
	for i := 1; i < len(txs); i++ {
		if len(undo.Txs[i-1].Spent) != len(txs[i].TxIn) {
			return false, fmt.Errorf("%w: tx %d has %d inputs, its undo record %d coins (block %v at height %d)",
				ErrUndoMismatch, i, len(txs[i].TxIn), len(undo.Txs[i-1].Spent), b.Hash, b.Height)
		}
	}
	ov := newOverlay(view, 2*len(txs))
	clean = true
	for i := len(txs) - 1; i >= 0; i-- {
		tx := txs[i]
		for o := len(tx.TxOut) - 1; o >= 0; o-- {
			out := tx.TxOut[o]
			if isUnspendable(out.PkScript) {
				continue
			}
			op := wire.OutPoint{Hash: b.TxIDs[i], Index: uint32(o)}
			c, ok, err := ov.Spend(op)
			if err != nil {
				return false, err
			}
			if !ok || c.Height != b.Height || c.Coinbase != (i == 0) || c.Out.Value != out.Value || string(c.Out.PkScript) != string(out.PkScript) {
				clean = false
			}
		}
		if i == 0 {
			break
		}
		spent := undo.Txs[i-1].Spent
		for j := len(tx.TxIn) - 1; j >= 0; j-- {
			op := tx.TxIn[j].PreviousOutPoint
			_, have, err := ov.Get(op)
			if err != nil {
				return false, err
			}
			if have {
				clean = false
			}
			if err := ov.Add(op, spent[j], have); err != nil {
				return false, err
			}
		}
	}
	if err := ov.commit(); err != nil {
		return false, err
	}
	return clean, nil
}
