package protocol

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// slowSummary is what SummarizePayload must always equal.
func slowSummary(command string, payload []byte) (string, error) {
	msg, err := Decode(command, payload)
	if err != nil {
		return "", err
	}
	return Summary(msg), nil
}

// checkSameSummary fails if SummarizePayload and Decode+Summary disagree on
// the summary or on whether the payload is malformed.
func checkSameSummary(t *testing.T, command string, payload []byte) {
	t.Helper()
	fast, fastErr := SummarizePayload(command, payload)
	slow, slowErr := slowSummary(command, payload)
	if fast != slow || (fastErr == nil) != (slowErr == nil) {
		t.Fatalf("%s of %d bytes: in place %q (err %v), decoded %q (err %v)", command, len(payload), fast, fastErr, slow, slowErr)
	}
}

// TestSummarizePayloadMainnet checks the in-place summaries of the real block
// 830,000 and of each of its 1,851 transactions against decoding them.
func TestSummarizePayloadMainnet(t *testing.T) {
	raw := mainnetData(t, "blocks/830000.bin")
	if _, ok := blockSummaryInPlace(raw); !ok {
		t.Fatal("the real block did not take the in-place path")
	}
	checkSameSummary(t, wire.CmdBlock, raw)
	var block wire.MsgBlock
	if err := block.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	for _, tx := range block.Transactions {
		var b bytes.Buffer
		if err := tx.Serialize(&b); err != nil {
			t.Fatal(err)
		}
		if _, ok := txSummaryInPlace(b.Bytes()); !ok {
			t.Fatalf("tx %s did not take the in-place path", tx.TxHash())
		}
		checkSameSummary(t, wire.CmdTx, b.Bytes())
	}
	// Cut anywhere, the block is malformed both ways.
	for _, n := range []int{0, 79, 80, 81, 1000, len(raw) / 2, len(raw) - 1} {
		checkSameSummary(t, wire.CmdBlock, raw[:n])
	}
}

// TestSummarizePayloadOddTransactions covers what the walk leaves to wire.
func TestSummarizePayloadOddTransactions(t *testing.T) {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 1}, []byte{0x51}, nil))
	tx.AddTxOut(wire.NewTxOut(-5, []byte{0x6a}))
	var plain bytes.Buffer
	if err := tx.Serialize(&plain); err != nil {
		t.Fatal(err)
	}
	checkSameSummary(t, wire.CmdTx, plain.Bytes()) // negative value: no total
	// A segwit flag of 2, a segwit encoding with empty witnesses, no inputs.
	flag2 := append([]byte{2, 0, 0, 0, 0, 2}, plain.Bytes()[4:]...)
	checkSameSummary(t, wire.CmdTx, flag2)
	emptyWitness := append(append([]byte{2, 0, 0, 0, 0, 1}, plain.Bytes()[4:len(plain.Bytes())-4]...), 0, 0, 0, 0, 0)
	checkSameSummary(t, wire.CmdTx, emptyWitness)
	checkSameSummary(t, wire.CmdTx, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	checkSameSummary(t, wire.CmdTx, append(plain.Bytes(), 1, 2, 3)) // trailing bytes
}

// FuzzSummarizePayload: on any bytes, the in-place path agrees with decoding.
func FuzzSummarizePayload(f *testing.F) {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 1}, []byte{0x51}, [][]byte{{1, 2}}))
	tx.AddTxOut(wire.NewTxOut(5000, []byte{0x6a}))
	var b bytes.Buffer
	if err := tx.Serialize(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(false, b.Bytes())
	var zero chainhash.Hash
	block := wire.NewMsgBlock(wire.NewBlockHeader(1, &zero, &zero, 0x207fffff, 0))
	if err := block.AddTransaction(tx); err != nil {
		f.Fatal(err)
	}
	var bb bytes.Buffer
	if err := block.Serialize(&bb); err != nil {
		f.Fatal(err)
	}
	f.Add(true, bb.Bytes())
	f.Fuzz(func(t *testing.T, isBlock bool, payload []byte) {
		command := wire.CmdTx
		if isBlock {
			command = wire.CmdBlock
		}
		checkSameSummary(t, command, payload)
	})
}
