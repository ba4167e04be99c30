package validate

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/script"
	"github.com/watchnode/watchnode/node/utxo"
)

// CoinbaseMaturity is how many blocks a coinbase's outputs wait before
// they may be spent (Core's COINBASE_MATURITY).
const CoinbaseMaturity = 100

// bip34ImpliesBIP30Limit is the first height at which a coinbase could
// repeat an earlier one's txid despite BIP34 (its height prefix, read as a
// pre-BIP34 coinbase's script, matches block 490,897's), so BIP30 is
// checked again from there (Core's BIP34_IMPLIES_BIP30_LIMIT).
const bip34ImpliesBIP30Limit = 1_983_702

// bip30Exceptions are the two mainnet blocks whose coinbases repeat
// earlier coinbases' txids, overwriting their unspent outputs; Core lets
// them (IsBIP30Repeat) and so must we.
var bip30Exceptions = map[int32]string{
	91_842: "00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec",
	91_880: "00000000000743f190a18c5577a3c2d2a1f610ae9601ac046a38084ccb7cd721",
}

// Branch is what connecting a block needs of the header chain it is on.
type Branch interface {
	// HashAt returns the hash of the block's ancestor at height.
	HashAt(height int32) chainhash.Hash
	// MedianTimePastAt returns the median time past of the ancestor at
	// height: the median of its and its ten predecessors' timestamps.
	MedianTimePastAt(height int32) uint32
}

// Block is a block to connect: its rules-form (hashes computed), height and
// branch.
type Block struct {
	*consensus.Block
	Height int32
	Branch Branch
	// SkipScripts leaves the scripts unverified: the block is an
	// ancestor of the assumed-valid block (Core's -assumevalid). Every
	// other rule still runs.
	SkipScripts bool
	// Passed, when set, is told each stage of Connect as it ends, for a
	// caller that times them (Connect itself reads no clock).
	Passed func(Stage)
}

// Stage is a point Connect passes.
type Stage int

// Connect's stages, in order: every rule but scripts checked (the inputs
// fetched and spent in the staging overlay), then the scripts verified.
const (
	StageInputs Stage = iota
	StageScripts
)

func (b *Block) passed(s Stage) {
	if b.Passed != nil {
		b.Passed(s)
	}
}

// Result is what connecting a block did.
type Result struct {
	// Undo holds the coins the block spent, for disconnecting it.
	Undo *utxo.BlockUndo
	// Fees is the sum of the block's fees, Inputs the inputs it spent,
	// ScriptsChecked the inputs whose scripts were verified.
	Fees           int64
	Inputs         int
	ScriptsChecked int
	// Created is the number of outputs added to the set (unspendable
	// ones are not), Spent the coins taken out.
	Created, Spent int
}

// Validator connects and disconnects blocks on a View.
type Validator struct {
	// Params are the network's consensus parameters.
	Params *consensus.Params
	// Scripts verifies inputs on its worker pool.
	Scripts *script.Verifier
}

// fail builds a *RuleError for b; txIndex and input are -1 when the rule
// concerns the block or the transaction as a whole.
func fail(b *Block, rule string, txIndex, input int, prev wire.OutPoint, err error, format string, args ...any) *RuleError {
	e := &RuleError{Rule: rule, Height: b.Height, Hash: b.Hash, TxIndex: txIndex, Input: input, Prevout: prev, Err: err}
	if txIndex >= 0 {
		e.TxID = b.TxIDs[txIndex]
	}
	if format != "" {
		e.Err = fmt.Errorf("%w: "+format, append([]any{err}, args...)...)
	}
	return e
}

// isUnspendable reports whether an output can never be spent, so it is
// never put in the set (Core's CScript::IsUnspendable): its script starts
// with OP_RETURN or is longer than any script may be.
func isUnspendable(pkScript []byte) bool {
	return len(pkScript) > 0 && pkScript[0] == txscript.OP_RETURN || len(pkScript) > txscript.MaxScriptSize
}

// enforceBIP30 reports whether b's transactions must be checked for
// overwriting unspent outputs (Core's ConnectBlock): always, except for the
// two historic repeats, and except on a chain through the recorded BIP34
// block below bip34ImpliesBIP30Limit, where BIP34's height prefix makes
// coinbases unique.
func (v *Validator) enforceBIP30(b *Block) bool {
	if h, ok := bip30Exceptions[b.Height]; ok && v.Params.Network == "mainnet" && b.Hash.String() == h {
		return false
	}
	if b.Height >= bip34ImpliesBIP30Limit {
		return true
	}
	var zero chainhash.Hash
	if v.Params.BIP34Hash != zero && b.Height > v.Params.BIP34Height && b.Branch.HashAt(v.Params.BIP34Height) == v.Params.BIP34Hash {
		return false
	}
	return true
}

