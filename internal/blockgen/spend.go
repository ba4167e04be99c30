package blockgen

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// FeePerTx is the fee every generated spend pays, whatever its size: small
// and fixed, so the coinbase's claim (subsidy plus fees) is easy to check.
const FeePerTx int64 = 1_000

// minOutput is the least value blockgen gives an output, so that spending
// it later still covers FeePerTx.
const minOutput int64 = 10 * FeePerTx

// utxo is an output the wallet can spend.
type utxo struct {
	op    wire.OutPoint
	value int64
	payee *payee
}

// spend is a transaction being built: its inputs spend prev, and its
// outputs pay outs, in order.
type spend struct {
	tx   *wire.MsgTx
	prev []utxo
	outs []*payee
}

// pool holds the wallet's spendable outputs, oldest first. Spending the
// oldest first means every output, whatever its kind, is spent a bounded
// number of blocks after it was made, and the pool stays small.
type pool struct {
	items []utxo
	head  int
}

// len returns how many outputs are waiting.
func (p *pool) len() int { return len(p.items) - p.head }

// push adds u as the newest output.
func (p *pool) push(u utxo) { p.items = append(p.items, u) }

// pop removes and returns the oldest output; the pool must not be empty.
func (p *pool) pop() utxo {
	u := p.items[p.head]
	p.items[p.head] = utxo{}
	p.head++
	// Reuse the front of the slice once most of it is spent, so a long
	// chain does not keep every output it ever made.
	if p.head > 1024 && p.head*2 > len(p.items) {
		n := copy(p.items, p.items[p.head:])
		clear(p.items[n:])
		p.items = p.items[:n]
		p.head = 0
	}
	return u
}

// inputWeight bounds the weight an input spending kind adds once signed,
// with DER signatures at their longest (73 bytes with the sighash byte).
// Blocks are filled against these bounds, so they never pass the limit.
var inputWeight = [numKinds]int{
	kindP2PK:         4 * (41 + 1 + 73),                     // outpoint, sequence, <sig>
	kindP2PKH:        4 * (41 + 1 + 73 + 1 + 33),            // <sig> <pubkey>
	kindP2SHMultisig: 4 * (41 + 3 + 1 + 2*(1+73) + 2 + 105), // OP_0 <sig> <sig> <redeem script>
	kindP2WPKH:       4*41 + 1 + 1 + 73 + 1 + 33,            // witness: sig, pubkey
	kindP2WSH:        4*41 + 1 + 1 + 1 + 73 + 1 + 71,        // witness: empty, sig, script
	kindP2TRKey:      4*41 + 1 + 1 + 64,                     // witness: sig
	kindP2TRScript:   4*41 + 1 + 1 + 64 + 1 + 34 + 1 + 33,   // witness: sig, leaf, control block
}

// inputSigOps is the signature-operation cost of spending kind (BIP141
// counting: P2SH redeem scripts at four units a sigop, witness scripts at
// one). Outputs' own costs are at most maxOutputSigOps.
var inputSigOps = [numKinds]int{
	kindP2SHMultisig: 4 * 3, // CHECKMULTISIG of three keys, counted accurately
	kindP2WPKH:       1,
	kindP2WSH:        2, // CHECKMULTISIG of two keys
	// Tapscript sigops are budgeted by the witness size, not the block.
}

// maxOutputSigOps is the most legacy sigop cost an output of ours has: a
// P2PK or P2PKH scriptPubKey's CHECKSIG, four units, counted in the block
// that creates it.
const maxOutputSigOps = 4

// Weight of a transaction's fixed parts (version, counts, lock time,
// segwit marker and flag) and the most an output of ours adds (value,
// length and a 35-byte P2PK script).
const (
	txOverheadWeight = 4*(4+1+1+4) + 2
	outputWeight     = 4 * (8 + 1 + 35)
)

