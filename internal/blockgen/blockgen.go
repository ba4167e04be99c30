// Package blockgen makes regtest block chains for tests and benchmarks of
// block download, storage, validation and serving.
//
// internal/chaingen makes header chains only; block handling needs bodies
// that a real node accepts. blockgen lays timestamps in the past (strictly
// increasing, ending before Options.Now) and grinds nonces itself, as
// chaingen does, so long chains need no wall-clock waiting. Its blocks
// satisfy the consensus rules btcd enforces on regtest from genesis
// (chaincfg RegressionNetParams): BIP34 height first in the coinbase,
// correct merkle root, proof of work at regtest's limit, version
// 0x20000000, and a coinbase claiming exactly the subsidy, which halves
// every 150 blocks on regtest.
//
// This first version makes coinbase-only blocks; signed spends of many
// output types are the next step.
package blockgen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
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
	// Blocks is how many blocks follow the genesis block.
	Blocks int
	// Start is the first block's timestamp. Zero places the chain at ten
	// minute spacing ending endMargin before Now.
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

// Generate makes a chain as opts say.
func Generate(opts Options) (*Chain, error) {
	if opts.Blocks < 0 {
		return nil, errors.New("blockgen: negative block count")
	}
	params := &chaincfg.RegressionNetParams
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	step := int64(600)
	first := opts.Start.Unix()
	if opts.Start.IsZero() {
		first = now.Add(-endMargin).Unix() - int64(opts.Blocks)*step
	} else if opts.Blocks > 0 {
		step = (now.Unix() - first) / int64(opts.Blocks+1)
	}
	if step < 1 || first <= params.GenesisBlock.Header.Timestamp.Unix() {
		return nil, fmt.Errorf("blockgen: %d blocks do not fit between %v and %v", opts.Blocks, opts.Start, now)
	}
	target := consensus.U256FromBig(params.PowLimit)
	c := &Chain{}
	prev := *params.GenesisHash
	for h := 1; h <= opts.Blocks; h++ {
		cb, err := coinbase(h, opts.Seed, subsidy(h, params))
		if err != nil {
			return nil, fmt.Errorf("blockgen: block %d: %w", h, err)
		}
		b := &wire.MsgBlock{
			Header: wire.BlockHeader{
				Version:   Version,
				PrevBlock: prev,
				Timestamp: time.Unix(first+int64(h-1)*step, 0),
				Bits:      params.PowLimitBits,
			},
			Transactions: []*wire.MsgTx{cb},
		}
		b.Header.MerkleRoot = merkleRoot(b.Transactions)
		prev = mine(&b.Header, target)
		c.Blocks = append(c.Blocks, b)
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

// coinbase pays value to an anyone-can-spend OP_TRUE output. Its
// script starts with the height (BIP34) and adds the seed so chains of
// different seeds differ from their first block.
func coinbase(h int, seed uint64, value int64) (*wire.MsgTx, error) {
	var tag [8]byte
	binary.LittleEndian.PutUint64(tag[:], seed)
	script, err := txscript.NewScriptBuilder().AddInt64(int64(h)).AddData(tag[:]).Script()
	if err != nil {
		return nil, fmt.Errorf("coinbase script: %w", err)
	}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript:  script,
		Sequence:         wire.MaxTxInSequenceNum,
	})
	tx.AddTxOut(&wire.TxOut{Value: value, PkScript: []byte{txscript.OP_TRUE}})
	return tx, nil
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