// Connect applies b to view, which must reflect b's parent, after checking
// every rule that needs the UTXO set (Core's ConnectBlock after
// CheckBlock): no overwritten unspent outputs (BIP30), every input spends
// an existing unspent output, coinbase outputs only after 100 blocks,
// values in range, fees not negative, BIP68 relative lock times once CSV
// is active, at most 80,000 sigop cost, a coinbase claiming at most
// subsidy and fees, and then every script. The block's UTXO-free rules
// (node/consensus) must have passed already. It is Begin then Finish.
//
// On a broken rule it returns a *RuleError and view is unchanged; on an
// error of view it returns that error and view may hold part of the block
// (a *utxo.Store then refuses further writes, and its disk keeps the last
// flush).
func (v *Validator) Connect(view View, b *Block) (*Result, error) {
	p, err := v.Begin(view, b)
	if err != nil {
		return nil, err
	}
	return p.Finish()
}

// Pending is a block that passed every rule but its scripts, whose
// scripts are being verified on the Verifier's workers. Its changes wait in
// an overlay: View shows the set as it will be once the block is finished,
// so the next block's inputs can be fetched and checked (Begin on that
// View) while the workers verify this block's scripts.
type Pending struct {
	b     *Block
	ov    *overlay
	res   *Result
	check *script.Check // nil when no script is verified
}

// View is the set as it will be once p is finished: the view to begin the
// next block on.
func (p *Pending) View() View { return p.ov }

// Finish waits for p's scripts. If they pass, p's changes are written to
// the view given to Begin and the block's Result is returned; if one
// fails, a *RuleError, that view is unchanged and p's changes are dropped
// (a block begun on p's View can then only be abandoned). Blocks must be
// finished in the order they were begun: a block begun on p's View after
// p, which a Finish out of order refuses with an error.
func (p *Pending) Finish() (*Result, error) {
	if p.ov.committed || p.ov.dropped {
		// Finished or abandoned already: its check, if any, was
		// canceled, and its end is no verdict on the block.
		return nil, errOverlayDone
	}
	if _, waiting := p.ov.target().(*overlay); waiting {
		return nil, errors.New("finishing a block before the block it was begun on")
	}
	b := p.b
	if p.check != nil {
		if err := p.check.Wait(); err != nil {
			e := fail(b, "mandatory-script-verify-flag-failed", -1, -1, wire.OutPoint{}, ErrScript, "%v", err)
			if ie, ok := err.(*script.InputError); ok {
				e.TxIndex, e.TxID, e.Input, e.Prevout = ie.TxIndex, ie.TxID, ie.Input, ie.Prevout
			}
			p.ov.abandon()
			return nil, e
		}
		p.res.ScriptsChecked = p.res.Inputs
	}
	b.passed(StageScripts)
	if err := p.ov.commit(); err != nil {
		return nil, err
	}
	return p.res, nil
}

// Abandon stops p's scripts and drops its changes: the view given to
// Begin is left as it was. Blocks begun on p's View must be abandoned too.
func (p *Pending) Abandon() {
	if p.check != nil {
		p.check.Cancel()
		// The workers read the block and its prevouts until the check
		// ends; Cancel makes that prompt.
		p.check.Wait()
	}
	p.ov.abandon()
}

