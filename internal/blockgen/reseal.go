package blockgen

import (
	"bytes"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// Reseal makes a regtest block whose transactions a test changed
// consistent again: the witness commitment (when the coinbase has one) is
// redone for the new transactions, the merkle root recomputed and the proof
// of work mined anew. A block broken on purpose then breaks only the rule
// the test meant, not the merkle root, the commitment or the header.
func Reseal(b *wire.MsgBlock) {
	cb := b.Transactions[0]
	if n := len(cb.TxOut); n > 0 && isWitnessCommitment(cb.TxOut[n-1].PkScript) {
		cb.TxOut = cb.TxOut[:n-1]
		addWitnessCommitment(b.Transactions)
	}
	b.Header.MerkleRoot = merkleRoot(b.Transactions)
	target, _, _ := consensus.CompactToU256(protocol.Regtest.Params().PowLimitBits)
	mine(&b.Header, target)
}

// isWitnessCommitment reports whether script is a BIP141 commitment output.
func isWitnessCommitment(script []byte) bool {
	return len(script) >= 38 && script[0] == 0x6a && script[1] == 0x24 && bytes.Equal(script[2:6], witnessCommitmentTag)
}
