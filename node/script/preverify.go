package script

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// curve is a faster verifier of signatures than btcec, which txscript
// uses. Its answer is trusted only when it says valid, and only for the
// exact bytes it was given (see preverify).
type curve interface {
	// name says which library this is, for logs and the status API.
	name() string
	// verifyECDSA reports whether rs (r then s, 32 bytes each, big
	// endian; a high s is accepted as consensus does) signs hash under
	// pubKey (33 or 65 bytes, SEC 1).
	verifyECDSA(rs *[64]byte, hash, pubKey []byte) bool
	// verifySchnorr reports whether sig (64 bytes) is a BIP340 signature
	// of hash under the x-only key xOnly (32 bytes).
	verifySchnorr(sig, hash, xOnly []byte) bool
	// checkTapTweak reports whether the x-only key output (32 bytes) is
	// the x-only key internal tweaked by tweak (32 bytes), Q = P + tG,
	// and Q's y is odd exactly when oddY: BIP341's check of a script
	// path's commitment.
	checkTapTweak(output, internal, tweak []byte, oddY bool) bool
	// close releases the library's memory once no verification runs.
	close()
}

// countingCurve counts the signature checks made through it, valid or
// not (a multisig's try against a key it does not match is one). Each
// worker has its own, so counting takes no atomic operation a signature.
type countingCurve struct {
	curve
	checks int64
}

func (c *countingCurve) verifyECDSA(rs *[64]byte, hash, pubKey []byte) bool {
	c.checks++
	return c.curve.verifyECDSA(rs, hash, pubKey)
}

func (c *countingCurve) verifySchnorr(sig, hash, xOnly []byte) bool {
	c.checks++
	return c.curve.verifySchnorr(sig, hash, xOnly)
}

// preverified is what preverify found: a valid signature, keyed exactly
// as txscript's signature cache keys it (sighash; the signature's bytes,
// without the sighash type byte for ECDSA and with it for BIP340; the
// key's bytes as the script holds them).
type preverified struct {
	sigHash chainhash.Hash
	sig     []byte
	pubKey  []byte
}

// maxMultisigKeys bounds the multisig scripts preverify reads: 20 keys,
// CHECKMULTISIG's own limit.
const maxMultisigKeys = 20

// maxPushes bounds the pushes of a script signature preverify reads: a
// P2SH multisig's dummy, signatures and redeem script.
const maxPushes = maxMultisigKeys + 2

// preverify verifies, with cv, a signature of input j of tx when the
// output it spends is one of the templates that carry nearly every
// signature on the chain, and returns it when valid (the one txscript
// checks first; one is all txscript's cache can take, see multisig):
//   - pay-to-pubkey and pay-to-pubkey-hash;
//   - pay-to-witness-pubkey-hash, bare or nested in P2SH;
//   - m-of-n CHECKMULTISIG, bare, in P2SH, in P2WSH or in P2SH-P2WSH;
//   - taproot: a key path spend, or a script path spend of a leaf
//     "<key> OP_CHECKSIG"; neither with an annex.
//
// For anything else, and a signature it cannot show valid, it returns
// false.
//
// Decision: the fast library speeds txscript up through txscript's own
// signature cache instead of replacing any of it. The caller adds what
// preverify returns to a cache and runs txscript's engine as always; the
// engine computes its own sighash, parses and checks every encoding rule
// the flags ask for, runs the whole script (the key hash, the taproot
// commitment, the multisig count), and only skips the curve arithmetic
// when its (sighash, signature, key) triple is in the cache. So every
// script rule stays txscript's; what preverify decides is only "these
// bytes are a valid signature of this hash under this key", a
// mathematical fact that libsecp256k1 (the library Core verifies with)
// establishes. A sighash computed wrongly here, or a template misread,
// cannot make a block pass: the triple misses the cache and txscript
// verifies the signature itself. The price is that the engine still
// parses every key and computes every sighash again, and that only one
// signature of a multisig is handed over.
func preverify(cv curve, tx *wire.MsgTx, j int, prev *wire.TxOut, flags txscript.ScriptFlags,
	hashes *txscript.TxSigHashes, f *prevoutFetcher) (preverified, bool) {
	in := tx.TxIn[j]
	pk := prev.PkScript
	witness := flags&txscript.ScriptVerifyWitness != 0
	switch {
	case isP2PKH(pk):
		sig, rest, ok := onePush(in.SignatureScript)
		if !ok {
			return preverified{}, false
		}
		key, rest, ok := onePush(rest)
		if !ok || len(rest) != 0 {
			return preverified{}, false
		}
		return legacyECDSA(cv, tx, j, pk, sig, key)
	case isP2PK(pk):
		sig, rest, ok := onePush(in.SignatureScript)
		if !ok || len(rest) != 0 {
			return preverified{}, false
		}
		return legacyECDSA(cv, tx, j, pk, sig, pk[1:len(pk)-1])
	case isP2WPKH(pk):
		if !witness {
			return preverified{}, false
		}
		return witnessECDSA(cv, tx, j, prev.Value, pk[2:], hashes, &f.scriptCode)
	case isP2WSH(pk):
		if !witness {
			return preverified{}, false
		}
		return witnessMultisig(cv, tx, j, prev.Value, hashes, f)
	case isP2SH(pk):
		if flags&txscript.ScriptBip16 == 0 {
			return preverified{}, false
		}
		pushes, ok := pushesOf(in.SignatureScript, f.pushes[:0])
		if !ok || len(pushes) == 0 {
			return preverified{}, false
		}
		redeem := pushes[len(pushes)-1]
		switch {
		case len(pushes) == 1 && isP2WPKH(redeem):
			if !witness {
				return preverified{}, false
			}
			return witnessECDSA(cv, tx, j, prev.Value, redeem[2:], hashes, &f.scriptCode)
		case len(pushes) == 1 && isP2WSH(redeem):
			if !witness {
				return preverified{}, false
			}
			return witnessMultisig(cv, tx, j, prev.Value, hashes, f)
		}
		return legacyMultisig(cv, tx, j, redeem, pushes[:len(pushes)-1], f)
	case isP2TR(pk):
		if flags&txscript.ScriptVerifyTaproot == 0 {
			return preverified{}, false
		}
		return taproot(cv, tx, j, pk[2:], hashes, f)
	case len(pk) > 0 && pk[len(pk)-1] == txscript.OP_CHECKMULTISIG:
		// A bare multisig: the spent script is the multisig itself.
		pushes, ok := pushesOf(in.SignatureScript, f.pushes[:0])
		if !ok {
			return preverified{}, false
		}
		return legacyMultisig(cv, tx, j, pk, pushes, f)
	}
	return preverified{}, false
}

