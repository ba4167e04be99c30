package inspect

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// blocksAndTxsCapture frames the real block 830,000 and each of its
// transactions as separate tx messages, copies times over: the
// blocks-and-transactions traffic the decoder's speed is measured on.
func blocksAndTxsCapture(tb testing.TB, copies int) []byte {
	tb.Helper()
	raw := readBlock830000(tb)
	var block wire.MsgBlock
	if err := block.Deserialize(bytes.NewReader(raw)); err != nil {
		tb.Fatal(err)
	}
	var out []byte
	var err error
	for range copies {
		if out, err = protocol.AppendFrame(out, protocol.Mainnet.Magic(), wire.CmdBlock, raw); err != nil {
			tb.Fatal(err)
		}
		for _, tx := range block.Transactions {
			var b bytes.Buffer
			if err := tx.Serialize(&b); err != nil {
				tb.Fatal(err)
			}
			if out, err = protocol.AppendFrame(out, protocol.Mainnet.Magic(), wire.CmdTx, b.Bytes()); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return out
}

// BenchmarkOpenBlocksAndTxs measures listing a capture (framing, checksums,
// summaries): what the decoder page does before it shows the list.
func BenchmarkOpenBlocksAndTxs(b *testing.B) {
	data := blocksAndTxsCapture(b, 2)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Open([]Input{{Data: data}}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetailBlock measures building block 830,000's field tree, what
// selecting it in the page costs.
func BenchmarkDetailBlock(b *testing.B) {
	data := blocksAndTxsCapture(b, 1)
	r, err := Open([]Input{{Data: data}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(r.Entries[0].Length))
	for b.Loop() {
		r.Detail(0)
	}
}
