package script

import "github.com/btcsuite/btcd/txscript/v2"

// maxMultisigKeys bounds the multisig scripts verifyStandard reads: 20 keys,
// CHECKMULTISIG's own limit.
const maxMultisigKeys = 20

// maxPushes bounds the pushes of a script signature verifyStandard reads: a
// P2SH multisig's dummy, signatures and redeem script.
const maxPushes = maxMultisigKeys + 2

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