// legacyECDSA verifies a pre-segwit signature of input j over script (the
// spent script; neither template can hold the signature itself or an
// OP_CODESEPARATOR, so it is the script txscript hashes too).
func legacyECDSA(cv curve, tx *wire.MsgTx, j int, script, fullSig, key []byte) (preverified, bool) {
	rs, sig, ok := splitECDSA(fullSig, key)
	if !ok {
		return preverified{}, false
	}
	hash, err := txscript.CalcSignatureHash(script, txscript.SigHashType(fullSig[len(fullSig)-1]), tx, j)
	if err != nil || !cv.verifyECDSA(&rs, hash, key) {
		return preverified{}, false
	}
	return preverified{sigHash: chainhash.Hash(hash), sig: sig, pubKey: key}, true
}

// witnessECDSA verifies a BIP143 signature of a P2WPKH spend of keyHash,
// whose witness must be exactly a signature and a key.
func witnessECDSA(cv curve, tx *wire.MsgTx, j int, value int64, keyHash []byte,
	hashes *txscript.TxSigHashes, scratch *[25]byte) (preverified, bool) {
	w := tx.TxIn[j].Witness
	if len(w) != 2 || hashes == nil {
		return preverified{}, false
	}
	fullSig, key := w[0], w[1]
	rs, sig, ok := splitECDSA(fullSig, key)
	if !ok {
		return preverified{}, false
	}
	// BIP143's script code for P2WPKH is the P2PKH script of the hash.
	code := scratch[:]
	code[0], code[1], code[2] = txscript.OP_DUP, txscript.OP_HASH160, txscript.OP_DATA_20
	copy(code[3:23], keyHash)
	code[23], code[24] = txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG
	hash, err := txscript.CalcWitnessSigHash(code, hashes, txscript.SigHashType(fullSig[len(fullSig)-1]), tx, j, value)
	if err != nil || !cv.verifyECDSA(&rs, hash, key) {
		return preverified{}, false
	}
	return preverified{sigHash: chainhash.Hash(hash), sig: sig, pubKey: key}, true
}

// witnessMultisig verifies the signatures of a P2WSH spend (bare or
// nested) whose witness script is a multisig: the witness is the dummy,
// the signatures and the script, and BIP143 hashes the whole script.
func witnessMultisig(cv curve, tx *wire.MsgTx, j int, value int64, hashes *txscript.TxSigHashes,
	f *prevoutFetcher) (preverified, bool) {
	w := tx.TxIn[j].Witness
	if len(w) < 2 || hashes == nil {
		return preverified{}, false
	}
	script := w[len(w)-1]
	return multisig(cv, script, w[1:len(w)-1], f, func(ht txscript.SigHashType) ([]byte, error) {
		return txscript.CalcWitnessSigHash(script, hashes, ht, tx, j, value)
	})
}

