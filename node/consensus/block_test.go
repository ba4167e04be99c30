package consensus

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/protocol"
)

// decodeBlock decodes raw into a Block, failing tb on error.
func decodeBlock(tb testing.TB, raw []byte) *Block {
	tb.Helper()
	b, err := DecodeBlock(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// block830000 returns the real mainnet block 830,000 and its context, the
// median time past coming from the real headers below it.
func block830000(tb testing.TB) (*BlockContext, *Block) {
	tb.Helper()
	b := decodeBlock(tb, mainnetdata.Read(tb, "blocks/830000.bin"))
	if b.Hash.String() != hash830000 {
		tb.Fatalf("block 830,000 hashes to %s", b.Hash)
	}
	hs, _ := segment(tb)
	anc := sliceAncestors{base: segmentBase, hs: hs}
	return &BlockContext{Params: ParamsFor(protocol.Mainnet), Height: 830000, MedianTimePast: MedianTimePast(anc, 829999)}, b
}

// sliceAncestors serves headers from a slice starting at height base.
type sliceAncestors struct {
	base int32
	hs   []Header
}

func (s sliceAncestors) HeaderAt(h int32) *Header { return &s.hs[h-s.base] }

// TestBlockHashesMatchBtcd checks NewBlock's txids, wtxids and sizes,
// computed from the raw bytes, against btcd's own (which re-serialize),
// on a segwit and taproot block.
func TestBlockHashesMatchBtcd(t *testing.T) {
	_, b := block830000(t)
	if len(b.Msg.Transactions) != 1851 {
		t.Fatalf("%d transactions, want 1851", len(b.Msg.Transactions))
	}
	witness := 0
	for i, tx := range b.Msg.Transactions {
		if tx.HasWitness() {
			witness++
		}
		if b.TxIDs[i] != tx.TxHash() || b.WTxIDs[i] != tx.WitnessHash() {
			t.Fatalf("transaction %d: txid %s wtxid %s, btcd %s %s", i, b.TxIDs[i], b.WTxIDs[i], tx.TxHash(), tx.WitnessHash())
		}
	}
	if witness < 1000 {
		t.Fatalf("only %d witness transactions: the test would not cover txids that skip witness data", witness)
	}
	if b.Size != b.Msg.SerializeSize() || b.StrippedSize != b.Msg.SerializeSizeStripped() {
		t.Fatalf("sizes %d/%d, btcd %d/%d", b.Size, b.StrippedSize, b.Msg.SerializeSize(), b.Msg.SerializeSizeStripped())
	}
	if w := b.Weight(); w <= 3_000_000 || w > MaxBlockWeight {
		t.Fatalf("weight %d is not that of a full segwit block", w)
	}
}

// TestNewBlockRejectsNonCanonicalBytes: bytes beyond the transactions, or
// fewer than they need, are not the block's serialization.
func TestNewBlockRejectsNonCanonicalBytes(t *testing.T) {
	raw := mainnetdata.Read(t, "blocks/830000.bin")
	var msg wire.MsgBlock
	if err := msg.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBlock(&msg, append(append([]byte(nil), raw...), 0)); !errors.Is(err, ErrBlockEncoding) {
		t.Fatalf("a trailing byte: %v, want ErrBlockEncoding", err)
	}
	if _, err := NewBlock(&msg, raw[:len(raw)-1]); !errors.Is(err, ErrBlockEncoding) {
		t.Fatalf("a missing byte: %v, want ErrBlockEncoding", err)
	}
	if _, err := DecodeBlock(append(append([]byte(nil), raw...), 0)); !errors.Is(err, ErrBlockEncoding) {
		t.Fatalf("DecodeBlock with a trailing byte: %v, want ErrBlockEncoding", err)
	}
	if _, err := DecodeBlock(raw[:len(raw)-1]); err == nil {
		t.Fatal("DecodeBlock decoded a truncated block")
	}

	// A legacy transaction written with the segwit marker and an empty
	// witness for its only input, which Core refuses as a superfluous
	// witness record: wire refuses it too, so it never reaches NewBlock.
	tx := wire.NewMsgTx(1)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: 1}, SignatureScript: []byte{1, 2}})
	tx.AddTxOut(&wire.TxOut{Value: 1, PkScript: []byte{0x51}})
	var legacy bytes.Buffer
	if err := tx.Serialize(&legacy); err != nil {
		t.Fatal(err)
	}
	l := legacy.Bytes()
	superfluous := append(append([]byte{}, l[:4]...), 0, 1)
	superfluous = append(append(superfluous, l[4:len(l)-4]...), 0) // zero witness items
	superfluous = append(superfluous, l[len(l)-4:]...)
	var decoded wire.MsgTx
	if err := decoded.Deserialize(bytes.NewReader(superfluous)); err == nil {
		t.Fatal("wire decodes a superfluous witness record; NewBlock would have to refuse it")
	}
}

