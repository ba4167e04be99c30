package consensus

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// BlockContext is what the block rules know beyond the block: the network,
// the block's height and its parent's median time past. The rules here need
// no UTXO set.
type BlockContext struct {
	Params *Params
	// Height is the block's height (its parent's + 1).
	Height int32
	// MedianTimePast is the median timestamp of the 11 blocks ending at
	// the parent (MedianTimePast(anc, Height-1)): BIP113's finality cutoff
	// once CSV is active.
	MedianTimePast uint32
}

// SegwitActive reports whether BIP141's rules apply at the block's height.
func (ctx *BlockContext) SegwitActive() bool { return ctx.Height >= ctx.Params.SegwitHeight }

// The errors the block rules report, wrapped with details in a
// *BlockRuleError. Each names Bitcoin Core's reject reason in brackets, so
// a log line can be matched with Core's.
var (
	ErrBadMerkleRoot         = errors.New("merkle root does not match the transactions (bad-txnmrklroot)")
	ErrMutatedMerkleTree     = errors.New("merkle tree repeats a pair of hashes (bad-txns-duplicate, CVE-2012-2459)")
	Err64ByteTransaction     = errors.New("a transaction is 64 bytes without witness, the size of a merkle node")
	ErrBadWitnessNonce       = errors.New("coinbase witness is not one 32-byte item (bad-witness-nonce-size)")
	ErrBadWitnessCommitment  = errors.New("witness commitment does not match the witness data (bad-witness-merkle-match)")
	ErrUnexpectedWitness     = errors.New("witness data without a witness commitment or before segwit (unexpected-witness)")
	ErrNoTransactions        = errors.New("block has no transactions (bad-blk-length)")
	ErrBlockTooLarge         = errors.New("block is too large without witness data (bad-blk-length)")
	ErrNoCoinbase            = errors.New("first transaction is not a coinbase (bad-cb-missing)")
	ErrMultipleCoinbases     = errors.New("more than one coinbase (bad-cb-multiple)")
	ErrBadTransaction        = errors.New("transaction is malformed (bad-txns-*)")
	ErrDuplicateTxID         = errors.New("two transactions have the same txid (bad-txns-duplicate)")
	ErrTooManySigOps         = errors.New("too many legacy signature operations (bad-blk-sigops)")
	ErrNonFinalTransaction   = errors.New("transaction is not final (bad-txns-nonfinal)")
	ErrBadCoinbaseHeight     = errors.New("coinbase does not start with the block height (bad-cb-height)")
	ErrBlockWeightAboveLimit = errors.New("block weight is above the limit (bad-blk-weight)")
)

// BlockRuleError says which rule a block broke. Mutated says the failure is
// in the block's bytes rather than in the block the header commits to: the
// peer sent a block that does not match its header, so the peer is to
// blame, the header stays valid and another peer may send the real block.
type BlockRuleError struct {
	Rule    string         // the Name of the broken BlockRule
	Height  int32          // the block's height
	Hash    chainhash.Hash // the block's hash
	Mutated bool           // a MutationRules rule: blame the sender, not the block
	Err     error          // wraps one of the Err* sentinels, with details
}

// Error returns "block <hash> at height H breaks rule <Rule>: <Err>".
func (e *BlockRuleError) Error() string {
	return fmt.Sprintf("block %s at height %d breaks rule %s: %v", e.Hash, e.Height, e.Rule, e.Err)
}

// Unwrap returns Err, so errors.Is(err, ErrBadMerkleRoot) and the like work.
func (e *BlockRuleError) Unwrap() error { return e.Err }

// BlockRule is one named block rule: Check returns nil when b satisfies it
// in ctx and an error wrapping the rule's sentinel otherwise. Checks are
// pure.
type BlockRule struct {
	Name  string
	Check func(ctx *BlockContext, b *Block) error
}