// legacyMultisig verifies the signatures of a pre-segwit multisig spend
// (bare or in P2SH), whose script signature pushes the dummy and then the
// signatures. The legacy sighash hashes the script less any push of a
// signature; the caller's script, being keys only, holds none, so it is
// hashed whole (one that did hold a signature would miss the cache).
func legacyMultisig(cv curve, tx *wire.MsgTx, j int, script []byte, pushes [][]byte,
	f *prevoutFetcher) (preverified, bool) {
	if len(pushes) < 1 {
		return preverified{}, false
	}
	return multisig(cv, script, pushes[1:], f, func(ht txscript.SigHashType) ([]byte, error) {
		return txscript.CalcSignatureHash(script, ht, tx, j)
	})
}

// multisig verifies signatures of script (when it is "OP_m <key>...
// OP_n OP_CHECKMULTISIG") against its keys in the order txscript's
// CHECKMULTISIG tries them, from the last signature and the last key
// down, each signature against the next keys until one matches, and
// keeps the first pair the engine will find valid. sigHash computes the
// hash of a sighash type.
//
// Only that one, because txscript's cache holds one entry a sighash and
// the engine adds every signature it verifies itself: the signatures of
// one multisig nearly always share their sighash type, so any entry but
// the first the engine meets would be overwritten before it got there.
// txscript verifies the others itself, so a 2-of-3 spend still costs it
// one or two verifications.
func multisig(cv curve, script []byte, sigs [][]byte, f *prevoutFetcher,
	sigHash func(txscript.SigHashType) ([]byte, error)) (preverified, bool) {
	keys, _, ok := multisigKeys(script, f.keys[:0])
	if !ok || len(sigs) > len(keys) {
		return preverified{}, false
	}
	if len(sigs) == 0 {
		return preverified{}, false
	}
	// The engine's first signature is the last one pushed. An empty one
	// would make it fail (it is retried against every key), and so
	// hands nothing over.
	last := len(sigs) - 1
	fullSig := sigs[last]
	if len(fullSig) == 0 {
		return preverified{}, false
	}
	hash, err := sigHash(txscript.SigHashType(fullSig[len(fullSig)-1]))
	if err != nil {
		return preverified{}, false
	}
	// It tries keys from the last down while enough are left for the
	// signatures after this one.
	for k := len(keys) - 1; k >= last; k-- {
		key := keys[k]
		rs, sig, ok := splitECDSA(fullSig, key)
		if ok && cv.verifyECDSA(&rs, hash, key) {
			return preverified{sigHash: chainhash.Hash(hash), sig: sig, pubKey: key}, true
		}
	}
	return preverified{}, false
}

// multisigKeys returns the keys of "OP_m <key>... OP_n OP_CHECKMULTISIG"
// with m and n from 1 to 16, appended to keys, and m; or false for any
// other script.
func multisigKeys(script []byte, keys [][]byte) ([][]byte, int, bool) {
	if len(script) < 3 || script[len(script)-1] != txscript.OP_CHECKMULTISIG {
		return keys, 0, false
	}
	tok := txscript.MakeScriptTokenizer(0, script[:len(script)-1])
	if !tok.Next() || !txscript.IsSmallInt(tok.Opcode()) || tok.Opcode() == txscript.OP_0 {
		return keys, 0, false
	}
	m := txscript.AsSmallInt(tok.Opcode())
	for tok.Next() {
		op, data := tok.Opcode(), tok.Data()
		if txscript.IsSmallInt(op) && tok.Done() {
			n := txscript.AsSmallInt(op)
			return keys, m, tok.Err() == nil && n == len(keys) && m <= n
		}
		if data == nil || len(keys) == maxMultisigKeys {
			return keys, 0, false
		}
		keys = append(keys, data)
	}
	return keys, 0, false
}

// pushesOf returns the data of every opcode of script, appended to
// pushes, or false if one is not a push (a script signature that is not
// push-only is left to txscript).
func pushesOf(script []byte, pushes [][]byte) ([][]byte, bool) {
	tok := txscript.MakeScriptTokenizer(0, script)
	for tok.Next() {
		if tok.Opcode() > txscript.OP_16 || len(pushes) == cap(pushes) {
			return pushes, false
		}
		pushes = append(pushes, tok.Data())
	}
	return pushes, tok.Err() == nil
}

