package validate

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
	"github.com/watchnode/watchnode/node/utxo"
)

var fixedNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// generated is a regtest chain spending every output kind blockgen makes
// (P2PK, P2PKH, P2SH multisig, P2WPKH, P2WSH, P2TR key and script path).
func generated(tb testing.TB) *blockgen.Chain {
	tb.Helper()
	c, err := blockgen.Generate(blockgen.Options{Seed: 11, Blocks: 140, TxPerBlock: 12, Now: fixedNow})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// copyBlock deep-copies msg so a test can change it.
func copyBlock(tb testing.TB, msg *wire.MsgBlock) *wire.MsgBlock {
	tb.Helper()
	var buf bytes.Buffer
	if err := msg.Serialize(&buf); err != nil {
		tb.Fatal(err)
	}
	var c wire.MsgBlock
	if err := c.Deserialize(&buf); err != nil {
		tb.Fatal(err)
	}
	return &c
}

// kindOf names the script kind of a spent output, for choosing inputs.
func kindOf(pk []byte) string {
	switch {
	case len(pk) == 34 && pk[0] == txscript.OP_1:
		return "p2tr"
	case len(pk) == 34 && pk[0] == txscript.OP_0:
		return "p2wsh"
	case len(pk) == 22 && pk[0] == txscript.OP_0:
		return "p2wpkh"
	case len(pk) == 23 && pk[0] == txscript.OP_HASH160:
		return "p2sh"
	case len(pk) == 25 && pk[0] == txscript.OP_DUP:
		return "p2pkh"
	case len(pk) > 0 && pk[len(pk)-1] == txscript.OP_CHECKSIG:
		return "p2pk"
	}
	return "other"
}

// TestGeneratedChain connects a generated chain with every script kind,
// each signature verified, then disconnects it back to the genesis: the set
// must be empty again.
func TestGeneratedChain(t *testing.T) {
	chain := generated(t)
	view := MemoryView{}
	c := newTestChain(t, consensus.ParamsFor(protocol.Regtest), view)
	kinds := map[string]int{}
	scripts := 0
	for i, msg := range chain.Blocks {
		b := encode(t, msg)
		for _, tx := range msg.Transactions[1:] {
			for _, in := range tx.TxIn {
				if coin, ok := view[in.PreviousOutPoint]; ok {
					kinds[kindOf(coin.Out.PkScript)]++
				}
			}
		}
		res := c.mustConnect(b, false)
		scripts += res.ScriptsChecked
		if i == len(chain.Blocks)-1 && res.Fees <= 0 {
			t.Errorf("last block's fees %d", res.Fees)
		}
	}
	for _, k := range []string{"p2pk", "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr"} {
		if kinds[k] == 0 {
			t.Errorf("no %s output spent (%v)", k, kinds)
		}
	}
	t.Logf("%d scripts verified; inputs by kind %v; %d coins", scripts, kinds, len(view))
	for len(c.headers) > 1 {
		c.disconnectTip()
	}
	if len(view) != 0 {
		t.Errorf("%d coins left after disconnecting everything", len(view))
	}
}

// brokenCase is a copy of a block breaking one rule Connect checks, with
// the rule, transaction and input it must be blamed on (tx -2: the last
// transaction).
type brokenCase struct {
	name, rule string
	tx, input  int
	sentinel   error
	block      *wire.MsgBlock
}

// brokenLastBlocks connects the generated chain but its last block on a
// MemoryView and returns the chain, the view and a broken copy of the last
// block per rule (each resealed: merkle root, witness commitment and proof
// of work redone, so only the broken rule differs).
func brokenLastBlocks(t *testing.T) (*testChain, *blockgen.Chain, []brokenCase) {
	chain := generated(t)
	p := consensus.ParamsFor(protocol.Regtest)
	view := MemoryView{}
	c := newTestChain(t, p, view)
	last := len(chain.Blocks) - 1
	for _, msg := range chain.Blocks[:last] {
		c.mustConnect(encode(t, msg), true)
	}
	lastMsg := chain.Blocks[last]
	res, err := c.v.Connect(cloneView(view), c.block(encode(t, lastMsg), false))
	if err != nil {
		t.Fatalf("the unchanged last block: %v", err)
	}
	fees := res.Fees
	height := int32(len(c.headers))

	// inputOfKind finds a spend in the last block of an output of kind.
	inputOfKind := func(kind string) (int, int) {
		for i, tx := range lastMsg.Transactions[1:] {
			for j, in := range tx.TxIn {
				if coin, ok := view[in.PreviousOutPoint]; ok && kindOf(coin.Out.PkScript) == kind {
					return i + 1, j
				}
			}
		}
		t.Fatalf("the last block spends no %s output", kind)
		return 0, 0
	}
	flipSig := func(tx *wire.MsgTx, j int) {
		in := tx.TxIn[j]
		if len(in.Witness) > 0 {
			// The first signature: P2WSH multisig starts with
			// CHECKMULTISIG's empty dummy item.
			for _, item := range in.Witness {
				if len(item) > 8 {
					item[4] ^= 1
					return
				}
			}
		} else {
			in.SignatureScript[6] ^= 1
		}
	}
	var cases []brokenCase
	add := func(name, rule string, tx, input int, sentinel error, mutate func(m *wire.MsgBlock)) {
		m := copyBlock(t, lastMsg)
		mutate(m)
		blockgen.Reseal(m)
		cases = append(cases, brokenCase{name, rule, tx, input, sentinel, m})
	}
	add("double spend within the block", "bad-txns-inputs-missingorspent", -2, 0, ErrMissingInput, func(m *wire.MsgBlock) {
		dup := m.Transactions[1].Copy()
		dup.TxOut[0].Value--
		m.Transactions = append(m.Transactions, dup)
	})
	add("spend of a missing output", "bad-txns-inputs-missingorspent", 1, 0, ErrMissingInput, func(m *wire.MsgBlock) {
		m.Transactions[1].TxIn[0].PreviousOutPoint.Index = 999
	})
	add("immature coinbase spend", "bad-txns-premature-spend-of-coinbase", 1, 0, ErrImmatureCoinbase, func(m *wire.MsgBlock) {
		young := chain.Blocks[last-5].Transactions[0]
		m.Transactions[1].TxIn[0].PreviousOutPoint = wire.OutPoint{Hash: young.TxHash(), Index: 0}
	})
	add("outputs above inputs", "bad-txns-in-belowout", 1, -1, ErrInputsBelowOutputs, func(m *wire.MsgBlock) {
		m.Transactions[1].TxOut[0].Value += 50 * 100_000_000
	})
	add("coinbase above subsidy and fees", "bad-cb-amount", 0, -1, ErrCoinbaseTooHigh, func(m *wire.MsgBlock) {
		var others int64
		for _, o := range m.Transactions[0].TxOut[1:] {
			others += o.Value
		}
		m.Transactions[0].TxOut[0].Value = Subsidy(height, p.SubsidyHalvingInterval) + fees + 1 - others
	})
	add("unmet BIP68 height lock", "bad-txns-nonfinal", 1, 0, ErrSequenceLock, func(m *wire.MsgBlock) {
		m.Transactions[1].Version = 2
		m.Transactions[1].TxIn[0].Sequence = 1000
	})
	add("unmet BIP68 time lock", "bad-txns-nonfinal", 1, 0, ErrSequenceLock, func(m *wire.MsgBlock) {
		m.Transactions[1].Version = 2
		m.Transactions[1].TxIn[0].Sequence = sequenceTimeFlag | 0xffff
	})
	add("too many sigops", "bad-blk-sigops", 0, -1, ErrTooManySigOps, func(m *wire.MsgBlock) {
		m.Transactions[0].TxOut = append([]*wire.TxOut{wire.NewTxOut(0, bytes.Repeat([]byte{txscript.OP_CHECKSIG}, consensus.MaxBlockSigOpsCost/4+1))}, m.Transactions[0].TxOut...)
	})
	for _, kind := range []string{"p2pk", "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr"} {
		i, j := inputOfKind(kind)
		add("bad "+kind+" signature", "mandatory-script-verify-flag-failed", i, j, ErrScript, func(m *wire.MsgBlock) { flipSig(m.Transactions[i], j) })
	}
	return c, chain, cases
}

// TestGeneratedChainRejects breaks each rule Connect checks in a copy of
// the generated chain's last block (or the block after it) and checks the
// rule named, the transaction and input blamed, and that the set is
// unchanged.
func TestGeneratedChainRejects(t *testing.T) {
	c, chain, cases := brokenLastBlocks(t)
	view := c.view.(MemoryView)
	height := int32(len(c.headers))
	before := setHash(view)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := c.block(encode(t, tc.block), false)
			_, err := c.v.Connect(view, b)
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *RuleError", err)
			}
			wantTx := tc.tx
			if wantTx == -2 {
				wantTx = len(tc.block.Transactions) - 1
			}
			if re.Rule != tc.rule || !errors.Is(err, tc.sentinel) || re.TxIndex != wantTx || re.Input != tc.input || re.Height != height {
				t.Errorf("got rule %q tx %d input %d height %d (%v); want %q tx %d input %d", re.Rule, re.TxIndex, re.Input, re.Height, err, tc.rule, wantTx, tc.input)
			}
			if wantTx >= 0 && re.TxID != b.TxIDs[wantTx] {
				t.Errorf("blamed txid %v, want %v", re.TxID, b.TxIDs[wantTx])
			}
			if setHash(view) != before {
				t.Error("a rejected block changed the set")
			}
		})
	}
	lastMsg := chain.Blocks[len(chain.Blocks)-1]

	// BIP30: a block repeating the last block's coinbase (same txid, as
	// before BIP34) while its outputs are unspent.
	t.Run("BIP30 overwrite", func(t *testing.T) {
		c.mustConnect(encode(t, lastMsg), false)
		_, err := c.v.Connect(view, c.block(encode(t, bip30Repeat(t, lastMsg)), false))
		var re *RuleError
		if !errors.As(err, &re) || re.Rule != "bad-txns-BIP30" || re.TxIndex != 0 {
			t.Fatalf("got %v, want bad-txns-BIP30 at tx 0", err)
		}
	})

	// An input worth more than all money (no real chain has one; Core
	// checks anyway).
	t.Run("input value out of range", func(t *testing.T) {
		op := wire.OutPoint{Index: 7}
		op.Hash[0] = 1
		mv := MemoryView{op: utxo.Coin{Out: wire.TxOut{Value: consensus.MaxMoney + 1, PkScript: []byte{txscript.OP_TRUE}}, Height: 1}}
		m := copyBlock(t, lastMsg)
		m.Transactions = m.Transactions[:2]
		m.Transactions[1].TxIn = m.Transactions[1].TxIn[:1]
		m.Transactions[1].TxIn[0].PreviousOutPoint = op
		_, err := c.v.Connect(mv, &Block{Block: encode(t, m), Height: height, Branch: c.headers[:height]})
		var re *RuleError
		if !errors.As(err, &re) || re.Rule != "bad-txns-inputvalues-outofrange" || re.TxIndex != 1 || re.Input != 0 {
			t.Fatalf("got %v, want bad-txns-inputvalues-outofrange at tx 1 input 0", err)
		}
	})
}