// TestRealBlocksPassEveryRule: the real block 830,000 and btcd's copy of
// the first 14,132 mainnet blocks pass every block rule, and each of
// btcd's blocks is the block its real header names.
func TestRealBlocksPassEveryRule(t *testing.T) {
	ctx, b := block830000(t)
	if err := CheckBlock(ctx, b); err != nil {
		t.Fatalf("block 830,000: %v", err)
	}

	blocks := mainnetdata.BtcdBlocks(t)
	headers := mainnetHeaders(t, "headers-000000-014131.bin")
	if len(blocks) != len(headers) || len(blocks) != 14132 {
		t.Fatalf("%d blocks and %d headers, want 14,132 of each", len(blocks), len(headers))
	}
	p := ParamsFor(protocol.Mainnet)
	anc := sliceAncestors{hs: headers}
	txs := 0
	for h := 1; h < len(blocks); h++ { // the genesis block is given, not checked
		b := decodeBlock(t, blocks[h])
		if b.Header != headers[h] {
			t.Fatalf("block %d's header differs from the real header", h)
		}
		ctx := &BlockContext{Params: p, Height: int32(h), MedianTimePast: MedianTimePast(anc, int32(h-1))}
		if err := CheckBlock(ctx, b); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		txs += len(b.TxIDs)
	}
	if txs < 14131+100 { // 115 spends among the coinbases
		t.Fatalf("only %d transactions: the blocks should hold spends beyond their coinbases", txs)
	}
}

// TestCoinbaseHeightPrefix checks BIP34's encoding against known scripts:
// small heights as OP_N, others as minimal script numbers.
func TestCoinbaseHeightPrefix(t *testing.T) {
	for _, c := range []struct {
		height int32
		want   []byte
	}{
		{1, []byte{0x51}},
		{16, []byte{0x60}},
		{17, []byte{0x01, 0x11}},
		{128, []byte{0x02, 0x80, 0x00}}, // the sign bit needs a zero byte
		{227931, []byte{0x03, 0x5b, 0x7a, 0x03}},
		{830000, []byte{0x03, 0x30, 0xaa, 0x0c}},
	} {
		if got := CoinbaseHeightPrefix(c.height); !bytes.Equal(got, c.want) {
			t.Errorf("height %d: %x, want %x", c.height, got, c.want)
		}
	}
}

// TestIsFinalTx covers lock times by height and by time, and the final
// sequence number that overrides both.
func TestIsFinalTx(t *testing.T) {
	tx := func(lock, seq uint32) *wire.MsgTx {
		m := wire.NewMsgTx(2)
		m.AddTxIn(&wire.TxIn{Sequence: seq})
		m.LockTime = lock
		return m
	}
	const open = wire.MaxTxInSequenceNum - 1
	for _, c := range []struct {
		name   string
		tx     *wire.MsgTx
		height int32
		cutoff int64
		want   bool
	}{
		{"no lock time", tx(0, open), 100, 0, true},
		{"height passed", tx(99, open), 100, 0, true},
		{"height reached, not passed", tx(100, open), 100, 0, false},
		{"final sequence", tx(100, wire.MaxTxInSequenceNum), 100, 0, true},
		{"time passed", tx(LocktimeThreshold+10, open), 100, LocktimeThreshold + 11, true},
		{"time not passed", tx(LocktimeThreshold+10, open), 100, LocktimeThreshold + 10, false},
	} {
		if got := IsFinalTx(c.tx, c.height, c.cutoff); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestMerkleRootMutation: an odd level repeated by hand gives the same
// root, flagged as mutated (CVE-2012-2459).
func TestMerkleRootMutation(t *testing.T) {
	hs := []chainhash.Hash{{1}, {2}, {3}}
	root, mutated := MerkleRoot(hs)
	if mutated {
		t.Fatal("three distinct hashes flagged as mutated")
	}
	root4, mutated4 := MerkleRoot(append(hs, hs[2]))
	if root4 != root || !mutated4 {
		t.Fatalf("repeating the last hash: root equal %v, mutated %v; want true, true", root4 == root, mutated4)
	}
	if r, m := MerkleRoot(hs[:1]); r != hs[0] || m {
		t.Fatalf("one hash: %s %v", r, m)
	}
}
