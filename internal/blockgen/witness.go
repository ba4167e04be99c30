package blockgen

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
)

// witnessCommitmentTag follows OP_RETURN and the 36-byte push length in a
// witness commitment output (BIP141).
var witnessCommitmentTag = []byte{0xaa, 0x21, 0xa9, 0xed}

// addWitnessCommitment gives txs[0], the coinbase, BIP141's witness
// commitment to txs: a coinbase witness of one 32-byte nonce (zero, as
// most pools use) and a last output "OP_RETURN 0x24 aa21a9ed
// sha256d(witness merkle root || nonce)". The witness merkle root counts
// the coinbase's wtxid as zero, so the commitment output can be added
// after the root is computed without changing it.
func addWitnessCommitment(txs []*wire.MsgTx) {
	wtxids := make([]chainhash.Hash, len(txs))
	for i, tx := range txs[1:] {
		wtxids[i+1] = tx.WitnessHash()
	}
	root := consensus.WitnessMerkleRoot(&consensus.Block{WTxIDs: wtxids})

	var nonce [chainhash.HashSize]byte
	txs[0].TxIn[0].Witness = wire.TxWitness{nonce[:]}
	var buf [2 * chainhash.HashSize]byte
	copy(buf[:], root[:])
	copy(buf[chainhash.HashSize:], nonce[:])
	commitment := chainhash.DoubleHashH(buf[:])

	script := make([]byte, 0, 2+len(witnessCommitmentTag)+chainhash.HashSize)
	script = append(script, txscript.OP_RETURN, txscript.OP_DATA_36)
	script = append(script, witnessCommitmentTag...)
	script = append(script, commitment[:]...)
	txs[0].AddTxOut(&wire.TxOut{Value: 0, PkScript: script})
}
