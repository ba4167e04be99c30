package utxo

import (
	"fmt"
	"math"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// Bitcoin Core's compressor.h and compressor.cpp: how the chainstate and
// the undo files store an output's amount and script in fewer bytes. The
// formats are Core's on-disk formats, so they are reproduced bit for bit,
// including Core's arithmetic on 64-bit unsigned integers.

// CompressAmount maps an amount in satoshis to the smaller integer Core
// stores for it (compressor.cpp, CompressAmount): round amounts are
// common, so it strips up to nine trailing decimal zeros into an exponent
// e, then packs the last remaining digit d (never zero when e < 9) and the
// rest n as 1 + 10*(9*n + d - 1) + e, or 1 + 10*(n - 1) + 9 when e is 9.
// 0 stays 0. One bitcoin becomes 9, MaxMoney 0x1406f40.
//
// Every amount up to MaxMoney compresses without overflow; for larger
// values the result wraps modulo 2^64, as Core's uint64_t arithmetic does
// (only a coin that broke consensus could carry one).
func CompressAmount(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	e := uint64(0)
	for n%10 == 0 && e < 9 {
		n /= 10
		e++
	}
	if e < 9 {
		d := n % 10 // 1..9: the loop stopped on a nonzero digit
		n /= 10
		return 1 + (n*9+d-1)*10 + e
	}
	return 1 + (n-1)*10 + 9
}

// DecompressAmount is CompressAmount's inverse (compressor.cpp,
// DecompressAmount): DecompressAmount(CompressAmount(n)) == n for every n
// up to MaxMoney, and CompressAmount(DecompressAmount(x)) == x for every x
// whose decompression does not overflow. For x no amount compresses to
// (the decompression passes 2^64), the result wraps modulo 2^64 exactly as
// Core's does; DecodeCoin refuses such x rather than store a wrapped
// amount.
func DecompressAmount(x uint64) uint64 {
	if x == 0 {
		return 0
	}
	x--
	e := x % 10
	x /= 10
	var n uint64
	if e < 9 {
		d := x%9 + 1
		x /= 9
		n = x*10 + d
	} else {
		n = x + 1
	}
	for ; e > 0; e-- {
		n *= 10
	}
	return n
}

// Core's six special scripts (ScriptCompression's nSpecialScripts): a
// compressed script starting with one of these bytes is that form, given
// by the 20 or 32 bytes that follow; any larger first VARINT is the raw
// script's length plus scriptSpecialCount.
const (
	scriptP2PKH        = 0x00 // OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG: the 20-byte hash
	scriptP2SH         = 0x01 // OP_HASH160 <20> OP_EQUAL: the 20-byte hash
	scriptP2PKEven     = 0x02 // <33: 0x02 x> OP_CHECKSIG: x
	scriptP2PKOdd      = 0x03 // <33: 0x03 x> OP_CHECKSIG: x
	scriptP2PKFullEven = 0x04 // <65: 0x04 x y> OP_CHECKSIG with y even: x
	scriptP2PKFullOdd  = 0x05 // <65: 0x04 x y> OP_CHECKSIG with y odd: x
	scriptSpecialCount = 6
)

// coreMaxScriptSize is Core's MAX_SCRIPT_SIZE (10,000 bytes): no script
// longer than that can be spent, and ScriptCompression's reader refuses to
// materialise one (see readScript).
const coreMaxScriptSize = txscript.MaxScriptSize

// AppendCompressedScript appends script in Core's compressed form
// (ScriptCompression::Ser): one of the six special forms when
// compressScript recognises one (P2PKH and P2SH in 21 bytes, P2PK in 33),
// otherwise VARINT(len(script)+6) and the script itself.
//
// Like Core it writes a raw script of any length, even one longer than
// MAX_SCRIPT_SIZE that ReadCompressedScript will give back as a lone
// OP_RETURN; Core never stores such a coin (it does not add unspendable
// outputs to the UTXO set), so the loss is of nothing spendable. (Core
// holds the length plus six in a 32-bit unsigned int; no script in a
// block comes near 2^32 bytes, so the difference cannot show.)
func AppendCompressedScript(dst []byte, script []byte) []byte {
	if out, ok := compressScript(dst, script); ok {
		return out
	}
	dst = AppendVarInt(dst, uint64(len(script))+scriptSpecialCount)
	return append(dst, script...)
}

// compressScript appends script's special form and reports true if it has
// one. The conditions are Core's (compressor.cpp: IsToKeyID, IsToScriptID,
// IsToPubKey, CompressScript), byte for byte: exact templates only, a
// 33-byte key only with the tag 0x02 or 0x03 (its x is not checked, and it
// need not be on the curve: it is stored and given back verbatim), and a
// 65-byte key only with the tag 0x04 and only if it is a valid point (a
// hybrid 0x06/0x07 key, or one off the curve, could not be rebuilt from x
// and a parity bit, so it stays raw).
func compressScript(dst, script []byte) ([]byte, bool) {
	switch len(script) {
	case 25:
		if script[0] == txscript.OP_DUP && script[1] == txscript.OP_HASH160 && script[2] == txscript.OP_DATA_20 &&
			script[23] == txscript.OP_EQUALVERIFY && script[24] == txscript.OP_CHECKSIG {
			return append(append(dst, scriptP2PKH), script[3:23]...), true
		}
	case 23:
		if script[0] == txscript.OP_HASH160 && script[1] == txscript.OP_DATA_20 && script[22] == txscript.OP_EQUAL {
			return append(append(dst, scriptP2SH), script[2:22]...), true
		}
	case 35:
		if script[0] == txscript.OP_DATA_33 && script[34] == txscript.OP_CHECKSIG &&
			(script[1] == scriptP2PKEven || script[1] == scriptP2PKOdd) {
			return append(append(dst, script[1]), script[2:34]...), true
		}
	case 67:
		if script[0] == txscript.OP_DATA_65 && script[66] == txscript.OP_CHECKSIG && script[1] == 0x04 {
			// Core's CPubKey::IsFullyValid: libsecp256k1 parses the
			// key, which needs x and y below the field prime and the
			// point on the curve; btcec's parser checks the same.
			if _, err := btcec.ParsePubKey(script[1:66]); err != nil {
				return dst, false
			}
			return append(append(dst, scriptP2PKFullEven|script[65]&1), script[2:34]...), true
		}
	}
	return dst, false
}

// specialScriptSize is how many bytes follow a special form's first byte
// (Core's GetSpecialScriptSize): a 20-byte hash for P2PKH and P2SH, a
// 32-byte x for the four P2PK forms.
func specialScriptSize(kind uint64) int {
	if kind <= scriptP2SH {
		return 20
	}
	return 32
}

// ReadCompressedScript reads one compressed script from the start of b and
// returns the script with the number of bytes it took. The script is a new
// slice, never a view of b, so b may be reused.
//
// It reads what Core's ScriptCompression::Unser reads. Two cases are
// worth spelling out:
//   - A raw script longer than MAX_SCRIPT_SIZE (10,000 bytes) is skipped
//     and given back as a lone OP_RETURN, exactly as Core does (so
//     re-encoding it does not reproduce its bytes); like Core's stream,
//     it fails if b holds fewer bytes than the length claims, and it
//     allocates nothing for them.
//   - A 0x04/0x05 form whose x is not on the curve (or not below the
//     field prime) is an error, where Core differs: it ignores
//     DecompressScript's failure and leaves the script empty, an output
//     anyone could spend. Core's CompressScript only writes those forms
//     for valid points, so such bytes can only be corruption or an
//     attack, and are reported as such.
//
// The length VARINT is read as Core reads it, into 32 bits: above
// 2^32-1 is an error.
func ReadCompressedScript(b []byte) ([]byte, int, error) {
	c := coinCursor{b: b}
	script, err := c.script()
	if err != nil {
		return nil, 0, fmt.Errorf("utxo: %w", err)
	}
	return script, c.off, nil
}

// script reads one compressed script at the cursor; see
// ReadCompressedScript.
func (c *coinCursor) script() ([]byte, error) {
	start := c.off
	size, err := c.varInt("script size", math.MaxUint32)
	if err != nil {
		return nil, err
	}
	if size < scriptSpecialCount {
		data, err := c.take("special script", start, uint64(specialScriptSize(size)))
		if err != nil {
			return nil, err
		}
		script, err := decompressScript(size, data)
		if err != nil {
			return nil, fmt.Errorf("script at offset %d: %w", start, err)
		}
		return script, nil
	}
	size -= scriptSpecialCount
	if size > coreMaxScriptSize {
		// Core: "Overly long script, replace with a short invalid one",
		// then ignore(size), which throws if the stream runs out.
		if _, err := c.take("oversized script", start, size); err != nil {
			return nil, err
		}
		return []byte{txscript.OP_RETURN}, nil
	}
	raw, err := c.take("script", start, size)
	if err != nil {
		return nil, err
	}
	// size is at most coreMaxScriptSize and the bytes are there: the
	// allocation is bounded by both.
	return append(make([]byte, 0, len(raw)), raw...), nil
}

// decompressScript rebuilds the script of special form kind (0 to 5) from
// its 20 or 32 bytes (Core's DecompressScript).
func decompressScript(kind uint64, data []byte) ([]byte, error) {
	switch kind {
	case scriptP2PKH:
		s := make([]byte, 0, 25)
		s = append(s, txscript.OP_DUP, txscript.OP_HASH160, txscript.OP_DATA_20)
		s = append(s, data...)
		return append(s, txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG), nil
	case scriptP2SH:
		s := make([]byte, 0, 23)
		s = append(s, txscript.OP_HASH160, txscript.OP_DATA_20)
		s = append(s, data...)
		return append(s, txscript.OP_EQUAL), nil
	case scriptP2PKEven, scriptP2PKOdd:
		s := make([]byte, 0, 35)
		s = append(s, txscript.OP_DATA_33, byte(kind))
		s = append(s, data...)
		return append(s, txscript.OP_CHECKSIG), nil
	default: // scriptP2PKFullEven, scriptP2PKFullOdd
		// The key is x with the parity of y in the form's low bit:
		// parse it as the compressed key 0x02/0x03 x, which solves the
		// curve equation for y, and write it out whole.
		var compressed [btcec.PubKeyBytesLenCompressed]byte
		compressed[0] = byte(kind) - 2
		copy(compressed[1:], data)
		key, err := btcec.ParsePubKey(compressed[:])
		if err != nil {
			return nil, fmt.Errorf("uncompressed P2PK form %d: x is not a secp256k1 point: %w", kind, err)
		}
		s := make([]byte, 0, 67)
		s = append(s, txscript.OP_DATA_65)
		s = append(s, key.SerializeUncompressed()...)
		return append(s, txscript.OP_CHECKSIG), nil
	}
}
