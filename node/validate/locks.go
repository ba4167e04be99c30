package validate

import (
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/utxo"
)

// BIP68's fields of an input's sequence number.
const (
	sequenceDisable  = 1 << 31 // no relative lock
	sequenceTimeFlag = 1 << 22 // the lock counts 512-second units, not blocks
	sequenceMask     = 0xffff
	// sequenceGranularity: a time lock's unit is 2^9 = 512 seconds.
	sequenceGranularity = 9
)

// sequenceLocksMet reports whether tx's BIP68 relative lock times allow it
// in b (Core's CalculateSequenceLocks and EvaluateSequenceLocks): for each
// input without the disable bit, a height lock needs the coin to be that
// many blocks deep, a time lock needs that many 512-second units to have
// passed between the median time past before the coin's block and the one
// before b. Only transactions of version 2 and up are locked. It returns
// the first input whose lock is not met.
func sequenceLocksMet(tx *wire.MsgTx, spent []utxo.Coin, b *Block, prevMTP uint32) (int, bool) {
	if uint32(tx.Version) < 2 {
		return 0, true
	}
	for j, in := range tx.TxIn {
		seq := in.Sequence
		if seq&sequenceDisable != 0 {
			continue
		}
		coinHeight := spent[j].Height
		if seq&sequenceTimeFlag != 0 {
			base := coinHeight - 1
			if base < 0 {
				base = 0
			}
			coinTime := int64(b.Branch.MedianTimePastAt(base))
			minTime := coinTime + int64(seq&sequenceMask)<<sequenceGranularity - 1
			if minTime >= int64(prevMTP) {
				return j, false
			}
			continue
		}
		minHeight := int64(coinHeight) + int64(seq&sequenceMask) - 1
		if minHeight >= int64(b.Height) {
			return j, false
		}
	}
	return 0, true
}
