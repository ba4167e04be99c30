package consensus

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/protocol"
)

// blockOf serializes msg and returns it as a Block.
func blockOf(tb testing.TB, msg *wire.MsgBlock) *Block {
	tb.Helper()
	var buf bytes.Buffer
	if err := msg.Serialize(&buf); err != nil {
		tb.Fatal(err)
	}
	b, err := NewBlock(msg, buf.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// recommitted returns msg as a Block after a test changed its transactions:
// the witness commitment (if the coinbase has one and a well-formed nonce)
// and the header's merkle root are recomputed, so the block still matches
// its header and the change reaches the rule under test.
func recommitted(tb testing.TB, msg *wire.MsgBlock) *Block {
	tb.Helper()
	if len(msg.Transactions) > 0 {
		cb := msg.Transactions[0]
		if at := WitnessCommitment(cb); at >= 0 && len(cb.TxIn) == 1 && len(cb.TxIn[0].Witness) == 1 && len(cb.TxIn[0].Witness[0]) == 32 {
			root := WitnessMerkleRoot(blockOf(tb, msg))
			commitment := chainhash.DoubleHashH(append(root[:], cb.TxIn[0].Witness[0]...))
			copy(cb.TxOut[at].PkScript[len(witnessCommitmentHeader):], commitment[:])
		}
	}
	root, _ := MerkleRoot(blockOf(tb, msg).TxIDs)
	msg.Header.MerkleRoot = root
	return blockOf(tb, msg)
}

// spendOf returns a non-coinbase transaction spending outpoint (hash, 0)
// with one output of value, its scripts 2 bytes each: 64 bytes in all.
func spendOf(hash byte, value int64) *wire.MsgTx {
	tx := wire.NewMsgTx(1)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{hash}}, SignatureScript: []byte{0x51, 0x51}, Sequence: wire.MaxTxInSequenceNum})
	tx.AddTxOut(&wire.TxOut{Value: value, PkScript: []byte{0x51, 0x51}})
	return tx
}

