package consensus

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strings"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// U256 is an unsigned 256-bit integer stored as four 64-bit limbs, least
// significant first. It holds targets and chain work without the allocations
// of math/big. The zero value is 0. Arithmetic wraps modulo 2^256.
type U256 [4]uint64

// Add returns a + b modulo 2^256.
func (a U256) Add(b U256) U256 {
	var r U256
	var c uint64
	r[0], c = bits.Add64(a[0], b[0], 0)
	r[1], c = bits.Add64(a[1], b[1], c)
	r[2], c = bits.Add64(a[2], b[2], c)
	r[3], _ = bits.Add64(a[3], b[3], c)
	return r
}

// sub returns a - b modulo 2^256 and the borrow out (1 when b > a).
func (a U256) sub(b U256) (U256, uint64) {
	var r U256
	var c uint64
	r[0], c = bits.Sub64(a[0], b[0], 0)
	r[1], c = bits.Sub64(a[1], b[1], c)
	r[2], c = bits.Sub64(a[2], b[2], c)
	r[3], c = bits.Sub64(a[3], b[3], c)
	return r, c
}

// Cmp compares a and b and returns -1 if a < b, 0 if a == b and +1 if a > b.
func (a U256) Cmp(b U256) int {
	for i := 3; i >= 0; i-- {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// IsZero reports whether a is 0.
func (a U256) IsZero() bool { return a[0]|a[1]|a[2]|a[3] == 0 }

// bitLen returns the number of bits needed to represent a (0 for 0).
func (a U256) bitLen() int {
	for i := 3; i >= 0; i-- {
		if a[i] != 0 {
			return i*64 + bits.Len64(a[i])
		}
	}
	return 0
}

// not returns the bitwise complement of a (2^256 - 1 - a).
func (a U256) not() U256 { return U256{^a[0], ^a[1], ^a[2], ^a[3]} }

// lsh returns a << n modulo 2^256; n of 256 or more gives 0.
func (a U256) lsh(n uint) U256 {
	if n >= 256 {
		return U256{}
	}
	var r U256
	limbs, s := int(n/64), n%64
	for i := 3; i >= limbs; i-- {
		r[i] = a[i-limbs] << s
		if s != 0 && i-limbs-1 >= 0 {
			r[i] |= a[i-limbs-1] >> (64 - s)
		}
	}
	return r
}

// rsh returns a >> n; n of 256 or more gives 0.
func (a U256) rsh(n uint) U256 {
	if n >= 256 {
		return U256{}
	}
	var r U256
	limbs, s := int(n/64), n%64
	for i := 0; i+limbs < 4; i++ {
		r[i] = a[i+limbs] >> s
		if s != 0 && i+limbs+1 < 4 {
			r[i] |= a[i+limbs+1] << (64 - s)
		}
	}
	return r
}

// mul64 returns a * m modulo 2^256, as Core's arith_uint256 operator*= does.
func (a U256) mul64(m uint64) U256 {
	var r U256
	var carry uint64
	for i := 0; i < 4; i++ {
		hi, lo := bits.Mul64(a[i], m)
		var c uint64
		r[i], c = bits.Add64(lo, carry, 0)
		carry = hi + c
	}
	return r
}

// div64 returns a / d, rounded down. d must not be 0.
func (a U256) div64(d uint64) U256 {
	var q U256
	var rem uint64
	for i := 3; i >= 0; i-- {
		q[i], rem = bits.Div64(rem, a[i], d)
	}
	return q
}

// div returns u / v rounded down (Knuth's algorithm D on 64-bit limbs, as
// math/big does it). v must not be 0.
func (a U256) div(v U256) U256 {
	u := a
	n := 4
	for n > 0 && v[n-1] == 0 {
		n--
	}
	switch {
	case n == 0:
		panic("consensus: U256 division by zero")
	case n == 1:
		return u.div64(v[0])
	case u.Cmp(v) < 0:
		return U256{}
	}
	// Normalize so the divisor's top limb has its high bit set. Go defines
	// x >> 64 as 0, so s == 0 needs no special case.
	s := uint(bits.LeadingZeros64(v[n-1]))
	var vn [4]uint64
	for i := n - 1; i > 0; i-- {
		vn[i] = v[i]<<s | v[i-1]>>(64-s)
	}
	vn[0] = v[0] << s
	var un [5]uint64
	un[4] = u[3] >> (64 - s)
	for i := 3; i > 0; i-- {
		un[i] = u[i]<<s | u[i-1]>>(64-s)
	}
	un[0] = u[0] << s

	var q U256
	vtop, vnext := vn[n-1], vn[n-2]
	for j := 4 - n; j >= 0; j-- {
		qhat := ^uint64(0)
		if ujn := un[j+n]; ujn != vtop {
			var rhat uint64
			qhat, rhat = bits.Div64(ujn, un[j+n-1], vtop)
			x1, x2 := bits.Mul64(qhat, vnext)
			for x1 > rhat || (x1 == rhat && x2 > un[j+n-2]) {
				qhat--
				prev := rhat
				rhat += vtop
				if rhat < prev {
					break
				}
				x1, x2 = bits.Mul64(qhat, vnext)
			}
		}
		// Multiply and subtract: un[j:j+n+1] -= qhat * vn[:n].
		var mulCarry, borrow uint64
		for i := 0; i < n; i++ {
			hi, lo := bits.Mul64(qhat, vn[i])
			var c uint64
			lo, c = bits.Add64(lo, mulCarry, 0)
			mulCarry = hi + c
			un[j+i], c = bits.Sub64(un[j+i], lo, borrow)
			borrow = c
		}
		un[j+n], borrow = bits.Sub64(un[j+n], mulCarry, borrow)
		if borrow != 0 {
			// qhat was one too large: add the divisor back.
			qhat--
			var c uint64
			for i := 0; i < n; i++ {
				un[j+i], c = bits.Add64(un[j+i], vn[i], c)
			}
			un[j+n] += c
		}
		q[j] = qhat
	}
	return q
}

// Hex returns a as 64 hexadecimal digits, most significant first, the way
// Bitcoin Core prints chainwork over RPC.
func (a U256) Hex() string {
	var b [32]byte
	a.putBE(&b)
	return hex.EncodeToString(b[:])
}

// Float64 returns a as the nearest float64 (53 significant bits), for
// ratios and logarithms shown to people, never for consensus.
func (a U256) Float64() float64 {
	return math.Ldexp(float64(a[3]), 192) + math.Ldexp(float64(a[2]), 128) + math.Ldexp(float64(a[1]), 64) + float64(a[0])
}

// String returns a.Hex(), so U256 values print readably.
func (a U256) String() string { return a.Hex() }

// putBE writes a as 32 big-endian bytes.
func (a U256) putBE(b *[32]byte) {
	for i := 0; i < 4; i++ {
		binary.BigEndian.PutUint64(b[24-8*i:], a[i])
	}
}

// U256FromBig returns x as a U256. Only the low 256 bits of x's absolute
// value are kept, so callers should pass 0 <= x < 2^256.
func U256FromBig(x *big.Int) U256 {
	var b [32]byte
	raw := x.Bytes()
	if len(raw) > 32 {
		raw = raw[len(raw)-32:]
	}
	copy(b[32-len(raw):], raw)
	var a U256
	for i := 0; i < 4; i++ {
		a[i] = binary.BigEndian.Uint64(b[24-8*i:])
	}
	return a
}

// Big returns a as a new big.Int.
func (a U256) Big() *big.Int {
	var b [32]byte
	a.putBE(&b)
	return new(big.Int).SetBytes(b[:])
}

// HashToU256 reads the hash's bytes as a little-endian 256-bit number, as
// Bitcoin Core's UintToArith256 does, so that a block hash can be compared
// with its target.
func HashToU256(h *chainhash.Hash) U256 {
	return U256{
		binary.LittleEndian.Uint64(h[0:8]),
		binary.LittleEndian.Uint64(h[8:16]),
		binary.LittleEndian.Uint64(h[16:24]),
		binary.LittleEndian.Uint64(h[24:32]),
	}
}

// ParseU256Hex parses a number written in hexadecimal, as Core's
// -minimumchainwork takes it (up to 64 digits, an optional 0x).
func ParseU256Hex(s string) (U256, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if s == "" || len(s) > 64 {
		return U256{}, fmt.Errorf("want 1 to 64 hexadecimal digits, got %d", len(s))
	}
	x, ok := new(big.Int).SetString(s, 16)
	if !ok {
		return U256{}, fmt.Errorf("%q is not hexadecimal", s)
	}
	return U256FromBig(x), nil
}
