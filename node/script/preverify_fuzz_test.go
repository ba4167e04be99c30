package script

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// FuzzPreverify feeds preverify a transaction, the outputs its inputs
// spend and an input index, all from the fuzzer (seeded with one real
// spend of every kind the generated chain has), as a peer's block would.
// It must not panic on anything. And every signature libsecp256k1 calls
// valid, when the build links it, must be valid for btcec too: the
// differential check between the two libraries on the exact bytes
// preverify hands txscript.
func FuzzPreverify(f *testing.F) {
	chain, err := testChain()
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range firstOfEachKind(f, chain) {
		cb := chain[r.block]
		var txBuf, outBuf bytes.Buffer
		if err := cb.block.Msg.Transactions[r.tx].Serialize(&txBuf); err != nil {
			f.Fatal(err)
		}
		if err := prevoutCarrier(cb.prevouts[r.tx]).Serialize(&outBuf); err != nil {
			f.Fatal(err)
		}
		f.Add(txBuf.Bytes(), outBuf.Bytes(), uint8(r.input), uint8(0xff))
	}
	fast := newFastCurve()
	if fast != nil {
		f.Cleanup(fast.close)
	}
	fetcher := newPreverifyFetcher()
	f.Fuzz(func(t *testing.T, rawTx, rawPrevouts []byte, input, flagBits uint8) {
		var tx, carrier wire.MsgTx
		if tx.Deserialize(bytes.NewReader(rawTx)) != nil || carrier.Deserialize(bytes.NewReader(rawPrevouts)) != nil {
			return
		}
		if len(tx.TxIn) == 0 || len(carrier.TxOut) != len(tx.TxIn) {
			return
		}
		j := int(input) % len(tx.TxIn)
		flags := txscript.ScriptBip16
		if flagBits&1 != 0 {
			flags |= txscript.ScriptVerifyWitness
		}
		if flagBits&2 != 0 {
			flags |= txscript.ScriptVerifyTaproot
		}
		preverifyInput(yesCurve{}, &tx, carrier.TxOut, j, flags, fetcher)
		if fast == nil {
			return
		}
		if p, ok := preverifyInput(fast, &tx, carrier.TxOut, j, flags, fetcher); ok && !btcecAgrees(p) {
			t.Fatalf("libsecp256k1 calls signature %x valid for hash %x under key %x; btcec does not", p.sig, p.sigHash, p.pubKey)
		}
	})
}

// prevoutCarrier wraps prevouts as the outputs of a transaction, which
// wire serializes for the fuzzer's corpus.
func prevoutCarrier(prevouts []*wire.TxOut) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{})
	tx.TxOut = prevouts
	return tx
}

// btcecAgrees reports whether btcec finds p valid, parsing its bytes as
// txscript does (a 32-byte key is BIP340's, anything else ECDSA's).
func btcecAgrees(p preverified) bool {
	if len(p.pubKey) == 32 {
		key, err := schnorr.ParsePubKey(p.pubKey)
		if err != nil || len(p.sig) < 64 {
			return false
		}
		sig, err := schnorr.ParseSignature(p.sig[:64])
		return err == nil && sig.Verify(p.sigHash[:], key)
	}
	key, err := btcec.ParsePubKey(p.pubKey)
	if err != nil {
		return false
	}
	sig, err := ecdsa.ParseDERSignature(p.sig)
	return err == nil && sig.Verify(p.sigHash[:], key)
}
