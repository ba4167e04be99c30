package inspect

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/mainnetdata"
)

// readBlock830000 loads the real block from the shared mainnet data.
func readBlock830000(tb testing.TB) []byte {
	tb.Helper()
	return mainnetdata.Read(tb, "blocks/830000.bin")
}

func dsha(b []byte) chainhash.Hash {
	first := sha256.Sum256(b)
	return chainhash.Hash(sha256.Sum256(first[:]))
}

func merkleRoot(leaves []chainhash.Hash) chainhash.Hash {
	level := append([]chainhash.Hash(nil), leaves...)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		next := make([]chainhash.Hash, 0, len(level)/2)
		for i := 0; i < len(level); i += 2 {
			next = append(next, dsha(append(level[i][:], level[i+1][:]...)))
		}
		level = next
	}
	return level[0]
}

func parseHash(tb testing.TB, s string) chainhash.Hash {
	tb.Helper()
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		tb.Fatal(err)
	}
	return *h
}

func TestMainnetBlock830000(t *testing.T) {
	raw := readBlock830000(t)
	m := Decode("block", raw)
	if m.Error != nil {
		t.Fatal(m.Error)
	}
	checkTiling(t, m.Fields, 0, len(raw), len(raw), "")

	var ref wire.MsgBlock
	if err := ref.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if got, want := mustFind(t, m, "header/hash").Value, "000000000000000000011d55599ed27d7efca05f5849b755319c89eb2cffbc1f"; got != want {
		t.Errorf("block hash %s, want %s", got, want)
	}
	if got := mustFind(t, m, "header/meets_target").Value; got != "true" {
		t.Errorf("meets_target = %q", got)
	}
	txs := mustFind(t, m, "transactions")
	items := txs.Children[1:] // after count
	if len(items) != len(ref.Transactions) {
		t.Fatalf("%d transactions, btcd has %d", len(items), len(ref.Transactions))
	}
	txids := make([]chainhash.Hash, len(items))
	wtxids := make([]chainhash.Hash, len(items))
	for i, it := range items {
		tx, _ := find(it.Children, "txid")
		wtx, _ := find(it.Children, "wtxid")
		txids[i], wtxids[i] = parseHash(t, tx.Value), parseHash(t, wtx.Value)
		if want := ref.Transactions[i].TxHash(); txids[i] != want {
			t.Errorf("tx %d: txid %s, btcd %s", i, txids[i], want)
		}
		if want := ref.Transactions[i].WitnessHash(); wtxids[i] != want {
			t.Errorf("tx %d: wtxid %s, btcd %s", i, wtxids[i], want)
		}
	}
	if root, want := merkleRoot(txids), parseHash(t, mustFind(t, m, "header/merkle_root").Value); root != want {
		t.Errorf("merkle root of txids %s, header %s", root, want)
	}

	// BIP141 witness commitment: the last coinbase output whose script starts
	// OP_RETURN 0x24 aa21a9ed commits to SHA256d(witness root || reserved).
	coinbase := items[0]
	outs, _ := find(coinbase.Children, "tx_out")
	var commitment []byte
	for _, o := range outs.Children[1:] {
		spk, _ := find(o.Children, "script_pubkey/data")
		s := raw[spk.Offset : spk.Offset+spk.Length]
		if len(s) >= 38 && bytes.Equal(s[:6], []byte{0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed}) {
			commitment = s[6:38]
		}
	}
	if commitment == nil {
		t.Fatal("no witness commitment in the coinbase")
	}
	reservedF, ok := find(coinbase.Children, "witness/witness[0]/stack[0]/data")
	if !ok || reservedF.Length != 32 {
		t.Fatalf("coinbase witness reserved value: %+v", reservedF)
	}
	reserved := raw[reservedF.Offset : reservedF.Offset+32]
	wl := append([]chainhash.Hash(nil), wtxids...)
	wl[0] = chainhash.Hash{}
	wroot := merkleRoot(wl)
	if got := dsha(append(wroot[:], reserved...)); !bytes.Equal(got[:], commitment) {
		t.Errorf("witness commitment %x, computed %x", commitment, got)
	}
	t.Logf("830000: %d transactions, %d bytes, %d top-level fields", len(items), len(raw), len(m.Fields))
}

func BenchmarkDecodeBlock830000(b *testing.B) {
	raw := readBlock830000(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if m := Decode("block", raw); m.Error != nil {
			b.Fatal(m.Error)
		}
	}
}
