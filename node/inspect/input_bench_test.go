package inspect

import (
	"testing"

	"github.com/watchnode/watchnode/internal/mainnetdata"
)

// BenchmarkOpenBlocksAndTxs measures listing a capture (framing, checksums,
// summaries): what the decoder page does before it shows the list.
func BenchmarkOpenBlocksAndTxs(b *testing.B) {
	data := mainnetdata.BlocksAndTxs(b, 2)
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
	data := mainnetdata.BlocksAndTxs(b, 1)
	r, err := Open([]Input{{Data: data}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(r.Entries[0].Length))
	for b.Loop() {
		r.Detail(0)
	}
}
