package protocol

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// SummarizePayload returns Summary(Decode(command, payload)), or Decode's
// error, without building the message where it can: blocks and
// transactions, which are most of a capture's bytes, are summarized by
// walking their bytes in place. Decoding a block allocates every
// transaction, input, output and script; in the browser's WebAssembly
// decoder that garbage, not the parsing, was most of the time spent listing
// a capture. Anything the walk does not find plainly well formed goes
// through Decode, so the result (summary or error) is always Decode's.
func SummarizePayload(command string, payload []byte) (string, error) {
	// wire's own limits are all above what fits in MaxPayload bytes; larger
	// payloads (a pasted one, say) are left to wire to judge.
	switch command {
	case wire.CmdBlock:
		if len(payload) > MaxPayload {
			break
		}
		if s, ok := blockSummaryInPlace(payload); ok {
			return s, nil
		}
	case wire.CmdTx:
		if len(payload) > MaxPayload {
			break
		}
		if s, ok := txSummaryInPlace(payload); ok {
			return s, nil
		}
	}
	msg, err := Decode(command, payload)
	if err != nil {
		return "", err
	}
	return Summary(msg), nil
}

// blockSummaryInPlace summarizes a block whose every transaction walks
// cleanly.
func blockSummaryInPlace(b []byte) (string, bool) {
	if len(b) < wire.MaxBlockHeaderPayload {
		return "", false
	}
	c := cursor{b: b, off: wire.MaxBlockHeaderPayload}
	n, err := c.count("transaction", 60)
	if err != nil {
		return "", false
	}
	for i := uint64(0); i < n; i++ {
		if _, ok := walkTx(&c); !ok {
			return "", false
		}
	}
	first := sha256Sum(b[:wire.MaxBlockHeaderPayload])
	hash := chainhash.Hash(sha256Sum(first[:]))
	return OneLine(fmt.Sprintf("block %s, %s", ShortHash(hash), count(int(n), "tx", "txs")), summaryMaxRunes), true
}

// txShape is what a transaction's summary needs, found by walkTx.
type txShape struct {
	start, end int // the transaction's bytes
	// bodyStart..bodyEnd is the serialization between the segwit flag and
	// the witnesses (inputs and outputs); the txid hashes version, body and
	// lock time, leaving out marker, flag and witnesses.
	bodyStart, bodyEnd int
	inputs, outputs    int
	hasWitness         bool // some input has witness items (wire's HasWitness)
	total              int64
	saneTotal          bool
}

// txSummaryInPlace summarizes one transaction payload.
func txSummaryInPlace(b []byte) (string, bool) {
	c := cursor{b: b}
	shape, ok := walkTx(&c)
	if !ok {
		return "", false
	}
	// The txid hashes version, inputs, outputs and lock time, leaving out
	// marker, flag and witnesses.
	first := sha256Sum(b[shape.start:shape.start+4], b[shape.bodyStart:shape.bodyEnd], b[shape.end-4:shape.end])
	txid := chainhash.Hash(sha256Sum(first[:]))
	s := fmt.Sprintf("tx %s, %d in, %d out", ShortHash(txid), shape.inputs, shape.outputs)
	if shape.outputs > 0 && shape.saneTotal {
		s += fmt.Sprintf(", %d.%08d BTC", shape.total/1e8, shape.total%1e8)
	}
	if shape.hasWitness {
		s += ", segwit"
	}
	return OneLine(s, summaryMaxRunes), true
}

// walkTx steps over one transaction the way wire decodes it, reporting false
// for anything wire might treat differently (a flag other than 1, a
// segwit-encoded transaction with no inputs, implausible witness counts) so
// the caller falls back to wire itself.
func walkTx(c *cursor) (txShape, bool) {
	t := txShape{start: c.off, saneTotal: true}
	if c.skip(4) != nil {
		return t, false
	}
	segwit := false
	if c.len() >= 2 && c.b[c.off] == 0 {
		if c.b[c.off+1] != 1 {
			return t, false
		}
		segwit = true
		c.off += 2
	}
	t.bodyStart = c.off
	nIn, err := c.count("input", 41)
	if err != nil || (segwit && nIn == 0) {
		return t, false
	}
	for i := uint64(0); i < nIn; i++ {
		if c.skip(36) != nil || c.varBytes("signature script") != nil || c.skip(4) != nil {
			return t, false
		}
	}
	nOut, err := c.count("output", 9)
	if err != nil {
		return t, false
	}
	for i := uint64(0); i < nOut; i++ {
		if c.len() < 8 {
			return t, false
		}
		v := int64(binary.LittleEndian.Uint64(c.b[c.off:]))
		if v < 0 || v > math.MaxInt64-t.total {
			t.saneTotal = false
		} else if t.saneTotal {
			t.total += v
		}
		c.off += 8
		if c.varBytes("public key script") != nil {
			return t, false
		}
	}
	t.bodyEnd = c.off
	if segwit {
		for i := uint64(0); i < nIn; i++ {
			items, err := c.count("witness item", 1)
			if err != nil || items > maxWitnessItems {
				return t, false
			}
			if items > 0 {
				t.hasWitness = true
			}
			for j := uint64(0); j < items; j++ {
				if c.varBytes("witness item") != nil {
					return t, false
				}
			}
		}
	}
	// wire refuses the segwit encoding of a transaction without witnesses.
	if (segwit && !t.hasWitness) || c.skip(4) != nil {
		return t, false
	}
	t.end = c.off
	t.inputs, t.outputs = int(nIn), int(nOut)
	return t, true
}

// maxWitnessItems is far below any limit wire applies to one input's witness
// stack, so a transaction the walk accepts is one wire accepts too.
const maxWitnessItems = 10_000
