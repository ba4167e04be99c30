package blockgen

import (
	"bytes"
	"encoding/hex"
	"sort"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/consensus"
)

// tamper is one input to break: the first spend of its kind.
type tamper struct {
	kind          string
	block, tx, in int
}

// firstSpends finds, for every kind, the first input in c that spends it.
func firstSpends(t *testing.T, c *Chain) []tamper {
	t.Helper()
	outs := outputs{}
	seen := map[string]bool{}
	var found []tamper
	for bi, b := range c.Blocks {
		for ti, tx := range b.Transactions {
			if ti > 0 {
				for ii, in := range tx.TxIn {
					name, err := spentKind(outs[in.PreviousOutPoint].PkScript, in)
					if err != nil {
						t.Fatalf("block %d tx %d input %d: %v", bi+1, ti, ii, err)
					}
					if !seen[name] {
						seen[name] = true
						found = append(found, tamper{name, bi, ti, ii})
					}
				}
			}
			id := tx.TxHash()
			for j, o := range tx.TxOut {
				outs[wire.OutPoint{Hash: id, Index: uint32(j)}] = o
			}
		}
	}
	if len(found) != len(allKinds) {
		t.Fatalf("spends of %d kinds, want %d", len(found), len(allKinds))
	}
	sort.Slice(found, func(i, j int) bool { return found[i].block < found[j].block })
	return found
}

// tampered returns a copy of block i of c with one byte of the input's
// signature flipped, its witness commitment and merkle root redone and
// its nonce ground again: a block whose only fault is that signature.
func tampered(t *testing.T, c *Chain, tp tamper) *wire.MsgBlock {
	t.Helper()
	var b wire.MsgBlock
	if err := b.Deserialize(bytes.NewReader(c.Raw(tp.block))); err != nil {
		t.Fatal(err)
	}
	in := b.Transactions[tp.tx].TxIn[tp.in]
	// Byte 10 lies inside the signature's r value whether the signature
	// is pushed in the scriptSig (after a push opcode and, for multisig,
	// OP_0) or is a witness item: a DER or Schnorr signature still well
	// formed but wrong.
	switch tp.kind {
	case "p2pk", "p2pkh", "p2sh-multisig":
		in.SignatureScript[10] ^= 1
	case "p2wsh":
		in.Witness[1][10] ^= 1
	default:
		in.Witness[0][10] ^= 1
	}
	cb := b.Transactions[0]
	cb.TxOut = cb.TxOut[:len(cb.TxOut)-1] // the old witness commitment
	addWitnessCommitment(b.Transactions)
	b.Header.MerkleRoot = merkleRoot(b.Transactions)
	mine(&b.Header, consensus.U256FromBig(chaincfgRegtest.PowLimit))
	return &b
}

// TestBtcdRejectsBadSignatures proves btcd checks every kind's signature
// in these chains, so TestBtcdAcceptsSpends' acceptance means the
// signatures are right: for each kind, the block with its first spend is
// submitted first with that one signature broken, which btcd must reject,
// and then as generated, which it must accept.
func TestBtcdRejectsBadSignatures(t *testing.T) {
	opts := mixed
	opts.Now = time.Time{}
	c, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	targets := firstSpends(t, c)
	n := btcdtest.Start(t, btcdtest.Options{})
	next := 0
	for _, tp := range targets {
		good := make([]string, 0, tp.block-next)
		for ; next < tp.block; next++ {
			good = append(good, hex.EncodeToString(c.Raw(next)))
		}
		n.SubmitBlocks(t, good)
		bad := tampered(t, c, tp)
		var buf bytes.Buffer
		if err := bad.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		out := n.RPC(t, "submitblock", hex.EncodeToString(buf.Bytes()))
		if out == "" {
			t.Errorf("%s: btcd accepted block %d with a broken signature in tx %d input %d", tp.kind, tp.block+1, tp.tx, tp.in)
		} else {
			t.Logf("%s: block %d rejected: %s", tp.kind, tp.block+1, out)
		}
	}
	rest := make([]string, 0, len(c.Blocks)-next)
	for ; next < len(c.Blocks); next++ {
		rest = append(rest, hex.EncodeToString(c.Raw(next)))
	}
	n.SubmitBlocks(t, rest)
	if got, want := n.BestBlockHash(t), c.Blocks[len(c.Blocks)-1].BlockHash().String(); got != want {
		t.Fatalf("best block %s, want %s", got, want)
	}
}