// MutationRules check that a block's transactions and witness data are the
// ones its header commits to (Core's IsBlockMutated). They run first, on
// receipt: a block that breaks one is not the block the header names.
var MutationRules = []BlockRule{
	{"merkle-root", checkMerkleRoot},
	{"merkle-tree-not-mutated", checkMerkleTreeNotMutated},
	{"no-64-byte-transactions", checkNo64ByteTransactions},
	{"witness-commitment", checkWitnessCommitment},
}

// BlockRules are the rules a block the header commits to must satisfy
// without a UTXO set (Core's CheckBlock and ContextualCheckBlock after the
// mutation checks), cheapest first. A block that breaks one is invalid, and
// so are its descendants.
var BlockRules = []BlockRule{
	{"has-transactions", checkHasTransactions},
	{"size-limit", checkSizeLimit},
	{"coinbase-first", checkCoinbaseFirst},
	{"single-coinbase", checkSingleCoinbase},
	{"transactions-well-formed", checkTransactionsWellFormed},
	{"no-duplicate-txids", checkNoDuplicateTxIDs},
	{"legacy-sigop-limit", checkLegacySigOpLimit},
	{"transactions-final", checkTransactionsFinal},
	{"coinbase-height", checkCoinbaseHeight},
	{"weight-limit", checkWeightLimit},
}

// CheckBlockMutation runs MutationRules on b and returns a *BlockRuleError
// with Mutated set for the first one broken, or nil.
func CheckBlockMutation(ctx *BlockContext, b *Block) error {
	return runBlockRules(MutationRules, true, ctx, b)
}

// CheckBlock runs MutationRules and then BlockRules on b and returns a
// *BlockRuleError for the first rule broken, or nil.
func CheckBlock(ctx *BlockContext, b *Block) error {
	if err := CheckBlockMutation(ctx, b); err != nil {
		return err
	}
	return runBlockRules(BlockRules, false, ctx, b)
}

func runBlockRules(rules []BlockRule, mutation bool, ctx *BlockContext, b *Block) error {
	for i := range rules {
		if err := rules[i].Check(ctx, b); err != nil {
			return &BlockRuleError{Rule: rules[i].Name, Height: ctx.Height, Hash: b.Hash, Mutated: mutation, Err: err}
		}
	}
	return nil
}

// checkMerkleRoot: a block's header MUST commit to its transactions: the
// merkle root of the txids MUST equal the header's MerkleRoot.
func checkMerkleRoot(_ *BlockContext, b *Block) error {
	if b.MerkleRoot != b.Header.MerkleRoot {
		return fmt.Errorf("%w: computed %s, header %s", ErrBadMerkleRoot, b.MerkleRoot, b.Header.MerkleRoot)
	}
	return nil
}

// checkMerkleTreeNotMutated: no level of a block's merkle tree MAY pair a
// hash with an equal one, or a block with transactions repeated at its end
// would share the root of the real block.
func checkMerkleTreeNotMutated(_ *BlockContext, b *Block) error {
	if b.MerkleMutated {
		return ErrMutatedMerkleTree
	}
	return nil
}

// checkNo64ByteTransactions: in a block whose first transaction is not a
// coinbase, no transaction MAY be 64 bytes without its witness, the size of
// an inner merkle node: such bytes may be a merkle tree's inner nodes passed
// off as transactions (CVE-2017-12842), so Core's IsBlockMutated calls the
// block mutated, blaming the peer rather than the header. With a coinbase
// first, a 64-byte transaction is valid (only relay policy refuses it), and
// so is the block: a 64-byte coinbase is common at low heights (btcd's
// fullblocktests have 120 such blocks).
func checkNo64ByteTransactions(_ *BlockContext, b *Block) error {
	if txs := b.Msg.Transactions; len(txs) > 0 && IsCoinbase(txs[0]) {
		return nil
	}
	for i, tx := range b.Msg.Transactions {
		if tx.SerializeSizeStripped() == 64 {
			return fmt.Errorf("%w: transaction %d (%s)", Err64ByteTransaction, i, b.TxIDs[i])
		}
	}
	return nil
}

