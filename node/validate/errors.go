package validate

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// The rules a block can break when it is connected, each naming Bitcoin
// Core's reject reason in brackets so a log line can be matched with
// Core's. A *RuleError wraps one of them.
var (
	ErrBIP30               = errors.New("transaction overwrites an unspent output of an earlier one (bad-txns-BIP30)")
	ErrMissingInput        = errors.New("input spends a missing or spent output (bad-txns-inputs-missingorspent)")
	ErrImmatureCoinbase    = errors.New("input spends a coinbase output before 100 blocks (bad-txns-premature-spend-of-coinbase)")
	ErrInputValueRange     = errors.New("input values are out of range (bad-txns-inputvalues-outofrange)")
	ErrInputsBelowOutputs  = errors.New("outputs are worth more than the inputs (bad-txns-in-belowout)")
	ErrFeeRange            = errors.New("fees are out of range (bad-txns-fee-outofrange)")
	ErrSequenceLock        = errors.New("a BIP68 relative lock time is not met (bad-txns-nonfinal)")
	ErrTooManySigOps       = errors.New("signature operation cost above 80,000 (bad-blk-sigops)")
	ErrCoinbaseTooHigh     = errors.New("coinbase pays more than the subsidy and fees (bad-cb-amount)")
	ErrScript              = errors.New("script verification failed (mandatory-script-verify-flag-failed)")
	ErrUndoMismatch        = errors.New("undo data does not match the block")
	ErrDisconnectNotTip    = errors.New("block is not the one the UTXO set reflects")
	ErrConnectNotOnTopOfIt = errors.New("block does not build on the block the UTXO set reflects")
)

// RuleError says which rule a block broke while it was connected, and
// where: the transaction and input, when the rule concerns one.
type RuleError struct {
	// Rule is the broken rule's short name, Core's reject reason.
	Rule   string
	Height int32
	Hash   chainhash.Hash
	// TxIndex and TxID name the transaction (TxIndex -1: the block as a
	// whole); Input the input (-1: the transaction as a whole) and
	// Prevout the output it spends.
	TxIndex int
	TxID    chainhash.Hash
	Input   int
	Prevout wire.OutPoint
	// Err wraps one of the Err* sentinels, with details.
	Err error
}

func (e *RuleError) Error() string {
	s := fmt.Sprintf("block %v at height %d", e.Hash, e.Height)
	if e.TxIndex >= 0 {
		s += fmt.Sprintf(": tx %v", e.TxID)
		if e.Input >= 0 {
			s += fmt.Sprintf(" input %d (spending %v)", e.Input, e.Prevout)
		}
	}
	return s + ": " + e.Err.Error()
}

// RuleName returns Rule: the name the node's failed-block marks show.
func (e *RuleError) RuleName() string { return e.Rule }

// Unwrap returns the wrapped error, so errors.Is finds the sentinel.
func (e *RuleError) Unwrap() error { return e.Err }