// Begin checks every rule of Connect but the scripts against view, which
// must reflect b's parent (the set, or the View of the Pending block
// before b), starts b's scripts on the worker pool and returns at once.
// On a broken rule it returns a *RuleError and nothing was changed.
func (v *Validator) Begin(view View, b *Block) (*Pending, error) {
	txs := b.Msg.Transactions
	var none wire.OutPoint
	flags := script.Flags(v.Params, b.Height, b.Hash)
	res := &Result{Undo: &utxo.BlockUndo{Txs: make([]utxo.TxUndo, 0, len(txs)-1)}}

	if v.enforceBIP30(b) {
		for i, tx := range txs {
			for o := range tx.TxOut {
				op := wire.OutPoint{Hash: b.TxIDs[i], Index: uint32(o)}
				if _, ok, err := view.Get(op); err != nil {
					return nil, err
				} else if ok {
					return nil, fail(b, "bad-txns-BIP30", i, -1, none, ErrBIP30, "output %d is unspent already", o)
				}
			}
		}
	}

	// Every input spends and every output adds: sizing the overlay for
	// all of them up front spares its map and change list their growth.
	changes := 0
	for _, tx := range txs {
		changes += len(tx.TxIn) + len(tx.TxOut)
	}
	ov := newOverlay(view, changes)
	prevouts := make([][]*wire.TxOut, len(txs))
	csv := b.Height >= v.Params.CSVHeight
	var prevMTP uint32
	if csv {
		prevMTP = b.Branch.MedianTimePastAt(b.Height - 1)
	}
	sigOpCost := 0
	for i, tx := range txs {
		coinbase := i == 0
		if !coinbase {
			var in int64
			undo := utxo.TxUndo{Spent: make([]utxo.Coin, len(tx.TxIn))}
			outs := make([]*wire.TxOut, len(tx.TxIn))
			for j, txIn := range tx.TxIn {
				prev := txIn.PreviousOutPoint
				c, ok, err := ov.Spend(prev)
				if err != nil {
					return nil, err
				}
				if !ok {
					return nil, fail(b, "bad-txns-inputs-missingorspent", i, j, prev, ErrMissingInput, "")
				}
				if c.Coinbase && b.Height-c.Height < CoinbaseMaturity {
					return nil, fail(b, "bad-txns-premature-spend-of-coinbase", i, j, prev, ErrImmatureCoinbase,
						"coinbase of height %d spent at depth %d", c.Height, b.Height-c.Height)
				}
				if c.Out.Value < 0 || c.Out.Value > consensus.MaxMoney || in+c.Out.Value > consensus.MaxMoney {
					return nil, fail(b, "bad-txns-inputvalues-outofrange", i, j, prev, ErrInputValueRange, "")
				}
				in += c.Out.Value
				undo.Spent[j] = c
				outs[j] = &undo.Spent[j].Out
			}
			var out int64
			for _, o := range tx.TxOut {
				out += o.Value // CheckTransaction bounded each and the sum
			}
			if in < out {
				return nil, fail(b, "bad-txns-in-belowout", i, -1, none, ErrInputsBelowOutputs, "in %d, out %d", in, out)
			}
			fee := in - out
			if res.Fees+fee > consensus.MaxMoney {
				return nil, fail(b, "bad-txns-fee-outofrange", i, -1, none, ErrFeeRange, "")
			}
			res.Fees += fee
			if csv {
				if j, ok := sequenceLocksMet(tx, undo.Spent, b, prevMTP); !ok {
					return nil, fail(b, "bad-txns-nonfinal", i, j, tx.TxIn[j].PreviousOutPoint, ErrSequenceLock, "")
				}
			}
			prevouts[i] = outs
			res.Undo.Txs = append(res.Undo.Txs, undo)
			res.Inputs += len(tx.TxIn)
			res.Spent += len(tx.TxIn)
		}
		sigOpCost += script.SigOpCost(tx, prevouts[i], flags)
		if sigOpCost > consensus.MaxBlockSigOpsCost {
			return nil, fail(b, "bad-blk-sigops", i, -1, none, ErrTooManySigOps, "cost %d", sigOpCost)
		}
		for o, out := range tx.TxOut {
			if isUnspendable(out.PkScript) {
				continue
			}
			op := wire.OutPoint{Hash: b.TxIDs[i], Index: uint32(o)}
			// A coinbase may overwrite: BIP30's two historic repeats.
			// Anything else overwriting was refused by BIP30 above or
			// is made impossible by BIP34 (Core's AddCoins).
			if err := ov.Add(op, utxo.Coin{Out: *out, Height: b.Height, Coinbase: coinbase}, coinbase); err != nil {
				return nil, fail(b, "bad-txns-BIP30", i, -1, none, ErrBIP30, "output %d: %v", o, err)
			}
			res.Created++
		}
	}

	var claimed int64
	for _, o := range txs[0].TxOut {
		claimed += o.Value
	}
	if allowed := Subsidy(b.Height, v.Params.SubsidyHalvingInterval) + res.Fees; claimed > allowed {
		return nil, fail(b, "bad-cb-amount", 0, -1, none, ErrCoinbaseTooHigh, "claims %d, allowed %d", claimed, allowed)
	}

	b.passed(StageInputs)
	p := &Pending{b: b, ov: ov, res: res}
	if !b.SkipScripts && res.Inputs > 0 {
		p.check = v.Scripts.Start(b.Block, prevouts, flags)
	}
	return p, nil
}
