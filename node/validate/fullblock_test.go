package validate

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/blockchain/fullblocktests"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
	"github.com/watchnode/watchnode/node/utxo"
)

// fullBlockParams are the parameters of btcd's fullblocktests chain (its
// params.go): regtest's, but a 2016-block difficulty period with
// retargeting on, and no version-bits deployments, so CSV and segwit never
// activate. node/consensus's fullblock test checks the rest matches.
func fullBlockParams() *consensus.Params {
	p := consensus.ParamsFor(protocol.Regtest)
	p.TargetTimespan = 14 * 24 * 60 * 60
	p.TargetSpacing = 10 * 60
	p.RetargetInterval = int32(p.TargetTimespan / p.TargetSpacing)
	p.NoRetargeting = false
	p.CSVHeight, p.SegwitHeight = math.MaxInt32, math.MaxInt32
	p.PowLimit = consensus.U256FromBig(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(1)))
	return p
}

// ruleFor maps the btcd reject codes that need the UTXO set to the rules
// Connect names.
var ruleFor = map[blockchain.ErrorCode][]string{
	blockchain.ErrMissingTxOut:     {"bad-txns-inputs-missingorspent"},
	blockchain.ErrImmatureSpend:    {"bad-txns-premature-spend-of-coinbase"},
	blockchain.ErrSpendTooHigh:     {"bad-txns-in-belowout", "bad-txns-inputvalues-outofrange"},
	blockchain.ErrBadFees:          {"bad-txns-fee-outofrange", "bad-txns-in-belowout"},
	blockchain.ErrBadCoinbaseValue: {"bad-cb-amount"},
	blockchain.ErrOverwriteTx:      {"bad-txns-BIP30"},
	blockchain.ErrScriptMalformed:  {"mandatory-script-verify-flag-failed"},
	blockchain.ErrScriptValidation: {"mandatory-script-verify-flag-failed"},
	blockchain.ErrTooManySigOps:    {"bad-blk-sigops", "legacy-sigop-limit"},
}

// fbBlock is a block the test node knows: valid so far, or failed.
type fbBlock struct {
	b       *consensus.Block
	height  int32
	parent  *fbBlock
	work    consensus.U256 // cumulative
	seq     int            // arrival order: ties in work keep the first
	failed  bool
	failure error
	undo    *utxo.BlockUndo
}

// fbNode is a minimal full node over Validator, as the engine drives it:
// header and block rules on arrival, then the chain with the most work
// among blocks not failed is connected, reorganizing through Disconnect,
// and a block that fails to connect is marked failed with its
// descendants (Core's ActivateBestChain and InvalidBlockFound).
type fbNode struct {
	t       *testing.T
	p       *consensus.Params
	v       *Validator
	view    MemoryView
	blocks  map[chainhash.Hash]*fbBlock
	tip     *fbBlock
	orphans map[chainhash.Hash][]*wire.MsgBlock
	seq     int
	// expect holds BlockDisconnectExpectUTXO checks by block hash.
	expect   map[chainhash.Hash][]fullblocktests.BlockDisconnectExpectUTXO
	expected int
	now      int64
}

// headerBranchTo returns the headers from the genesis to b.
func headerBranchTo(b *fbBlock) headerBranch {
	br := make(headerBranch, b.height+1)
	for n := b; n != nil; n = n.parent {
		br[n.height] = n.b.Header
	}
	return br
}

// process takes one block as a peer's would arrive, with the orphans
// waiting for it, and returns the failures it caused (rule errors from
// the header, block or connection rules of it or of blocks it led to
// connect).
func (n *fbNode) process(msg *wire.MsgBlock) []error {
	parent, ok := n.blocks[msg.Header.PrevBlock]
	if !ok {
		n.orphans[msg.Header.PrevBlock] = append(n.orphans[msg.Header.PrevBlock], msg)
		return nil
	}
	var raw bytes.Buffer
	if err := msg.Serialize(&raw); err != nil {
		n.t.Fatal(err)
	}
	b, err := consensus.DecodeBlock(raw.Bytes())
	if err != nil {
		return []error{err}
	}
	if _, dup := n.blocks[b.Hash]; dup {
		return nil
	}
	height := parent.height + 1
	anc := headerBranchTo(parent)
	hctx := &consensus.Context{Params: n.p, Height: height, Parent: &anc[height-1], ParentHash: parent.b.Hash, Ancestors: anc, Now: n.now}
	if err := consensus.CheckHeader(hctx, &b.Header, &b.Hash); err != nil {
		return []error{err}
	}
	bctx := &consensus.BlockContext{Params: n.p, Height: height, MedianTimePast: consensus.MedianTimePast(anc, height-1)}
	if err := consensus.CheckBlock(bctx, b); err != nil {
		return []error{err}
	}
	if parent.failed {
		return []error{errors.New("builds on a failed block")}
	}
	n.seq++
	fb := &fbBlock{b: b, height: height, parent: parent, seq: n.seq}
	work := consensus.Work(b.Header.Bits)
	fb.work = parent.work.Add(work)
	n.blocks[b.Hash] = fb
	fails := n.activate()
	waiting := n.orphans[b.Hash]
	delete(n.orphans, b.Hash)
	for _, o := range waiting {
		fails = append(fails, n.process(o)...)
	}
	return fails
}