// checkWitnessCommitment: once segwit is active, a block whose coinbase
// carries a witness commitment MUST have a coinbase witness of one 32-byte
// item and a commitment equal to the double SHA-256 of its witness merkle
// root and that item; a block without a commitment, or before segwit, MUST
// NOT carry witness data (BIP141).
func checkWitnessCommitment(ctx *BlockContext, b *Block) error {
	txs := b.Msg.Transactions
	if ctx.SegwitActive() && len(txs) > 0 {
		if at := WitnessCommitment(txs[0]); at >= 0 {
			cb := txs[0].TxIn
			if len(cb) == 0 || len(cb[0].Witness) != 1 || len(cb[0].Witness[0]) != 32 {
				return ErrBadWitnessNonce
			}
			root := WitnessMerkleRoot(b)
			var buf [64]byte
			copy(buf[:32], root[:])
			copy(buf[32:], cb[0].Witness[0])
			want := chainhash.DoubleHashH(buf[:])
			if got := txs[0].TxOut[at].PkScript[len(witnessCommitmentHeader):witnessCommitmentSize]; !bytes.Equal(got, want[:]) {
				return fmt.Errorf("%w: output %d commits to %x, the witness data to %x", ErrBadWitnessCommitment, at, got, want[:])
			}
			return nil
		}
	}
	for i, tx := range txs {
		if tx.HasWitness() {
			return fmt.Errorf("%w: transaction %d (%s)", ErrUnexpectedWitness, i, b.TxIDs[i])
		}
	}
	return nil
}

// checkHasTransactions: a block MUST have at least one transaction.
func checkHasTransactions(_ *BlockContext, b *Block) error {
	if len(b.Msg.Transactions) == 0 {
		return ErrNoTransactions
	}
	return nil
}

// checkSizeLimit: a block without its witness data MUST NOT weigh more than
// MaxBlockWeight at four units a byte (1,000,000 bytes), nor hold more
// transactions than that weight allows at four units each.
func checkSizeLimit(_ *BlockContext, b *Block) error {
	if n := len(b.Msg.Transactions); n*WitnessScaleFactor > MaxBlockWeight {
		return fmt.Errorf("%w: %d transactions", ErrBlockTooLarge, n)
	}
	if b.StrippedSize*WitnessScaleFactor > MaxBlockWeight {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBlockTooLarge, b.StrippedSize, MaxBlockWeight/WitnessScaleFactor)
	}
	return nil
}

// checkCoinbaseFirst: a block's first transaction MUST be a coinbase.
func checkCoinbaseFirst(_ *BlockContext, b *Block) error {
	if !IsCoinbase(b.Msg.Transactions[0]) {
		return ErrNoCoinbase
	}
	return nil
}

// checkSingleCoinbase: no transaction but a block's first MAY be a
// coinbase.
func checkSingleCoinbase(_ *BlockContext, b *Block) error {
	for i, tx := range b.Msg.Transactions[1:] {
		if IsCoinbase(tx) {
			return fmt.Errorf("%w: transaction %d", ErrMultipleCoinbases, i+1)
		}
	}
	return nil
}

// checkTransactionsWellFormed: every transaction of a block MUST pass
// CheckTransaction.
func checkTransactionsWellFormed(_ *BlockContext, b *Block) error {
	for i, tx := range b.Msg.Transactions {
		if err := CheckTransaction(tx); err != nil {
			return fmt.Errorf("transaction %d (%s): %w", i, b.TxIDs[i], err)
		}
	}
	return nil
}

