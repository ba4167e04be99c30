package script

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// TestFastCurveAgreesWithBtcec signs with btcec and checks that
// libsecp256k1 gives btcec's verdict: valid for the signature (with its
// s low, as btcec signs, and high, which consensus accepts), with a
// compressed and an uncompressed key; invalid for another hash, another
// key, or r changed.
func TestFastCurveAgreesWithBtcec(t *testing.T) {
	cv := requireFastCurve(t)
	for i := range 50 {
		key := testKey(t, i)
		other := testKey(t, i+1000)
		hash := sha256.Sum256(fmt.Appendf(nil, "message %d", i))
		wrong := sha256.Sum256(fmt.Appendf(nil, "other %d", i))

		sig := ecdsa.Sign(key, hash[:])
		r, s := sig.R(), sig.S()
		var rs, highS, badR [64]byte
		r.PutBytesUnchecked(rs[:32])
		s.PutBytesUnchecked(rs[32:])
		copy(highS[:32], rs[:32])
		var negS btcec.ModNScalar
		negS.NegateVal(&s)
		negS.PutBytesUnchecked(highS[32:])
		badR = rs
		badR[31] ^= 1
		pub := key.PubKey()
		for _, c := range []struct {
			what string
			rs   *[64]byte
			hash []byte
			key  []byte
			want bool
		}{
			{"compressed key", &rs, hash[:], pub.SerializeCompressed(), true},
			{"uncompressed key", &rs, hash[:], pub.SerializeUncompressed(), true},
			{"high s", &highS, hash[:], pub.SerializeCompressed(), true},
			{"another hash", &rs, wrong[:], pub.SerializeCompressed(), false},
			{"another key", &rs, hash[:], other.PubKey().SerializeCompressed(), false},
			{"r changed", &badR, hash[:], pub.SerializeCompressed(), false},
			{"key off the curve", &rs, hash[:], append([]byte{2}, make([]byte, 32)...), false},
		} {
			if got := cv.verifyECDSA(c.rs, c.hash, c.key); got != c.want {
				t.Errorf("ECDSA %d, %s: libsecp256k1 says %v, want %v", i, c.what, got, c.want)
			}
		}

		ssig, err := schnorr.Sign(key, hash[:])
		if err != nil {
			t.Fatal(err)
		}
		sb := ssig.Serialize()
		xOnly := schnorr.SerializePubKey(pub)
		bad := append([]byte(nil), sb...)
		bad[50] ^= 1
		if !cv.verifySchnorr(sb, hash[:], xOnly) {
			t.Errorf("BIP340 %d: libsecp256k1 rejects btcec's signature", i)
		}
		if cv.verifySchnorr(sb, wrong[:], xOnly) || cv.verifySchnorr(bad, hash[:], xOnly) ||
			cv.verifySchnorr(sb, hash[:], schnorr.SerializePubKey(other.PubKey())) {
			t.Errorf("BIP340 %d: libsecp256k1 accepts a signature btcec rejects", i)
		}
	}
}

// TestTapTweakAgreesWithTxscript checks libsecp256k1's taproot
// commitment check against txscript's ComputeTaprootOutputKey: the output
// key txscript computes from an internal key and a script root must pass,
// with its parity; the other parity, another root or another output key
// must not, nor an internal key that is not on the curve.
func TestTapTweakAgreesWithTxscript(t *testing.T) {
	cv := requireFastCurve(t)
	for i := range 50 {
		internal := testKey(t, i).PubKey()
		root := sha256.Sum256(fmt.Appendf(nil, "root %d", i))
		output := txscript.ComputeTaprootOutputKey(internal, root[:])
		oddY := output.SerializeCompressed()[0] == 3
		p, q := schnorr.SerializePubKey(internal), schnorr.SerializePubKey(output)
		tweak := chainhash.TaggedHash(chainhash.TagTapTweak, p, root[:])
		other := sha256.Sum256(fmt.Appendf(nil, "other %d", i))
		otherTweak := chainhash.TaggedHash(chainhash.TagTapTweak, p, other[:])
		offCurve := make([]byte, 32)
		offCurve[31] = 5 // x = 5: x^3 + 7 = 132 is no square mod p
		for _, c := range []struct {
			what                  string
			output, internal, twk []byte
			oddY, want            bool
		}{
			{"txscript's output key", q, p, tweak[:], oddY, true},
			{"the other parity", q, p, tweak[:], !oddY, false},
			{"another root", q, p, otherTweak[:], oddY, false},
			{"another output key", p, p, tweak[:], oddY, false},
			{"internal key off the curve", q, offCurve, tweak[:], oddY, false},
		} {
			if got := cv.checkTapTweak(c.output, c.internal, c.twk, c.oddY); got != c.want {
				t.Errorf("%d, %s: libsecp256k1 says %v, want %v", i, c.what, got, c.want)
			}
		}
	}
}

// testKey derives a private key from i.
func testKey(t *testing.T, i int) *btcec.PrivateKey {
	t.Helper()
	seed := sha256.Sum256(fmt.Appendf(nil, "key %d", i))
	key, _ := btcec.PrivKeyFromBytes(seed[:])
	return key
}
