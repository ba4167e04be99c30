package consensus

import (
	"bytes"
	"crypto/sha256"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// MerkleRoot returns the merkle root of hashes as Bitcoin computes it (an
// odd level repeats its last hash) and whether the tree is mutated: some
// level holds two equal hashes in a pair, which is how CVE-2012-2459 lets a
// block with duplicated transactions share the root of the real one (Core's
// ComputeMerkleRoot). The root of no hashes is zero. hashes is not changed.
func MerkleRoot(hashes []chainhash.Hash) (root chainhash.Hash, mutated bool) {
	return merkleRootInPlace(append([]chainhash.Hash(nil), hashes...))
}

// merkleRootInPlace is MerkleRoot, overwriting level.
func merkleRootInPlace(level []chainhash.Hash) (root chainhash.Hash, mutated bool) {
	if len(level) == 0 {
		return chainhash.Hash{}, false
	}
	var pair [2 * chainhash.HashSize]byte
	for len(level) > 1 {
		for i := 0; i+1 < len(level); i += 2 {
			if level[i] == level[i+1] {
				mutated = true
			}
		}
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		for i := 0; i < len(level)/2; i++ {
			copy(pair[:], level[2*i][:])
			copy(pair[chainhash.HashSize:], level[2*i+1][:])
			first := sha256.Sum256(pair[:])
			level[i] = sha256.Sum256(first[:])
		}
		level = level[:len(level)/2]
	}
	return level[0], mutated
}

// witnessCommitmentHeader starts a coinbase output that commits to the
// block's witness data (BIP141): OP_RETURN, a 36-byte push, and the tag
// 0xaa21a9ed, followed by the 32-byte commitment.
var witnessCommitmentHeader = []byte{0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed}

// witnessCommitmentSize is the least size of a commitment output's script.
const witnessCommitmentSize = 38

// WitnessCommitment returns the index of the coinbase output that carries
// the witness commitment, the last one that starts as BIP141 says (Core's
// GetWitnessCommitmentIndex), or -1 when there is none.
func WitnessCommitment(coinbase *wire.MsgTx) int {
	found := -1
	for i, out := range coinbase.TxOut {
		if len(out.PkScript) >= witnessCommitmentSize && bytes.HasPrefix(out.PkScript, witnessCommitmentHeader) {
			found = i
		}
	}
	return found
}

// WitnessMerkleRoot returns the merkle root of b's wtxids with the
// coinbase's counted as zero, as the witness commitment covers (BIP141).
func WitnessMerkleRoot(b *Block) chainhash.Hash {
	if len(b.WTxIDs) == 0 {
		return chainhash.Hash{}
	}
	w := append([]chainhash.Hash(nil), b.WTxIDs...)
	w[0] = chainhash.Hash{}
	root, _ := merkleRootInPlace(w)
	return root
}
