package main

import (
	"bytes"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/inspect"
	"github.com/watchnode/watchnode/node/protocol"
)

// warmUp decodes a made-up capture of a block and its transactions a few
// times, as soon as the module starts. Browsers first run WebAssembly with a
// quick baseline compiler and recompile a function with the optimizing one
// only once it has run enough; until then the decoder runs several times
// slower (a first 28 MB capture listed at 10-16 MB/s in Chromium, later ones
// at 90). Running the hot paths (framing, SHA-256, the in-place summaries,
// the field tree) on this capture while the page loads lets the browser
// optimize them before the user's file arrives.
func warmUp() {
	capture := warmUpCapture()
	for range 3 {
		res, err := inspect.Open([]inspect.Input{{Name: "warm-up", Data: capture}}, inspect.Options{})
		if err != nil || len(res.Entries) == 0 {
			return
		}
		res.Detail(0)
	}
}

// warmUpCapture frames a block of 400 two-input segwit transactions and
// each transaction again as a tx message: about 0.5 MB.
func warmUpCapture() []byte {
	var prev chainhash.Hash
	block := wire.NewMsgBlock(wire.NewBlockHeader(0x20000000, &prev, &prev, 0x207fffff, 0))
	for i := range 400 {
		tx := wire.NewMsgTx(2)
		for j := range 2 {
			in := wire.NewTxIn(wire.NewOutPoint(&prev, uint32(i*2+j)), nil, [][]byte{bytes.Repeat([]byte{byte(i)}, 72), bytes.Repeat([]byte{2}, 33)})
			tx.AddTxIn(in)
		}
		tx.AddTxOut(wire.NewTxOut(int64(i)*1000, append([]byte{0x00, 0x14}, bytes.Repeat([]byte{byte(i * 7)}, 20)...)))
		tx.AddTxOut(wire.NewTxOut(5000, append([]byte{0x51, 0x20}, bytes.Repeat([]byte{3}, 32)...)))
		block.AddTransaction(tx)
	}
	var out []byte
	payload, err := protocol.Encode(block)
	if err != nil {
		return nil
	}
	out, _ = protocol.AppendFrame(out, protocol.Mainnet.Magic(), wire.CmdBlock, payload)
	for _, tx := range block.Transactions {
		p, err := protocol.Encode(tx)
		if err != nil {
			return nil
		}
		out, _ = protocol.AppendFrame(out, protocol.Mainnet.Magic(), wire.CmdTx, p)
	}
	return out
}