// TestEachBlockRuleCatchesItsBreach breaks each block rule in a real block
// (block 830,000 with segwit and BIP34 active; block 170, the first with a
// spend, before both) and checks that the first rule to fail is that one,
// with its sentinel, and that only the mutation rules blame the sender.
func TestEachBlockRuleCatchesItsBreach(t *testing.T) {
	segwitCtx, segwitBlock := block830000(t)
	blocks := mainnetdata.BtcdBlocks(t)
	headers := mainnetHeaders(t, "headers-000000-014131.bin")
	oldCtx := &BlockContext{Params: ParamsFor(protocol.Mainnet), Height: 170,
		MedianTimePast: MedianTimePast(sliceAncestors{hs: headers}, 169)}
	oldBlock := decodeBlock(t, blocks[170])
	if len(oldBlock.Msg.Transactions) != 2 {
		t.Fatalf("block 170 has %d transactions, want 2", len(oldBlock.Msg.Transactions))
	}
	// A witness transaction of block 830,000, to change witness data in.
	witnessTx := -1
	for i, tx := range segwitBlock.Msg.Transactions[1:] {
		if len(tx.TxIn[0].Witness) > 0 {
			witnessTx = i + 1
			break
		}
	}

	cases := []struct {
		name    string
		segwit  bool // start from block 830,000, else block 170
		change  func(m *wire.MsgBlock, ctx *BlockContext) *Block
		rule    string
		err     error
		detail  string // a part of the message, for rules with several breaches
		mutated bool
	}{
		{name: "merkle root changed", segwit: true, rule: "merkle-root", err: ErrBadMerkleRoot, mutated: true,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Header.MerkleRoot[0] ^= 1
				return blockOf(t, m)
			}},
		{name: "last transaction repeated (CVE-2012-2459)", segwit: true, rule: "merkle-tree-not-mutated", err: ErrMutatedMerkleTree, mutated: true,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				// 1,851 transactions: an odd level, so the root is unchanged.
				m.Transactions = append(m.Transactions, m.Transactions[len(m.Transactions)-1])
				return blockOf(t, m)
			}},
		{name: "a 64-byte transaction in place of the coinbase", rule: "no-64-byte-transactions", err: Err64ByteTransaction, mutated: true,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[0] = spendOf(7, 1)
				return recommitted(t, m)
			}},
		{name: "coinbase witness of 31 bytes", segwit: true, rule: "witness-commitment", err: ErrBadWitnessNonce, mutated: true,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[0].TxIn[0].Witness[0] = make([]byte, 31)
				return blockOf(t, m)
			}},
		{name: "witness data changed", segwit: true, rule: "witness-commitment", err: ErrBadWitnessCommitment, mutated: true,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				w := m.Transactions[witnessTx].TxIn[0].Witness
				w[len(w)-1] = append([]byte{0}, w[len(w)-1]...)
				return blockOf(t, m)
			}},
		{name: "witness data before segwit", segwit: true, rule: "witness-commitment", err: ErrUnexpectedWitness, mutated: true,
			change: func(m *wire.MsgBlock, ctx *BlockContext) *Block {
				ctx.Height = ctx.Params.SegwitHeight - 1
				return blockOf(t, m)
			}},
		{name: "witness data without a commitment", segwit: true, rule: "witness-commitment", err: ErrUnexpectedWitness, mutated: true,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				cb := m.Transactions[0]
				cb.TxOut = append(cb.TxOut[:WitnessCommitment(cb)], cb.TxOut[WitnessCommitment(cb)+1:]...)
				return recommitted(t, m)
			}},
		{name: "no transactions", rule: "has-transactions", err: ErrNoTransactions,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions = nil
				return recommitted(t, m)
			}},
		{name: "over 1,000,000 bytes without witness", segwit: true, rule: "size-limit", err: ErrBlockTooLarge,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				big := spendOf(9, 1)
				big.TxOut[0].PkScript = make([]byte, 1_000_000)
				m.Transactions = append(m.Transactions, big)
				return recommitted(t, m)
			}},
		{name: "coinbase second", rule: "coinbase-first", err: ErrNoCoinbase,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[0], m.Transactions[1] = m.Transactions[1], m.Transactions[0]
				return recommitted(t, m)
			}},
		{name: "two coinbases", rule: "single-coinbase", err: ErrMultipleCoinbases,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[1].TxIn = m.Transactions[1].TxIn[:1]
				m.Transactions[1].TxIn[0].PreviousOutPoint = wire.OutPoint{Index: wire.MaxPrevOutIndex}
				return recommitted(t, m)
			}},
		{name: "no inputs", rule: "transactions-well-formed", err: ErrBadTransaction, detail: "bad-txns-vin-empty",
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[1].TxIn = nil
				return recommitted(t, m)
			}},
		{name: "no outputs", rule: "transactions-well-formed", err: ErrBadTransaction, detail: "bad-txns-vout-empty",
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[1].TxOut = nil
				return recommitted(t, m)
			}},
		{name: "a negative output", rule: "transactions-well-formed", err: ErrBadTransaction, detail: "bad-txns-vout-negative",
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[1].TxOut[0].Value = -1
				return recommitted(t, m)
			}},
		{name: "an output above the money supply", rule: "transactions-well-formed", err: ErrBadTransaction, detail: "bad-txns-vout-toolarge",
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[1].TxOut[0].Value = MaxMoney + 1
				return recommitted(t, m)
			}},
		{name: "outputs together above the money supply", rule: "transactions-well-formed", err: ErrBadTransaction, detail: "bad-txns-txouttotal-toolarge",
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[1].TxOut[0].Value = MaxMoney
				m.Transactions[1].TxOut[1].Value = 1
				return recommitted(t, m)
			}},
		{name: "an outpoint spent twice", rule: "transactions-well-formed", err: ErrBadTransaction, detail: "bad-txns-inputs-duplicate",
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				in := *m.Transactions[1].TxIn[0]
				m.Transactions[1].TxIn = append(m.Transactions[1].TxIn, &in)
				return recommitted(t, m)
			}},
		{name: "an outpoint spent twice among many inputs", rule: "transactions-well-formed", err: ErrBadTransaction, detail: "bad-txns-inputs-duplicate",
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				tx := m.Transactions[1]
				for i := range smallInputCount + 5 {
					tx.TxIn = append(tx.TxIn, &wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{byte(i + 1)}}})
				}
				in := *tx.TxIn[3]
				tx.TxIn = append(tx.TxIn, &in)
				return recommitted(t, m)
			}},
		{name: "a spend of the null outpoint", rule: "transactions-well-formed", err: ErrBadTransaction, detail: "bad-txns-prevout-null",
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				tx := m.Transactions[1]
				tx.TxIn = append(tx.TxIn, &wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex}})
				return recommitted(t, m)
			}},
		{name: "a coinbase script of 1 byte", rule: "transactions-well-formed", err: ErrBadTransaction, detail: "bad-cb-length",
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[0].TxIn[0].SignatureScript = []byte{0x51}
				return recommitted(t, m)
			}},
		{name: "a coinbase script of 101 bytes", rule: "transactions-well-formed", err: ErrBadTransaction, detail: "bad-cb-length",
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions[0].TxIn[0].SignatureScript = make([]byte, 101)
				return recommitted(t, m)
			}},
		{name: "a transaction twice, apart", segwit: true, rule: "no-duplicate-txids", err: ErrDuplicateTxID,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				m.Transactions = append(m.Transactions, m.Transactions[1])
				return recommitted(t, m)
			}},
		{name: "20,001 legacy sigops", rule: "legacy-sigop-limit", err: ErrTooManySigOps,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				tx := spendOf(8, 1)
				tx.TxOut[0].PkScript = bytes.Repeat([]byte{0xac}, MaxBlockSigOpsCost/WitnessScaleFactor+1) // OP_CHECKSIG
				m.Transactions = append(m.Transactions, tx)
				return recommitted(t, m)
			}},
		{name: "locked until its own height", rule: "transactions-final", err: ErrNonFinalTransaction,
			change: func(m *wire.MsgBlock, ctx *BlockContext) *Block {
				m.Transactions[1].LockTime = uint32(ctx.Height)
				m.Transactions[1].TxIn[0].Sequence = 0
				return recommitted(t, m)
			}},
		{name: "locked until after the median time past", segwit: true, rule: "transactions-final", err: ErrNonFinalTransaction,
			change: func(m *wire.MsgBlock, ctx *BlockContext) *Block {
				// Before the block's own time but not before the median
				// time past: BIP113 makes it non-final.
				m.Transactions[1].LockTime = ctx.MedianTimePast
				m.Transactions[1].TxIn[0].Sequence = 0
				return recommitted(t, m)
			}},
		{name: "the height of another block", segwit: true, rule: "coinbase-height", err: ErrBadCoinbaseHeight,
			change: func(m *wire.MsgBlock, ctx *BlockContext) *Block {
				ctx.Height++
				return blockOf(t, m)
			}},
		{name: "witness data over the weight limit", segwit: true, rule: "weight-limit", err: ErrBlockWeightAboveLimit,
			change: func(m *wire.MsgBlock, _ *BlockContext) *Block {
				w := m.Transactions[witnessTx].TxIn[0].Witness
				m.Transactions[witnessTx].TxIn[0].Witness = append(w, make([]byte, 1_000_000))
				return recommitted(t, m)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base, ctx := oldBlock, *oldCtx
			if c.segwit {
				base, ctx = segwitBlock, *segwitCtx
			}
			b := c.change(base.Msg.Copy(), &ctx)
			err := CheckBlock(&ctx, b)
			var re *BlockRuleError
			if !errors.As(err, &re) {
				t.Fatalf("CheckBlock: %v, want a *BlockRuleError", err)
			}
			if re.Rule != c.rule || !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("broke %q (%v), want %q (%v, %q)", re.Rule, err, c.rule, c.err, c.detail)
			}
			if re.Mutated != c.mutated || re.Hash != b.Hash || re.Height != ctx.Height {
				t.Fatalf("mutated %v hash %s height %d, want %v %s %d", re.Mutated, re.Hash, re.Height, c.mutated, b.Hash, ctx.Height)
			}
			if mErr := CheckBlockMutation(&ctx, b); (mErr != nil) != c.mutated {
				t.Fatalf("CheckBlockMutation: %v, want an error: %v", mErr, c.mutated)
			}
		})
	}
	// The cases' blocks are copies: the originals still pass.
	if err := CheckBlock(segwitCtx, segwitBlock); err != nil {
		t.Fatal(err)
	}
	if err := CheckBlock(oldCtx, oldBlock); err != nil {
		t.Fatal(err)
	}
}

