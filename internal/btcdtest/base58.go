package btcdtest

import (
	"crypto/sha256"
	"math/big"
)

// This file hand-writes base58check instead of importing
// github.com/btcsuite/btcd/btcutil/base58 (or address/v2/base58): that
// import would add a module to the repository's shared go.mod/go.sum just
// for a test helper, and only the encoder is needed here.

// base58Alphabet is Bitcoin's base58 alphabet.
const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// regtestP2PKHVersion is the address version byte of P2PKH addresses on
// testnet, signet and regtest.
const regtestP2PKHVersion = 0x6f

// base58Encode encodes b in Bitcoin's base58, keeping each leading zero
// byte as a leading '1'.
func base58Encode(b []byte) string {
	x := new(big.Int).SetBytes(b)
	radix := big.NewInt(58)
	mod := new(big.Int)
	var out []byte
	for x.Sign() > 0 {
		x.DivMod(x, radix, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, base58Alphabet[0])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

// base58CheckEncode prepends version to payload, appends the first four
// bytes of the double SHA-256 of both, and base58-encodes the result.
func base58CheckEncode(payload []byte, version byte) string {
	b := make([]byte, 0, 1+len(payload)+4)
	b = append(b, version)
	b = append(b, payload...)
	first := sha256.Sum256(b)
	second := sha256.Sum256(first[:])
	b = append(b, second[:4]...)
	return base58Encode(b)
}
