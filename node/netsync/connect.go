package netsync

import (
	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/chain"
)

// ConnectBlocks asks the shell's block connector to make the UTXO set
// reflect the best header chain up to the block Hash at Height, every block
// of which is stored: first disconnecting what the set holds off that chain
// (a reorg), then connecting the stored blocks in order (Core's
// ActivateBestChain). View is the header chain as it was when the target
// was set: the connector finds the fork point and each block's ancestors
// in it. A newer ConnectBlocks replaces an older one; the connector reports
// with BlocksValidated as it goes and with BlockInvalid when a block fails.
type ConnectBlocks struct {
	Height int32
	Hash   chainhash.Hash
	View   *chain.View
}

// JobName implements p2p.Job.
func (ConnectBlocks) JobName() string { return "connect-blocks" }

// BlocksValidated says the UTXO set now reflects the block Hash at Height
// (connected, every rule and script checked or covered by -assumevalid).
type BlocksValidated struct {
	Height int32
	Hash   chainhash.Hash
}

// JobName implements p2p.Job.
func (BlocksValidated) JobName() string { return "blocks-validated" }

// BlockInvalid says the block Hash at Height broke a rule when it was
// connected (Err, a *validate.RuleError from the shell); the UTXO set
// stays at its parent.
type BlockInvalid struct {
	Height int32
	Hash   chainhash.Hash
	Err    error
}

// JobName implements p2p.Job.
func (BlockInvalid) JobName() string { return "block-invalid" }