// TestCheckTransactionOversize: a transaction over a block's weight
// without witness data is malformed on its own (in a block, the block's own
// size limit fails first).
func TestCheckTransactionOversize(t *testing.T) {
	tx := spendOf(9, 1)
	tx.TxOut[0].PkScript = make([]byte, MaxBlockWeight/WitnessScaleFactor)
	if err := CheckTransaction(tx); !errors.Is(err, ErrBadTransaction) || !strings.Contains(err.Error(), "bad-txns-oversize") {
		t.Fatalf("CheckTransaction: %v, want bad-txns-oversize", err)
	}
	tx.TxOut[0].PkScript = tx.TxOut[0].PkScript[:MaxBlockWeight/WitnessScaleFactor-100]
	if err := CheckTransaction(tx); err != nil {
		t.Fatalf("a transaction under the limit: %v", err)
	}
}

// TestBlockRulesAreNamedOnce: every rule has a distinct, non-empty name, as
// failure records and logs name them.
func TestBlockRulesAreNamedOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range append(append([]BlockRule(nil), MutationRules...), BlockRules...) {
		if r.Name == "" || seen[r.Name] || r.Check == nil {
			t.Fatalf("rule %q is unnamed, repeated or empty", r.Name)
		}
		seen[r.Name] = true
	}
}

// TestSixtyFourByteTransactionAfterACoinbaseIsValid: with a coinbase first,
// a 64-byte transaction is valid (Core checks their size only in a block
// without a coinbase first); a block of btcd's fullblocktests at a low
// height has a 64-byte coinbase itself.
func TestSixtyFourByteTransactionAfterACoinbaseIsValid(t *testing.T) {
	ctx, b := block830000(t)
	m := b.Msg
	m.Transactions = append(m.Transactions, spendOf(7, 1))
	if err := CheckBlockMutation(ctx, recommitted(t, m)); err != nil {
		t.Fatalf("a 64-byte transaction after the coinbase: %v, want no mutation", err)
	}
}
