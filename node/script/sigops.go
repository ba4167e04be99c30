package script

import (
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
)

// SigOpCost returns tx's signature-operation cost as Bitcoin Core's
// GetTransactionSigOpCost (src/consensus/tx_verify.cpp) counts it against
// consensus.MaxBlockSigOpsCost: the legacy count of every scriptSig and
// scriptPubKey of tx (CHECKMULTISIG as 20) times four; then, unless tx is a
// coinbase, the accurate count of each P2SH input's redeem script times
// four when flags has P2SH, and each witness input's count (one for
// P2WPKH, the witness script's accurate count for P2WSH, also when nested
// in P2SH; none for taproot, whose budget is its witness size) times one
// when flags has WITNESS. prevouts[j] is the output input j spends; it is
// not read for a coinbase and may be nil then.
//
// The counting functions are txscript's, which follow Core's
// CScript::GetSigOpCount (counting up to a parse failure, a P2SH scriptSig
// that is not push-only counting none) and CountWitnessSigOps.
func SigOpCost(tx *wire.MsgTx, prevouts []*wire.TxOut, flags txscript.ScriptFlags) int {
	cost := consensus.LegacySigOpCount(tx) * consensus.WitnessScaleFactor
	if consensus.IsCoinbase(tx) {
		return cost
	}
	p2sh := flags&flagP2SH != 0
	// Core asserts that WITNESS never comes without P2SH (Flags never
	// returns such a set); rather than crash, such flags count no witness
	// sigops.
	witness := flags&flagWitness != 0 && p2sh
	for j, in := range tx.TxIn {
		pkScript := prevouts[j].PkScript
		if p2sh && txscript.IsPayToScriptHash(pkScript) {
			cost += txscript.GetPreciseSigOpCount(in.SignatureScript, pkScript, true) * consensus.WitnessScaleFactor
		}
		if witness {
			cost += txscript.GetWitnessSigOpCount(in.SignatureScript, pkScript, in.Witness)
		}
	}
	return cost
}
