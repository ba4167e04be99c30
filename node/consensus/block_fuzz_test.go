package consensus

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/protocol"
)

// FuzzBlock feeds arbitrary bytes through what a received block meets:
// wire's decoding, NewBlock and every block rule on two networks. Nothing
// may panic; NewBlock's txids and wtxids, hashed from the raw bytes, must
// equal btcd's (which re-serialize); a rule error must be a
// *BlockRuleError; and checking twice gives the same answer.
func FuzzBlock(f *testing.F) {
	blocks := mainnetdata.BtcdBlocks(f)
	for _, h := range []int{0, 1, 170, 14131} {
		f.Add(blocks[h])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var msg wire.MsgBlock
		if err := msg.Deserialize(r); err != nil {
			return
		}
		raw := data[:len(data)-r.Len()]
		_, decodeErr := DecodeBlock(data)
		if r.Len() > 0 && !errors.Is(decodeErr, ErrBlockEncoding) {
			t.Fatalf("DecodeBlock: %v with %d bytes after the block, want ErrBlockEncoding", decodeErr, r.Len())
		}
		b, err := NewBlock(&msg, raw)
		if r.Len() == 0 && (err == nil) != (decodeErr == nil) {
			t.Fatalf("DecodeBlock says %v where NewBlock says %v", decodeErr, err)
		}
		if err != nil {
			if !errors.Is(err, ErrBlockEncoding) {
				t.Fatalf("NewBlock: %v, want ErrBlockEncoding", err)
			}
			return
		}
		for i, tx := range msg.Transactions {
			if b.TxIDs[i] != tx.TxHash() || b.WTxIDs[i] != tx.WitnessHash() {
				t.Fatalf("transaction %d: ids differ from btcd's", i)
			}
		}
		for _, ctx := range []*BlockContext{
			{Params: ParamsFor(protocol.Mainnet), Height: 170, MedianTimePast: 1231731025},
			{Params: ParamsFor(protocol.Regtest), Height: 200, MedianTimePast: 1296688602},
		} {
			first := CheckBlock(ctx, b)
			if first != nil {
				var re *BlockRuleError
				if !errors.As(first, &re) {
					t.Fatalf("CheckBlock: %T %v, want a *BlockRuleError", first, first)
				}
			}
			if again := CheckBlock(ctx, b); (first == nil) != (again == nil) || first != nil && first.Error() != again.Error() {
				t.Fatalf("CheckBlock is not deterministic: %v, then %v", first, again)
			}
		}
	})
}