// bip30Repeat is a block on top of last holding only last's coinbase,
// byte for byte: the same txid, whose outputs are unspent. (Its witness
// commitment and BIP34 height no longer fit, which the block rules catch
// first; Connect alone must catch the overwrite.)
func bip30Repeat(t *testing.T, last *wire.MsgBlock) *wire.MsgBlock {
	m := copyBlock(t, last)
	m.Transactions = m.Transactions[:1]
	m.Header.PrevBlock = last.BlockHash()
	m.Header.Timestamp = last.Header.Timestamp.Add(time.Second)
	m.Header.MerkleRoot = m.Transactions[0].TxHash()
	target, _, _ := consensus.CompactToU256(m.Header.Bits)
	for h := m.Header.BlockHash(); consensus.HashToU256(&h).Cmp(target) > 0; h = m.Header.BlockHash() {
		m.Header.Nonce++
	}
	return m
}

// TestBtcdAgreesWithTheVerdicts gives a real btcd (regtest, full
// validation) the generated chain but its last block by submitblock, then
// every broken copy of the last block, which it must reject as Connect
// does, then the real last block, which it must accept, and the BIP30
// repeat on top of it, which it must reject.
func TestBtcdAgreesWithTheVerdicts(t *testing.T) {
	c, chain, cases := brokenLastBlocks(t)
	n := btcdtest.Start(t, btcdtest.Options{})
	last := len(chain.Blocks) - 1
	raw := make([]string, last)
	for i := range raw {
		raw[i] = hex.EncodeToString(chain.Raw(i))
	}
	n.SubmitBlocks(t, raw)
	for _, tc := range cases {
		// Ours first, as TestGeneratedChainRejects checks in detail.
		if _, err := c.v.Connect(cloneView(c.view.(MemoryView)), c.block(encode(t, tc.block), false)); err == nil {
			t.Errorf("%s: Connect accepted it", tc.name)
		}
		var buf bytes.Buffer
		if err := tc.block.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		if out := n.SubmitBlock(t, hex.EncodeToString(buf.Bytes())); out == "" {
			t.Errorf("%s: btcd accepted the block we reject (%s)", tc.name, tc.rule)
		} else {
			t.Logf("%s: ours %s; btcd: %s", tc.name, tc.rule, strings.TrimSpace(out))
		}
	}
	if out := n.SubmitBlock(t, hex.EncodeToString(chain.Raw(last))); out != "" {
		t.Fatalf("btcd rejected the real last block: %s", out)
	}
	var buf bytes.Buffer
	if err := bip30Repeat(t, chain.Blocks[last]).Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	if out := n.SubmitBlock(t, hex.EncodeToString(buf.Bytes())); out == "" {
		t.Error("btcd accepted the BIP30 repeat we reject")
	} else {
		t.Logf("BIP30 repeat: btcd: %s", strings.TrimSpace(out))
	}
	if got := n.BestBlockHash(t); got != chain.Blocks[last].BlockHash().String() {
		t.Errorf("btcd's tip %s, want the real last block", got)
	}
}

func cloneView(v MemoryView) MemoryView {
	c := make(MemoryView, len(v))
	for k, x := range v {
		c[k] = x
	}
	return c
}