// failedBranch reports whether b or an ancestor failed.
func failedBranch(b *fbBlock) bool {
	for ; b != nil; b = b.parent {
		if b.failed {
			return true
		}
	}
	return false
}

// activate connects the best valid chain, returning the connection
// failures met on the way.
func (n *fbNode) activate() []error {
	var fails []error
	for {
		var best *fbBlock
		for _, b := range n.blocks {
			if failedBranch(b) {
				continue
			}
			if best == nil || b.work.Cmp(best.work) > 0 || b.work.Cmp(best.work) == 0 && b.seq < best.seq {
				best = b
			}
		}
		if best == n.tip || best.work.Cmp(n.tip.work) <= 0 {
			return fails
		}
		// The fork point, then down to it and up the new branch.
		path := []*fbBlock{}
		onPath := map[*fbBlock]bool{}
		for b := best; b != nil; b = b.parent {
			onPath[b] = true
		}
		for !onPath[n.tip] {
			n.disconnectTip()
		}
		for b := best; b != n.tip; b = b.parent {
			path = append(path, b)
		}
		slices.Reverse(path)
		for _, b := range path {
			res, err := n.v.Connect(n.view, &Block{Block: b.b, Height: b.height, Branch: headerBranchTo(b)})
			if err != nil {
				var re *RuleError
				if !errors.As(err, &re) {
					n.t.Fatalf("connecting %v: %v", b.b.Hash, err)
				}
				b.failed, b.failure = true, err
				fails = append(fails, err)
				break
			}
			b.undo = res.Undo
			n.tip = b
		}
	}
}

func (n *fbNode) disconnectTip() {
	b := n.tip
	clean, err := n.v.Disconnect(n.view, &Block{Block: b.b, Height: b.height}, b.undo)
	if err != nil || !clean {
		n.t.Fatalf("disconnecting %v: clean %v, %v", b.b.Hash, clean, err)
	}
	n.tip = b.parent
	for _, e := range n.expect[b.b.Hash] {
		n.expected++
		if _, ok := n.view[e.OutPoint]; ok != e.Expected {
			n.t.Errorf("%s: after disconnecting %v, output %v unspent = %v, want %v", e.Name, b.b.Hash, e.OutPoint, ok, e.Expected)
		}
	}
	delete(n.expect, b.b.Hash)
}

// onMainChain reports whether hash is the tip or one of its ancestors.
func (n *fbNode) onMainChain(hash chainhash.Hash) bool {
	for b := n.tip; b != nil; b = b.parent {
		if b.b.Hash == hash {
			return true
		}
	}
	return false
}