// signAll signs every spend, spreading them over the CPUs: each signature
// depends on its own transaction only, and btcec's ECDSA (RFC 6979) and
// Schnorr (BIP340 without aux randomness) nonces are deterministic, so the
// bytes do not depend on the scheduling.
func signAll(spends []*spend) error {
	workers := min(runtime.GOMAXPROCS(0), len(spends))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(spends); i += workers {
				if err := spends[i].sign(); err != nil {
					errs[w] = fmt.Errorf("transaction %d: %w", i+1, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sign fills in every input's scriptSig or witness. Segwit and taproot
// signatures commit to the spent amounts (and taproot's to every spent
// script), so the sighash midstate is built from all of s.prev at once.
func (s *spend) sign() error {
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for _, u := range s.prev {
		fetcher.AddPrevOut(u.op, &wire.TxOut{Value: u.value, PkScript: u.payee.pkScript})
	}
	hashes := txscript.NewTxSigHashes(s.tx, fetcher)
	for i, u := range s.prev {
		if err := signInput(s.tx, hashes, i, u); err != nil {
			return fmt.Errorf("input %d (%s): %w", i, u.payee.kind, err)
		}
	}
	return nil
}

// signInput signs input i of tx, which spends u, with txscript's signers.
// ECDSA inputs sign SIGHASH_ALL, taproot ones SIGHASH_DEFAULT (64-byte
// signatures).
func signInput(tx *wire.MsgTx, hashes *txscript.TxSigHashes, i int, u utxo) error {
	p := u.payee
	in := tx.TxIn[i]
	var err error
	switch p.kind {
	case kindP2PK:
		var sig []byte
		if sig, err = txscript.RawTxInSignature(tx, i, p.pkScript, txscript.SigHashAll, p.keys[0]); err != nil {
			return err
		}
		in.SignatureScript, err = txscript.NewScriptBuilder().AddData(sig).Script()
	case kindP2PKH:
		// SignatureScript's script, with the public key computed once.
		var sig []byte
		if sig, err = txscript.RawTxInSignature(tx, i, p.pkScript, txscript.SigHashAll, p.keys[0]); err != nil {
			return err
		}
		in.SignatureScript, err = txscript.NewScriptBuilder().AddData(sig).AddData(p.pubKey).Script()
	case kindP2SHMultisig:
		// OP_0 is CHECKMULTISIG's extra pop, which must be empty
		// (NULLDUMMY); the signatures follow in key order.
		b := txscript.NewScriptBuilder().AddOp(txscript.OP_0)
		for _, k := range p.keys {
			sig, err := txscript.RawTxInSignature(tx, i, p.script, txscript.SigHashAll, k)
			if err != nil {
				return err
			}
			b.AddData(sig)
		}
		in.SignatureScript, err = b.AddData(p.script).Script()
	case kindP2WPKH:
		// WitnessSignature's witness, with the public key computed once.
		// Given the P2WPKH script, txscript builds BIP143's P2PKH script
		// code itself.
		var sig []byte
		if sig, err = txscript.RawTxInWitnessSignature(tx, hashes, i, u.value, p.pkScript, txscript.SigHashAll, p.keys[0]); err != nil {
			return err
		}
		in.Witness = wire.TxWitness{sig, p.pubKey}
	case kindP2WSH:
		var sig []byte
		if sig, err = txscript.RawTxInWitnessSignature(tx, hashes, i, u.value, p.script, txscript.SigHashAll, p.keys[0]); err != nil {
			return err
		}
		in.Witness = wire.TxWitness{{}, sig, p.script}
	case kindP2TRKey:
		in.Witness, err = txscript.TaprootWitnessSignature(tx, hashes, i, u.value, p.pkScript, txscript.SigHashDefault, p.keys[0])
	case kindP2TRScript:
		var sig []byte
		if sig, err = txscript.RawTxInTapscriptSignature(tx, hashes, i, u.value, p.pkScript, p.leaf, txscript.SigHashDefault, p.keys[0]); err != nil {
			return err
		}
		in.Witness = wire.TxWitness{sig, p.script, p.controlBlock}
	default:
		return fmt.Errorf("unknown output kind %d", int(p.kind))
	}
	return err
}
