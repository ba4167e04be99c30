package blockgen

import (
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// The names the tests give each output type, as kind.String does; the
// classifier below derives them from scripts alone, not from blockgen's
// own bookkeeping.
var allKinds = []string{"p2pk", "p2pkh", "p2sh-multisig", "p2wpkh", "p2wsh", "p2tr-key", "p2tr-script"}

// outputs maps every output of a chain to what it holds.
type outputs map[wire.OutPoint]*wire.TxOut

// ledger walks a chain, checks every spend with btcd's script engine
// against the outputs it spends and counts the output types made and
// spent.
type ledger struct {
	utxos   outputs
	created map[string]int // by script class
	spent   map[string]int // by kind name
}

func newLedger() *ledger {
	return &ledger{utxos: outputs{}, created: map[string]int{}, spent: map[string]int{}}
}

// add checks block b at height h and records its outputs. It returns the
// fees b's spends pay.
func (l *ledger) add(t *testing.T, h int, b *wire.MsgBlock) int64 {
	t.Helper()
	var fees int64
	for ti, tx := range b.Transactions {
		if ti > 0 {
			fetcher := txscript.NewMultiPrevOutFetcher(nil)
			var in int64
			for _, txIn := range tx.TxIn {
				prev, ok := l.utxos[txIn.PreviousOutPoint]
				if !ok {
					t.Fatalf("block %d tx %d spends unknown or spent output %v", h, ti, txIn.PreviousOutPoint)
				}
				fetcher.AddPrevOut(txIn.PreviousOutPoint, prev)
				in += prev.Value
			}
			hashes := txscript.NewTxSigHashes(tx, fetcher)
			for i, txIn := range tx.TxIn {
				prev := l.utxos[txIn.PreviousOutPoint]
				vm, err := txscript.NewEngine(prev.PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, prev.Value, fetcher)
				if err == nil {
					err = vm.Execute()
				}
				if err != nil {
					t.Fatalf("block %d tx %d input %d: script check: %v", h, ti, i, err)
				}
				name, err := spentKind(prev.PkScript, txIn)
				if err != nil {
					t.Fatalf("block %d tx %d input %d: %v", h, ti, i, err)
				}
				l.spent[name]++
				delete(l.utxos, txIn.PreviousOutPoint)
			}
			var out int64
			for _, o := range tx.TxOut {
				out += o.Value
			}
			if in-out != FeePerTx {
				t.Errorf("block %d tx %d pays fee %d, want %d", h, ti, in-out, FeePerTx)
			}
			fees += in - out
		}
		id := tx.TxHash()
		for j, o := range tx.TxOut {
			if o.Value == 0 && len(o.PkScript) > 0 && o.PkScript[0] == txscript.OP_RETURN {
				continue // the witness commitment
			}
			l.created[txscript.GetScriptClass(o.PkScript).String()]++
			l.utxos[wire.OutPoint{Hash: id, Index: uint32(j)}] = o
		}
	}
	return fees
}

// spentKind names the output type in spends from the scripts and witness:
// P2SH and P2WSH must reveal the multisig scripts blockgen promises, and
// taproot's path is told by the witness (one item: key path; signature,
// leaf and control block: script path).
func spentKind(pkScript []byte, in *wire.TxIn) (string, error) {
	switch class := txscript.GetScriptClass(pkScript); class {
	case txscript.PubKeyTy:
		return "p2pk", nil
	case txscript.PubKeyHashTy:
		return "p2pkh", nil
	case txscript.ScriptHashTy:
		redeem := lastPush(in.SignatureScript)
		if keys, sigs, err := txscript.CalcMultiSigStats(redeem); err != nil || keys != 3 || sigs != 2 {
			return "", fmt.Errorf("P2SH redeem script %x is not 2-of-3 multisig (%d of %d, %v)", redeem, sigs, keys, err)
		}
		return "p2sh-multisig", nil
	case txscript.WitnessV0PubKeyHashTy:
		return "p2wpkh", nil
	case txscript.WitnessV0ScriptHashTy:
		ws := in.Witness[len(in.Witness)-1]
		if keys, sigs, err := txscript.CalcMultiSigStats(ws); err != nil || keys != 2 || sigs != 1 {
			return "", fmt.Errorf("P2WSH witness script %x is not 1-of-2 multisig (%d of %d, %v)", ws, sigs, keys, err)
		}
		return "p2wsh", nil
	case txscript.WitnessV1TaprootTy:
		switch len(in.Witness) {
		case 1:
			return "p2tr-key", nil
		case 3:
			leaf := in.Witness[1]
			if len(leaf) != 34 || leaf[0] != txscript.OP_DATA_32 || leaf[33] != txscript.OP_CHECKSIG {
				return "", fmt.Errorf("tapscript leaf %x is not <key> OP_CHECKSIG", leaf)
			}
			return "p2tr-script", nil
		}
		return "", fmt.Errorf("taproot witness of %d items", len(in.Witness))
	default:
		return "", fmt.Errorf("spends an output of class %s", class)
	}
}

// lastPush returns the data of script's last push.
func lastPush(script []byte) []byte {
	var last []byte
	tok := txscript.MakeScriptTokenizer(0, script)
	for tok.Next() {
		last = tok.Data()
	}
	return last
}

// checkCoverage fails unless every kind was spent and every script class
// they need was created.
func (l *ledger) checkCoverage(t *testing.T) {
	t.Helper()
	for _, k := range allKinds {
		if l.spent[k] == 0 {
			t.Errorf("no %s output spent; spent: %v", k, l.spent)
		}
	}
	for _, c := range []txscript.ScriptClass{txscript.PubKeyTy, txscript.PubKeyHashTy, txscript.ScriptHashTy,
		txscript.WitnessV0PubKeyHashTy, txscript.WitnessV0ScriptHashTy, txscript.WitnessV1TaprootTy} {
		if l.created[c.String()] == 0 {
			t.Errorf("no %s output created; created: %v", c, l.created)
		}
	}
}

// chaincfgRegtest is the network blockgen generates for.
var chaincfgRegtest = &chaincfg.RegressionNetParams
