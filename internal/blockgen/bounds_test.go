package blockgen

import (
	"testing"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
)

// TestPlanBounds checks the bounds plan fills blocks against: every signed
// spend of the mixed chain weighs no more, and costs no more sigops (as
// BIP141 counts them: legacy and P2SH at four units, witness at one), than
// its inputs' and outputs' bounds add up to. Blocks filled against the
// bounds therefore stay within consensus's weight and sigop limits.
func TestPlanBounds(t *testing.T) {
	c, err := Generate(mixed)
	if err != nil {
		t.Fatal(err)
	}
	outs := outputs{}
	kindOf := map[string]outputKind{}
	for k := range numKinds {
		kindOf[k.String()] = k
	}
	for bi, b := range c.Blocks {
		for ti, tx := range b.Transactions {
			if ti > 0 {
				bound := txOverheadWeight + len(tx.TxOut)*outputWeight
				sigBound := len(tx.TxOut) * maxOutputSigOps
				cost := consensus.WitnessScaleFactor * consensus.LegacySigOpCount(tx)
				for _, in := range tx.TxIn {
					prev := outs[in.PreviousOutPoint]
					name, err := spentKind(prev.PkScript, in)
					if err != nil {
						t.Fatal(err)
					}
					k := kindOf[name]
					bound += inputWeight[k]
					sigBound += inputSigOps[k]
					if txscript.IsPayToScriptHash(prev.PkScript) {
						cost += consensus.WitnessScaleFactor * txscript.GetPreciseSigOpCount(in.SignatureScript, prev.PkScript, true)
					}
					cost += txscript.GetWitnessSigOpCount(in.SignatureScript, prev.PkScript, in.Witness)
				}
				weight := tx.SerializeSizeStripped()*(consensus.WitnessScaleFactor-1) + tx.SerializeSize()
				if weight > bound {
					t.Errorf("block %d tx %d weighs %d, above its bound %d", bi+1, ti, weight, bound)
				}
				if cost > sigBound {
					t.Errorf("block %d tx %d costs %d sigops, above its bound %d", bi+1, ti, cost, sigBound)
				}
			}
			id := tx.TxHash()
			for j, o := range tx.TxOut {
				outs[wire.OutPoint{Hash: id, Index: uint32(j)}] = o
			}
		}
	}
}
