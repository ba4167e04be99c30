package script

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"go.uber.org/goleak"

	"github.com/watchnode/watchnode/node/consensus"
)

// TestMain fails the run if any test leaves a goroutine behind: every
// Verifier a test makes must be closed, and Close must stop its workers.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ledger holds every unspent output seen so far, as the UTXO set would.
type ledger map[wire.OutPoint]*wire.TxOut

// connect returns b's prevouts, looked up in l, and applies b to l:
// transaction by transaction, its spends leave and its outputs enter, so a
// transaction may spend one earlier in the same block.
func (l ledger) connect(b *consensus.Block) ([][]*wire.TxOut, error) {
	prevouts := make([][]*wire.TxOut, len(b.Msg.Transactions))
	for i, tx := range b.Msg.Transactions {
		if i > 0 {
			prevouts[i] = make([]*wire.TxOut, len(tx.TxIn))
			for j, in := range tx.TxIn {
				out, ok := l[in.PreviousOutPoint]
				if !ok {
					return nil, fmt.Errorf("block %s tx %d input %d spends unknown output %v", b.Hash, i, j, in.PreviousOutPoint)
				}
				prevouts[i][j] = out
				delete(l, in.PreviousOutPoint)
			}
		}
		for k, out := range tx.TxOut {
			l[wire.OutPoint{Hash: b.TxIDs[i], Index: uint32(k)}] = out
		}
	}
	return prevouts, nil
}

// toBlock serializes msg and decodes it again, so that the Block's ids are
// those of msg as it is now (after a test changed it).
func toBlock(tb testing.TB, msg *wire.MsgBlock) *consensus.Block {
	tb.Helper()
	var buf bytes.Buffer
	if err := msg.Serialize(&buf); err != nil {
		tb.Fatal(err)
	}
	b, err := consensus.DecodeBlock(buf.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// withTx returns a copy of b whose transaction ti is replaced by the
// result of edit on a deep copy of it; b itself is left unchanged.
func withTx(tb testing.TB, b *consensus.Block, ti int, edit func(tx *wire.MsgTx)) *consensus.Block {
	tb.Helper()
	msg := &wire.MsgBlock{Header: b.Msg.Header, Transactions: append([]*wire.MsgTx(nil), b.Msg.Transactions...)}
	tx := b.Msg.Transactions[ti].Copy()
	edit(tx)
	msg.Transactions[ti] = tx
	return toBlock(tb, msg)
}

// inputCount is the number of inputs of b's transactions after the
// coinbase: the inputs a Check verifies.
func inputCount(b *consensus.Block) int {
	n := 0
	for _, tx := range b.Msg.Transactions[1:] {
		n += len(tx.TxIn)
	}
	return n
}

// The kinds of spend the generated chains hold, named by what the scripts
// show (not by blockgen's bookkeeping).
const (
	kindP2PK       = "p2pk"
	kindP2PKH      = "p2pkh"
	kindP2SH       = "p2sh-multisig"
	kindP2WPKH     = "p2wpkh"
	kindP2WSH      = "p2wsh"
	kindP2TRKey    = "p2tr-key"
	kindP2TRScript = "p2tr-script"
)

var allKinds = []string{kindP2PK, kindP2PKH, kindP2SH, kindP2WPKH, kindP2WSH, kindP2TRKey, kindP2TRScript}

// kindOf names the kind of spend of in, which spends pkScript; "" for
// anything else. Taproot's path is told by the witness: one item is the
// key path, three (signature, leaf, control block) the script path.
func kindOf(pkScript []byte, in *wire.TxIn) string {
	switch txscript.GetScriptClass(pkScript) {
	case txscript.PubKeyTy:
		return kindP2PK
	case txscript.PubKeyHashTy:
		return kindP2PKH
	case txscript.ScriptHashTy:
		return kindP2SH
	case txscript.WitnessV0PubKeyHashTy:
		return kindP2WPKH
	case txscript.WitnessV0ScriptHashTy:
		return kindP2WSH
	case txscript.WitnessV1TaprootTy:
		switch len(in.Witness) {
		case 1:
			return kindP2TRKey
		case 3:
			return kindP2TRScript
		}
	}
	return ""
}

// signatureOf returns, as a slice of in's own bytes, the first signature
// that spending kind carries: the first scriptSig push for P2PK and
// P2PKH, the one after OP_0 for multisig, the witness item for the rest.
func signatureOf(tb testing.TB, kind string, in *wire.TxIn) []byte {
	tb.Helper()
	var pushes [][]byte
	tok := txscript.MakeScriptTokenizer(0, in.SignatureScript)
	for tok.Next() {
		pushes = append(pushes, tok.Data())
	}
	switch kind {
	case kindP2PK, kindP2PKH:
		return pushes[0]
	case kindP2SH:
		return pushes[1]
	case kindP2WPKH, kindP2TRKey, kindP2TRScript:
		return in.Witness[0]
	case kindP2WSH:
		return in.Witness[1]
	}
	tb.Fatalf("no signature for kind %q", kind)
	return nil
}

// damage flips a byte of sig: byte 8 lies in a DER signature's R value
// (after 0x30, length, 0x02, R's length and R's first bytes) and in a
// BIP340 signature's R, so the signature stays well formed but wrong.
func damage(sig []byte) { sig[8] ^= 0x01 }