// CheckTransaction checks what a transaction must satisfy on its own (Core's
// CheckTransaction): it MUST have inputs and outputs, weigh no more than a
// block may without witness data, have output values each and together in
// [0, MaxMoney], spend no outpoint twice, and, as a coinbase, have a
// scriptSig of CoinbaseScriptMin to CoinbaseScriptMax bytes, or otherwise
// spend no null outpoint. Errors wrap ErrBadTransaction.
func CheckTransaction(tx *wire.MsgTx) error {
	if len(tx.TxIn) == 0 {
		return fmt.Errorf("%w: no inputs (bad-txns-vin-empty)", ErrBadTransaction)
	}
	if len(tx.TxOut) == 0 {
		return fmt.Errorf("%w: no outputs (bad-txns-vout-empty)", ErrBadTransaction)
	}
	if size := tx.SerializeSizeStripped(); size*WitnessScaleFactor > MaxBlockWeight {
		return fmt.Errorf("%w: %d bytes without witness (bad-txns-oversize)", ErrBadTransaction, size)
	}
	var total int64
	for i, out := range tx.TxOut {
		switch {
		case out.Value < 0:
			return fmt.Errorf("%w: output %d value %d is negative (bad-txns-vout-negative)", ErrBadTransaction, i, out.Value)
		case out.Value > MaxMoney:
			return fmt.Errorf("%w: output %d value %d is above the money supply (bad-txns-vout-toolarge)", ErrBadTransaction, i, out.Value)
		}
		total += out.Value // both at most MaxMoney: no overflow
		if total > MaxMoney {
			return fmt.Errorf("%w: outputs total more than the money supply (bad-txns-txouttotal-toolarge)", ErrBadTransaction)
		}
	}
	if i, j, dup := duplicateInput(tx.TxIn); dup {
		return fmt.Errorf("%w: inputs %d and %d spend the same outpoint (bad-txns-inputs-duplicate)", ErrBadTransaction, i, j)
	}
	if IsCoinbase(tx) {
		if n := len(tx.TxIn[0].SignatureScript); n < CoinbaseScriptMin || n > CoinbaseScriptMax {
			return fmt.Errorf("%w: coinbase script of %d bytes, not %d to %d (bad-cb-length)", ErrBadTransaction, n, CoinbaseScriptMin, CoinbaseScriptMax)
		}
		return nil
	}
	for i, in := range tx.TxIn {
		if isNullOutPoint(&in.PreviousOutPoint) {
			return fmt.Errorf("%w: input %d spends the null outpoint (bad-txns-prevout-null)", ErrBadTransaction, i)
		}
	}
	return nil
}

// smallInputCount is the input count up to which comparing every pair finds
// a duplicate faster than building a set.
const smallInputCount = 16

// duplicateInput returns the indexes of two inputs spending the same
// outpoint, if any.
func duplicateInput(ins []*wire.TxIn) (int, int, bool) {
	if len(ins) <= smallInputCount {
		for i := range ins {
			for j := i + 1; j < len(ins); j++ {
				if ins[i].PreviousOutPoint == ins[j].PreviousOutPoint {
					return i, j, true
				}
			}
		}
		return 0, 0, false
	}
	seen := make(map[wire.OutPoint]int, len(ins))
	for j, in := range ins {
		if i, ok := seen[in.PreviousOutPoint]; ok {
			return i, j, true
		}
		seen[in.PreviousOutPoint] = j
	}
	return 0, 0, false
}

// checkNoDuplicateTxIDs: no two transactions of a block MAY have the same
// txid. (The mutation check catches the repeats that keep the merkle root;
// this catches the rest, which spending rules would reject later anyway.)
func checkNoDuplicateTxIDs(_ *BlockContext, b *Block) error {
	seen := make(map[chainhash.Hash]int, len(b.TxIDs))
	for j, id := range b.TxIDs {
		if i, ok := seen[id]; ok {
			return fmt.Errorf("%w: transactions %d and %d are %s", ErrDuplicateTxID, i, j, id)
		}
		seen[id] = j
	}
	return nil
}