// TestFullBlockTests runs btcd's fullblocktests through header rules, block
// rules and Connect on a minimal node that reorganizes to the valid chain
// with the most work: each accepted block must be accepted (and on the main
// chain when btcd says so), each rejected one rejected with the rule btcd's
// code corresponds to, each expected tip the tip, each orphan-or-rejected
// block off the main chain, and each output btcd expects after a
// disconnect there (or not). With FULLBLOCK_LARGE_REORG=1 it runs
// Generate(true), which adds a reorg of 1,088 one-megabyte blocks each way
// (about a minute and 3 GB): make test runs it so, without the race
// detector, after the race-enabled run of the rest.
func TestFullBlockTests(t *testing.T) {
	large := os.Getenv("FULLBLOCK_LARGE_REORG") == "1"
	tests, err := fullblocktests.Generate(large)
	if err != nil {
		t.Fatal(err)
	}
	p := fullBlockParams()
	genesis := &consensus.Block{Header: p.Genesis, Hash: p.GenesisHash}
	root := &fbBlock{b: genesis, work: consensus.Work(p.Genesis.Bits)}
	n := &fbNode{t: t, p: p, v: newValidator(t, p), view: MemoryView{}, blocks: map[chainhash.Hash]*fbBlock{p.GenesisHash: root},
		tip: root, orphans: map[chainhash.Hash][]*wire.MsgBlock{}, expect: map[chainhash.Hash][]fullblocktests.BlockDisconnectExpectUTXO{},
		now: time.Now().Unix()}
	var accepted, rejected, tips, orphaned, nonCanonical, expects int
	for _, group := range tests {
		for _, inst := range group {
			switch inst := inst.(type) {
			case fullblocktests.AcceptedBlock:
				accepted++
				fails := n.process(inst.Block)
				hash := inst.Block.BlockHash()
				if inst.IsOrphan {
					if _, ok := n.blocks[hash]; ok {
						t.Errorf("%s: btcd keeps it as an orphan, we connected it", inst.Name)
					}
					continue
				}
				b, ok := n.blocks[hash]
				if !ok || b.failed || len(fails) > 0 && failedBranch(b) {
					t.Errorf("%s (accepted by btcd): known %v, failures %v", inst.Name, ok, fails)
					continue
				}
				if inst.IsMainChain != n.onMainChain(hash) {
					t.Errorf("%s: on the main chain %v, btcd says %v (failures %v)", inst.Name, n.onMainChain(hash), inst.IsMainChain, fails)
				}
			case fullblocktests.RejectedBlock:
				rejected++
				fails := n.process(inst.Block)
				if len(fails) == 0 {
					t.Errorf("%s: btcd rejects it (%v), we accepted it", inst.Name, inst.RejectCode)
					continue
				}
				if want, ok := ruleFor[inst.RejectCode]; ok {
					found := false
					for _, f := range fails {
						var re *RuleError
						var bre *consensus.BlockRuleError
						switch {
						case errors.As(f, &re):
							found = found || slices.Contains(want, re.Rule)
						case errors.As(f, &bre):
							found = found || slices.Contains(want, bre.Rule)
						}
					}
					if !found {
						t.Errorf("%s: btcd rejects it with %v (our %v); we failed: %v", inst.Name, inst.RejectCode, want, fails)
					}
				}
				// btcd reports a block rejected when a descendant it let
				// connect (a waiting orphan) fails: b12 is valid, b14 on
				// it overpays its coinbase. The block itself stays off
				// the main chain unless a failure was another block's.
				hash := inst.Block.BlockHash()
				other := slices.ContainsFunc(fails, func(f error) bool {
					var re *RuleError
					return errors.As(f, &re) && re.Hash != hash
				})
				if n.onMainChain(hash) && !other {
					t.Errorf("%s: rejected by btcd, on our main chain", inst.Name)
				}
			case fullblocktests.OrphanOrRejectedBlock:
				orphaned++
				n.process(inst.Block)
				if n.onMainChain(inst.Block.BlockHash()) {
					t.Errorf("%s: an orphan or rejected block is on our main chain", inst.Name)
				}
			case fullblocktests.ExpectedTip:
				tips++
				if got := n.tip.b.Hash; got != inst.Block.BlockHash() {
					t.Errorf("%s: tip %v at %d, want %v at %d", inst.Name, got, n.tip.height, inst.Block.BlockHash(), inst.Height)
				}
			case fullblocktests.RejectedNonCanonicalBlock:
				nonCanonical++
				if _, err := consensus.DecodeBlock(inst.RawBlock); err == nil {
					t.Errorf("%s: a non-canonical block decodes", inst.Name)
				}
			case fullblocktests.BlockDisconnectExpectUTXO:
				expects++
				n.expect[inst.BlockHash] = append(n.expect[inst.BlockHash], inst)
			default:
				t.Fatalf("unknown instance %T", inst)
			}
		}
	}
	if n.expected != expects {
		t.Errorf("%d of %d expected-UTXO checks ran (their blocks were never disconnected)", n.expected, expects)
	}
	if accepted == 0 || rejected == 0 || tips == 0 || expects == 0 {
		t.Errorf("a kind of instance never came: accepted %d rejected %d tips %d expects %d", accepted, rejected, tips, expects)
	}
	t.Logf("large reorg %v: %d accepted, %d rejected, %d orphan-or-rejected, %d expected tips, %d non-canonical, %d UTXO checks after disconnects; tip %d, %d coins",
		large, accepted, rejected, orphaned, tips, nonCanonical, expects, n.tip.height, len(n.view))
}