// taproot verifies a BIP341 key path spend of the output key xOnly
// (the witness is exactly a signature) or a script path spend of a leaf
// "<key> OP_CHECKSIG" (a signature, the leaf and a control block); with
// an annex, or any other leaf, it verifies nothing.
func taproot(cv curve, tx *wire.MsgTx, j int, xOnly []byte, hashes *txscript.TxSigHashes,
	f *prevoutFetcher) (preverified, bool) {
	w := tx.TxIn[j].Witness
	if hashes == nil || len(w) == 0 {
		return preverified{}, false
	}
	if len(w) >= 2 && len(w[len(w)-1]) > 0 && w[len(w)-1][0] == txscript.TaprootAnnexTag {
		return preverified{}, false
	}
	fullSig := w[0]
	hashType := txscript.SigHashDefault
	switch {
	case len(fullSig) == 64:
	case len(fullSig) == 65 && fullSig[64] != 0:
		hashType = txscript.SigHashType(fullSig[64])
	default:
		return preverified{}, false
	}
	var hash []byte
	var err error
	key := xOnly
	switch len(w) {
	case 1:
		hash, err = txscript.CalcTaprootSignatureHash(hashes, hashType, tx, j, f)
	case 3:
		leaf := w[1]
		if len(leaf) != 34 || leaf[0] != txscript.OP_DATA_32 || leaf[33] != txscript.OP_CHECKSIG ||
			len(w[2]) == 0 || w[2][0]&txscript.TaprootLeafMask != byte(txscript.BaseLeafVersion) {
			return preverified{}, false
		}
		key = leaf[1:33]
		hash, err = txscript.CalcTapscriptSignaturehash(hashes, hashType, tx, j, f, txscript.NewBaseTapLeaf(leaf))
	default:
		return preverified{}, false
	}
	if err != nil || !cv.verifySchnorr(fullSig[:64], hash, key) {
		return preverified{}, false
	}
	return preverified{sigHash: chainhash.Hash(hash), sig: fullSig, pubKey: key}, true
}

// splitECDSA parses fullSig as parseECDSA does and returns r and s for
// the curve and the bytes txscript keys its cache with. The key must be a
// compressed or uncompressed SEC 1 key; a hybrid one is left to txscript.
func splitECDSA(fullSig, key []byte) ([64]byte, []byte, bool) {
	rs, ok := parseECDSA(fullSig)
	if !ok || !isSECKey(key) {
		return rs, nil, false
	}
	return rs, fullSig[:len(fullSig)-1], true
}

// onePush splits off script's first opcode when it is a direct push of
// 1 to 75 bytes (every signature, key and P2WPKH redeem script is one).
func onePush(script []byte) (data, rest []byte, ok bool) {
	if len(script) == 0 {
		return nil, nil, false
	}
	n := int(script[0])
	if n < txscript.OP_DATA_1 || n > txscript.OP_DATA_75 || len(script) < 1+n {
		return nil, nil, false
	}
	return script[1 : 1+n], script[1+n:], true
}

// isP2PKH: OP_DUP OP_HASH160 <20 bytes> OP_EQUALVERIFY OP_CHECKSIG.
func isP2PKH(s []byte) bool {
	return len(s) == 25 && s[0] == txscript.OP_DUP && s[1] == txscript.OP_HASH160 &&
		s[2] == txscript.OP_DATA_20 && s[23] == txscript.OP_EQUALVERIFY && s[24] == txscript.OP_CHECKSIG
}

// isP2PK: <33- or 65-byte key> OP_CHECKSIG.
func isP2PK(s []byte) bool {
	return (len(s) == 35 && s[0] == txscript.OP_DATA_33 || len(s) == 67 && s[0] == txscript.OP_DATA_65) &&
		s[len(s)-1] == txscript.OP_CHECKSIG
}

// isP2WPKH: OP_0 <20 bytes>.
func isP2WPKH(s []byte) bool {
	return len(s) == 22 && s[0] == txscript.OP_0 && s[1] == txscript.OP_DATA_20
}

// isP2WSH: OP_0 <32 bytes>.
func isP2WSH(s []byte) bool {
	return len(s) == 34 && s[0] == txscript.OP_0 && s[1] == txscript.OP_DATA_32
}

// isP2SH: OP_HASH160 <20 bytes> OP_EQUAL.
func isP2SH(s []byte) bool {
	return len(s) == 23 && s[0] == txscript.OP_HASH160 && s[1] == txscript.OP_DATA_20 && s[22] == txscript.OP_EQUAL
}

// isP2TR: OP_1 <32 bytes>.
func isP2TR(s []byte) bool {
	return len(s) == 34 && s[0] == txscript.OP_1 && s[1] == txscript.OP_DATA_32
}