// checkLegacySigOpLimit: the signature operations counted the legacy way
// (every scriptSig and scriptPubKey, CHECKSIG as 1 and CHECKMULTISIG as 20)
// MUST NOT cost more than MaxBlockSigOpsCost at WitnessScaleFactor each.
func checkLegacySigOpLimit(_ *BlockContext, b *Block) error {
	n := 0
	for _, tx := range b.Msg.Transactions {
		n += LegacySigOpCount(tx)
		if n*WitnessScaleFactor > MaxBlockSigOpsCost {
			return fmt.Errorf("%w: more than %d", ErrTooManySigOps, MaxBlockSigOpsCost/WitnessScaleFactor)
		}
	}
	return nil
}

// LegacySigOpCount counts tx's signature operations the legacy way, as
// Core's GetLegacySigOpCount: over every scriptSig and scriptPubKey, with
// txscript's count (which, like Core, stops at a push that overruns the
// script).
func LegacySigOpCount(tx *wire.MsgTx) int {
	n := 0
	for _, in := range tx.TxIn {
		n += txscript.GetSigOpCount(in.SignatureScript)
	}
	for _, out := range tx.TxOut {
		n += txscript.GetSigOpCount(out.PkScript)
	}
	return n
}

// checkTransactionsFinal: every transaction of a block MUST be final at the
// block's height and time, where the time is the parent's median time past
// once CSV is active (BIP113) and the block's timestamp before.
func checkTransactionsFinal(ctx *BlockContext, b *Block) error {
	cutoff := int64(b.Header.Timestamp)
	if ctx.Height >= ctx.Params.CSVHeight {
		cutoff = int64(ctx.MedianTimePast)
	}
	for i, tx := range b.Msg.Transactions {
		if !IsFinalTx(tx, ctx.Height, cutoff) {
			return fmt.Errorf("%w: transaction %d (%s) locked until %d", ErrNonFinalTransaction, i, b.TxIDs[i], tx.LockTime)
		}
	}
	return nil
}

// IsFinalTx reports whether tx may be in a block at height with time
// cutoff (Core's IsFinalTx): its lock time is zero or already passed (read
// as a height below LocktimeThreshold, a unix time from it), or every input
// has the final sequence number.
func IsFinalTx(tx *wire.MsgTx, height int32, cutoff int64) bool {
	if tx.LockTime == 0 {
		return true
	}
	limit := cutoff
	if tx.LockTime < LocktimeThreshold {
		limit = int64(height)
	}
	if int64(tx.LockTime) < limit {
		return true
	}
	for _, in := range tx.TxIn {
		if in.Sequence != wire.MaxTxInSequenceNum {
			return false
		}
	}
	return true
}

// checkCoinbaseHeight: from BIP34Height, a block's coinbase scriptSig MUST
// start with its height pushed as a script number (BIP34; heights 1 to 16
// as OP_1 to OP_16, as Core's CScript() << height).
func checkCoinbaseHeight(ctx *BlockContext, b *Block) error {
	if ctx.Height < ctx.Params.BIP34Height {
		return nil
	}
	want := CoinbaseHeightPrefix(ctx.Height)
	if script := b.Msg.Transactions[0].TxIn[0].SignatureScript; !bytes.HasPrefix(script, want) {
		return fmt.Errorf("%w: want prefix %x, script %x", ErrBadCoinbaseHeight, want, script[:min(len(script), len(want))])
	}
	return nil
}

// CoinbaseHeightPrefix returns the bytes a coinbase scriptSig must start
// with at height under BIP34.
func CoinbaseHeightPrefix(height int32) []byte {
	script, err := txscript.NewScriptBuilder().AddInt64(int64(height)).Script()
	if err != nil { // a single small push cannot fail
		panic(fmt.Sprintf("consensus: coinbase height script: %v", err))
	}
	return script
}

// checkWeightLimit: a block MUST NOT weigh more than MaxBlockWeight.
func checkWeightLimit(_ *BlockContext, b *Block) error {
	if w := b.Weight(); w > MaxBlockWeight {
		return fmt.Errorf("%w: %d, at most %d", ErrBlockWeightAboveLimit, w, MaxBlockWeight)
	}
	return nil
}
