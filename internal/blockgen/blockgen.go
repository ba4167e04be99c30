// Package blockgen makes regtest block chains for tests and benchmarks of
// block download, storage, validation and serving.
//
// internal/chaingen makes header chains only; block handling needs bodies
// that a real node accepts, and a benchmark of validation needs bodies that
// look like mainnet's: signed spends of every common output type, not
// coinbases alone. blockgen lays timestamps in the past (strictly
// increasing, ending before Options.Now) and grinds nonces itself, as
// chaingen does, so long chains need no wall-clock waiting.
//
// # What a chain holds
//
// With Options.TxPerBlock zero every block is a coinbase paying an OP_TRUE
// output, as in the first version. Otherwise a wallet of keys derived from
// the seed (keys.go) receives every coinbase, and from coinbase maturity
// (height 101) each block carries up to TxPerBlock transactions spending
// the wallet's oldest outputs of earlier blocks (spend.go). Outputs rotate
// through seven types, each of which is later spent:
//
//   - P2PK, signed with txscript.RawTxInSignature;
//   - P2PKH, with txscript.RawTxInSignature and the key;
//   - P2SH of a 2-of-3 multisig, two RawTxInSignature signatures;
//   - P2WPKH, with txscript.RawTxInWitnessSignature and the key;
//   - P2WSH of a 1-of-2 multisig, with RawTxInWitnessSignature;
//   - P2TR spent by the key path (BIP86 tweak), with TaprootWitnessSignature;
//   - P2TR spent by the script path: one leaf "<key> OP_CHECKSIG", its
//     control block from txscript's tapscript tree, signed with
//     RawTxInTapscriptSignature.
//
// Sighashes come from txscript only (NewTxSigHashes over a
// MultiPrevOutFetcher of every spent output); nothing is hand-rolled.
// Every spend pays FeePerTx and the coinbase claims exactly the subsidy and
// the fees. Signing uses every CPU, and since btcec's nonces are
// deterministic the same seed and options give the same bytes.
//
// Stream makes a chain block by block without keeping it, for chains of
// hundreds of megabytes (Options.TargetBytes asks for a size rather than a
// block count); Generate collects one in memory.
//
// # Rules satisfied
//
// Blocks satisfy what btcd enforces on regtest (chaincfg
// RegressionNetParams): BIP34 height first in the coinbase, correct merkle
// root, proof of work at regtest's limit, version 0x20000000, a coinbase
// claiming exactly the subsidy (which halves every 150 blocks on regtest)
// plus fees, coinbase outputs spent no sooner than 100 blocks on, and the
// weight and sigop limits (blocks are filled against upper bounds of each
// input's weight and cost). With a transaction mix every block carries the
// BIP141 witness commitment (witness.go). They pass node/consensus's
// CheckBlock, which the tests check.
//
// Segwit and taproot need no signalling on btcd's regtest: chaincfg/v2's
// RegressionNetParams gives the CSV, segwit and taproot deployments
// AlwaysActiveHeight 1, and btcd's threshold-state code (ForceActive in
// blockchain/versionbits.go) treats a deployment as active for every
// block at or above that height, so from height 1 btcd checks witness
// commitments, witness programs and BIP341/342 spends. node/consensus
// likewise puts regtest's segwit at height 0 and CSV at 1. Version stays
// 0x20000000 without deployment bits.
package blockgen

import (
	"bytes"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
)

// Version is every block's version: BIP9's top bits with no deployment
// signalled, as current miners use.
const Version int32 = 0x20000000

// endMargin keeps the tip an hour before Now so a node's clock never sees it
// in the future, even if the chain is used a while after it is made.
const endMargin = time.Hour

// Options tunes a generated chain.
type Options struct {
	// Seed makes chains differ; the same seed and options give the same
	// bytes.
	Seed uint64
	// Blocks is how many blocks follow the genesis block; with
	// TargetBytes, the least.
	Blocks int
	// TxPerBlock is how many signed spends each block from coinbase
	// maturity on carries, fewer while the wallet has too few outputs
	// (the first blocks after maturity fan outputs out) or when a block
	// would pass the weight or sigop limit. Zero makes coinbase-only
	// blocks.
	TxPerBlock int
	// TargetBytes, when positive, makes the chain go on past Blocks until
	// its blocks' serializations together reach TargetBytes bytes.
	TargetBytes int64
	// TailBlocks coinbase-only blocks follow the rest. With 2,016 of them
	// (two weeks of regtest blocks) every block before the tail is deep
	// enough for a node to skip its scripts under -assumevalid set to the
	// tip, as Core allows only two weeks below the best header: a chain
	// for measuring download and every other rule without the signature
	// math.
	TailBlocks int
	// Start is the first block's timestamp. Zero places the chain at ten
	// minute spacing ending endMargin before Now; with TargetBytes, whose
	// block count is not known ahead, at one second spacing ending at most
	// endMargin before Now (earlier by the blocks the target did not
	// need).
	Start time.Time
	// Now bounds the chain: every timestamp is before it. Zero means
	// time.Now(), which makes the chain depend on the clock.
	Now time.Time
}

// Chain is a generated chain; Blocks[i] is at height i+1.
type Chain struct {
	// Blocks are the generated blocks in order.
	Blocks []*wire.MsgBlock
}

// Raw returns block i serialized in the wire format.
func (c *Chain) Raw(i int) []byte {
	var buf bytes.Buffer
	if err := c.Blocks[i].Serialize(&buf); err != nil {
		// Serializing to memory only fails on malformed messages, which
		// Generate never builds.
		panic(fmt.Sprintf("blockgen: serializing block %d: %v", i, err))
	}
	return buf.Bytes()
}

// Generate makes a chain as opts say and keeps every block. For chains too
// large to hold decoded, use Stream.
func Generate(opts Options) (*Chain, error) {
	c := &Chain{}
	err := Stream(opts, func(_ int, b *wire.MsgBlock, _ []byte) error {
		c.Blocks = append(c.Blocks, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// subsidy is the block reward at height h.
func subsidy(h int, p *chaincfg.Params) int64 {
	halvings := h / int(p.SubsidyReductionInterval)
	if halvings >= 64 {
		return 0
	}
	return (50 * 100_000_000) >> halvings
}

// merkleRoot is the merkle root of txs' txids, as consensus computes it.
func merkleRoot(txs []*wire.MsgTx) chainhash.Hash {
	ids := make([]chainhash.Hash, len(txs))
	for i, tx := range txs {
		ids[i] = tx.TxHash()
	}
	root, _ := consensus.MerkleRoot(ids)
	return root
}

// mine grinds h's nonce until its hash meets target (about two tries on
// regtest) and returns the hash.
func mine(h *wire.BlockHeader, target consensus.U256) chainhash.Hash {
	for {
		hash := h.BlockHash()
		if consensus.HashToU256(&hash).Cmp(target) <= 0 {
			return hash
		}
		h.Nonce++
	}
}
