package utxo

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"math/bits"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"golang.org/x/crypto/chacha20"

	"github.com/watchnode/watchnode/node/protocol"
)

const (
	// muLimbs is the number of 64-bit limbs of a 3072-bit number.
	muLimbs = 48
	// muBytes is the size of a 3072-bit number in bytes (Core's
	// Num3072::BYTE_SIZE).
	muBytes = 384
	// muPrimeDiff is 2^3072 - p: the modulus p = 2^3072 - 1103717 is the
	// largest 3072-bit safe prime, and 2^3072 ≡ muPrimeDiff (mod p) is what
	// makes the reduction cheap.
	muPrimeDiff = 1103717
	// muHashStateSize is the size of MarshalBinary's output: numerator then
	// denominator, each 384 bytes little-endian (Core's serialization of
	// MuHash3072).
	muHashStateSize = 2 * muBytes
)

// num3072 is a 3072-bit number in little-endian 64-bit limbs. Values held
// by a MuHash are kept fully reduced (below p); mulMod accepts any 3072-bit
// inputs, so elements straight from ChaCha20 need no reduction first.
type num3072 [muLimbs]uint64

// muOne is the number 1, the empty set's numerator and denominator.
var muOne = num3072{1}

// muModulus is p as a math/big number, read (never written) by Finalize's
// modular inverse; concurrent reads of a big.Int are safe.
var muModulus = func() *big.Int {
	p := new(big.Int).Lsh(big.NewInt(1), 3072)
	return p.Sub(p, big.NewInt(muPrimeDiff))
}()

// MuHash is Bitcoin Core's MuHash3072 accumulator of a set of byte strings,
// as `gettxoutsetinfo muhash` and the coinstats index compute it over the
// UTXO set (each coin serialized by AppendMuHashCoin). An element is mapped
// to a number modulo p = 2^3072 - 1103717 (SHA-256 of it keys ChaCha20,
// whose first 384 bytes of keystream are read little-endian); the set is the
// product of its elements. Removal multiplies a separate denominator, so
// updates need no modular inverse: that is paid once, in Finalize. The hash
// therefore does not depend on the order of insertions and removals, and a
// removal cancels an earlier (or later) insertion of the same bytes.
//
// It is written out here because no well-kept Go library implements Core's
// construction (the element mapping, the modulus, the byte orders), and
// math/big would need a general division per update where p's special form
// needs two cheap folds, on heap-allocated numbers. The accumulator changes
// for every coin created and spent during IBD, so Insert and Remove run
// without allocating: fixed-size 48-limb numbers, Karatsuba over an
// unrolled schoolbook kernel with math/bits, and reduction by folding with
// 2^3072 ≡ 1103717 (mod p).
//
// The zero value is not usable; start from NewMuHash. A MuHash is a plain
// value (copying it copies the accumulator) and is not safe for concurrent
// mutation.
type MuHash struct {
	num, den num3072
}

// NewMuHash returns the accumulator of the empty set (numerator and
// denominator both 1).
func NewMuHash() *MuHash {
	return &MuHash{num: muOne, den: muOne}
}

// Insert adds data to the set: the numerator is multiplied by data's
// element. It does not allocate.
func (m *MuHash) Insert(data []byte) {
	var e num3072
	e.setElement(data)
	m.num.mulMod(&m.num, &e)
}

// Remove takes data out of the set: the denominator is multiplied by data's
// element, so no inverse is computed until Finalize. Removing bytes never
// inserted is allowed (the set then has a negative count of them, as in
// Core). It does not allocate.
func (m *MuHash) Remove(data []byte) {
	var e num3072
	e.setElement(data)
	m.den.mulMod(&m.den, &e)
}

// Combine makes m the union of m and o (Core's operator*=): numerators and
// denominators are multiplied. This lets accumulators of parts of a set
// (one per block, one per worker) be merged. o may be m itself.
func (m *MuHash) Combine(o *MuHash) {
	m.num.mulMod(&m.num, &o.num)
	m.den.mulMod(&m.den, &o.den)
}

// Finalize returns the set's hash as Core's MuHash3072::Finalize computes
// it: numerator / denominator mod p, written as 384 bytes little-endian,
// hashed with SHA-256. The 32 bytes are returned in the order Core's
// uint256 holds them, so the result's String() prints what Core's
// gettxoutsetinfo prints as "muhash". Unlike Core, m is not changed (Core
// folds the quotient back into its numerator).
func (m *MuHash) Finalize() chainhash.Hash {
	inv := muOne
	if m.den != muOne {
		inv.inverse(&m.den)
	}
	// The multiplication also fully reduces a numerator that is not below p.
	var q num3072
	q.mulMod(&m.num, &inv)
	var b [muBytes]byte
	q.putLE(b[:])
	return chainhash.Hash(sha256.Sum256(b[:]))
}

// MarshalBinary returns the running accumulator, to be persisted with the
// UTXO set and resumed after a restart: the numerator then the denominator,
// each 384 bytes little-endian (768 bytes in all, the same layout as Core's
// serialization of MuHash3072).
func (m *MuHash) MarshalBinary() ([]byte, error) {
	b := make([]byte, muHashStateSize)
	m.num.putLE(b[:muBytes])
	m.den.putLE(b[muBytes:])
	return b, nil
}

// UnmarshalBinary restores an accumulator written by MarshalBinary. It
// rejects, leaving m unchanged, anything MarshalBinary cannot have written:
// a length other than 768 bytes, a numerator or denominator not below p
// (Core accepts and reduces those; here they mean a corrupt record), and a
// zero numerator or denominator (no product of elements is zero, and a
// zero denominator has no inverse).
func (m *MuHash) UnmarshalBinary(b []byte) error {
	if len(b) != muHashStateSize {
		return fmt.Errorf("utxo: MuHash state is %d bytes, want %d", len(b), muHashStateSize)
	}
	var num, den num3072
	num.setLE(b[:muBytes])
	den.setLE(b[muBytes:])
	for _, part := range []struct {
		name string
		v    *num3072
	}{{"numerator", &num}, {"denominator", &den}} {
		if !part.v.less(&muP) {
			return fmt.Errorf("utxo: MuHash state's %s is not below the modulus 2^3072-%d", part.name, muPrimeDiff)
		}
		if part.v.isZero() {
			return fmt.Errorf("utxo: MuHash state's %s is zero", part.name)
		}
	}
	m.num, m.den = num, den
	return nil
}

// muP is p in limbs, the bound below which numbers are reduced.
var muP = func() num3072 {
	var p num3072
	for i := range p {
		p[i] = ^uint64(0)
	}
	p[0] = ^uint64(muPrimeDiff - 1)
	return p
}()

// AppendMuHashCoin appends to dst the bytes Core hashes into the UTXO set's
// MuHash for one coin (TxOutSer in Core's kernel/coinstats.cpp): the
// outpoint (txid's 32 bytes as stored, vout as uint32 little-endian), the
// uint32 little-endian height<<1 | coinbase, then the output as the wire
// serializes it (int64 little-endian value, CompactSize script length,
// script). Pass the result to Insert when the coin is created and to Remove
// when it is spent; reusing dst across coins avoids allocating.
func AppendMuHashCoin(dst []byte, op wire.OutPoint, height int32, coinbase bool, out *wire.TxOut) []byte {
	dst = append(dst, op.Hash[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, op.Index)
	code := uint32(height) << 1
	if coinbase {
		code |= 1
	}
	dst = binary.LittleEndian.AppendUint32(dst, code)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(out.Value))
	dst = protocol.AppendCompactSize(dst, uint64(len(out.PkScript)))
	return append(dst, out.PkScript...)
}

// setElement sets z to data's element (Core's MuHash3072::ToNum3072): the
// SHA-256 of data keys ChaCha20 (zero nonce, block counter 0), and 384
// bytes of keystream are read as a little-endian number. The result is not
// reduced modulo p; mulMod does not need it to be.
func (z *num3072) setElement(data []byte) {
	key := sha256.Sum256(data)
	z.setChaCha(&key)
}

// setChaCha sets z to the 384 bytes of ChaCha20 keystream under key, read
// little-endian. Split from setElement so tests can check the keystream
// step on its own.
func (z *num3072) setChaCha(key *[32]byte) {
	var nonce [chacha20.NonceSize]byte
	// The cipher does not escape, so it lives on the stack: no allocation.
	c, err := chacha20.NewUnauthenticatedCipher(key[:], nonce[:])
	if err != nil {
		panic("utxo: chacha20: " + err.Error()) // the sizes are constants
	}
	var buf [muBytes]byte
	c.XORKeyStream(buf[:], buf[:]) // XOR with zeros: the keystream itself
	z.setLE(buf[:])
}

// setLE sets z from 384 little-endian bytes.
func (z *num3072) setLE(b []byte) {
	b = b[:muBytes]
	for i := range z {
		z[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
}

// putLE writes z to 384 little-endian bytes.
func (z *num3072) putLE(b []byte) {
	b = b[:muBytes]
	for i, l := range z {
		binary.LittleEndian.PutUint64(b[8*i:], l)
	}
}

// less reports whether z < y.
func (z *num3072) less(y *num3072) bool {
	for i := muLimbs - 1; i >= 0; i-- {
		if z[i] != y[i] {
			return z[i] < y[i]
		}
	}
	return false
}

// isZero reports whether z is 0.
func (z *num3072) isZero() bool {
	var acc uint64
	for _, l := range z {
		acc |= l
	}
	return acc == 0
}

// mulMod sets z = x*y mod p, fully reduced (z < p), for any 3072-bit x and
// y. z may alias x or y: the whole product is formed before z is written.
func (z *num3072) mulMod(x, y *num3072) {
	var t [2 * muLimbs]uint64
	mulFull(&t, x, y)
	z.reduce(&t)
}

// mulFull sets t to the 6144-bit product x*y. Two levels of Karatsuba
// (48 limbs to 24 to 12) turn the 2304 limb products of schoolbook into
// 9 schoolbook products of 12 limbs, 1296 limb products, for some
// additions. Measured side by side (a shared 2-core Xeon): 2.1-2.6 µs,
// against 5-6 µs for a rolled 48-limb schoolbook loop and 2.2-2.6 µs for
// math/big's Mul (assembly) of the same numbers. A third level (6-limb
// kernel) would save fewer products than its additions cost.
func mulFull(t *[2 * muLimbs]uint64, x, y *num3072) {
	x0, x1 := (*[24]uint64)(x[:24]), (*[24]uint64)(x[24:])
	y0, y1 := (*[24]uint64)(y[:24]), (*[24]uint64)(y[24:])
	mul24((*[48]uint64)(t[:48]), x0, y0)
	mul24((*[48]uint64)(t[48:]), x1, y1)
	var dx, dy [24]uint64
	neg := absDiff(dx[:], x0[:], x1[:]) != absDiff(dy[:], y1[:], y0[:])
	var m [48]uint64
	mul24(&m, &dx, &dy)
	var s [48]uint64
	karatsubaMiddle(t[:], m[:], s[:], neg)
}

// mul24 sets t = x*y for 24-limb x and y: one Karatsuba level over mul12.
func mul24(t *[48]uint64, x, y *[24]uint64) {
	x0, x1 := (*[12]uint64)(x[:12]), (*[12]uint64)(x[12:])
	y0, y1 := (*[12]uint64)(y[:12]), (*[12]uint64)(y[12:])
	mul12((*[24]uint64)(t[:24]), x0, y0)
	mul12((*[24]uint64)(t[24:]), x1, y1)
	var dx, dy [12]uint64
	neg := absDiff(dx[:], x0[:], x1[:]) != absDiff(dy[:], y1[:], y0[:])
	var m [24]uint64
	mul12(&m, &dx, &dy)
	var s [24]uint64
	karatsubaMiddle(t[:], m[:], s[:], neg)
}

// karatsubaMiddle completes a subtractive Karatsuba product of n-limb x
// and y, n = len(m), split as x = x0 + x1*B and y = y0 + y1*B with
// B = 2^(32n). t (2n limbs) holds z0 = x0*y0 in its low n limbs and
// z2 = x1*y1 in its high n; m = |x0-x1| * |y1-y0|, to be taken negative if
// neg. The middle term x0*y1 + x1*y0 = z0 + z2 + (x0-x1)(y1-y0) is formed
// in s (n limbs of scratch) and added at limb n/2. Absolute differences,
// rather than Karatsuba's sums, keep every factor exactly n/2 limbs: no
// carry bits to multiply in.
func karatsubaMiddle(t, m, s []uint64, neg bool) {
	n := len(m)
	t, s = t[:2*n], s[:n]
	z0, z2 := t[:n], t[n:]
	// s = z0 + z2 ± m in one pass, two independent carry chains: the
	// chains then overlap instead of waiting on each other.
	var top uint64 // s's bit n*64; the middle term is below 2^(64n+1)
	var ca, cb uint64
	if neg {
		for i := range s {
			var v uint64
			v, ca = bits.Add64(z0[i], z2[i], ca)
			s[i], cb = bits.Sub64(v, m[i], cb)
		}
		top = ca - cb // no underflow: the middle term is not negative
	} else {
		for i := range s {
			var v uint64
			v, ca = bits.Add64(z0[i], z2[i], ca)
			s[i], cb = bits.Add64(v, m[i], cb)
		}
		top = ca + cb
	}
	mid := t[n/2 : n/2+n]
	var c uint64
	for i := range mid {
		mid[i], c = bits.Add64(mid[i], s[i], c)
	}
	// What is left (at most 3) carries into the top quarter; the product
	// fits 2n limbs, so the carry stops there.
	c += top
	for i := n/2 + n; i < 2*n && c != 0; i++ {
		t[i], c = bits.Add64(t[i], c, 0)
	}
}

// mul12 sets t = x*y for 12-limb x and y, schoolbook, one row per limb of
// x with the row written out: Go does not unroll loops, and the loop
// overhead and register moves around bits.Mul64 were most of the time of
// a rolled loop.
func mul12(t *[24]uint64, x, y *[12]uint64) {
	var c uint64
	x0 := x[0]
	t[0], c = mulAdd(0, x0, y[0], 0)
	t[1], c = mulAdd(0, x0, y[1], c)
	t[2], c = mulAdd(0, x0, y[2], c)
	t[3], c = mulAdd(0, x0, y[3], c)
	t[4], c = mulAdd(0, x0, y[4], c)
	t[5], c = mulAdd(0, x0, y[5], c)
	t[6], c = mulAdd(0, x0, y[6], c)
	t[7], c = mulAdd(0, x0, y[7], c)
	t[8], c = mulAdd(0, x0, y[8], c)
	t[9], c = mulAdd(0, x0, y[9], c)
	t[10], c = mulAdd(0, x0, y[10], c)
	t[11], c = mulAdd(0, x0, y[11], c)
	t[12] = c
	for i := 1; i < 12; i++ {
		xi := x[i]
		// Row i adds xi*y into r = t[i:i+13]; r[12] is not yet written.
		r := (*[13]uint64)(t[i : i+13])
		r[0], c = mulAdd(r[0], xi, y[0], 0)
		r[1], c = mulAdd(r[1], xi, y[1], c)
		r[2], c = mulAdd(r[2], xi, y[2], c)
		r[3], c = mulAdd(r[3], xi, y[3], c)
		r[4], c = mulAdd(r[4], xi, y[4], c)
		r[5], c = mulAdd(r[5], xi, y[5], c)
		r[6], c = mulAdd(r[6], xi, y[6], c)
		r[7], c = mulAdd(r[7], xi, y[7], c)
		r[8], c = mulAdd(r[8], xi, y[8], c)
		r[9], c = mulAdd(r[9], xi, y[9], c)
		r[10], c = mulAdd(r[10], xi, y[10], c)
		r[11], c = mulAdd(r[11], xi, y[11], c)
		r[12] = c
	}
}

// mulAdd returns acc + a*b + carry as a low and a high limb; it cannot
// overflow two limbs ((2^64-1)^2 + 2*(2^64-1) = 2^128-1).
func mulAdd(acc, a, b, carry uint64) (lo, hi uint64) {
	hi, lo = bits.Mul64(a, b)
	var c uint64
	lo, c = bits.Add64(lo, acc, 0)
	hi += c
	lo, c = bits.Add64(lo, carry, 0)
	return lo, hi + c
}

// absDiff sets d = |a-b| (all of one length) and reports whether a < b.
// Comparing first (the top limbs nearly always settle it) leaves one
// subtraction pass rather than a subtraction and a negation.
func absDiff(d, a, b []uint64) bool {
	d, b = d[:len(a)], b[:len(a)]
	lt := false
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] != b[i] {
			lt = a[i] < b[i]
			break
		}
	}
	if lt {
		a, b = b, a
	}
	b = b[:len(a)]
	var borrow uint64
	for i := range a {
		d[i], borrow = bits.Sub64(a[i], b[i], borrow)
	}
	return lt
}

// reduce sets z to t mod p, fully reduced, for any 6144-bit t, using
// 2^3072 ≡ muPrimeDiff: t = lo + hi*2^3072 ≡ lo + hi*muPrimeDiff. The
// first fold leaves at most muPrimeDiff (21 bits) above 2^3072, the second
// at most one, and a final conditional subtraction of p brings the value
// below p.
func (z *num3072) reduce(t *[2 * muLimbs]uint64) {
	// Fold 1: z + top*2^3072 = lo + hi*muPrimeDiff.
	var top uint64
	for j := range muLimbs {
		hi, lo := bits.Mul64(t[muLimbs+j], muPrimeDiff)
		var c uint64
		lo, c = bits.Add64(lo, t[j], 0)
		hi += c
		lo, c = bits.Add64(lo, top, 0)
		z[j] = lo
		top = hi + c
	}
	// Fold 2: top <= muPrimeDiff, so top*muPrimeDiff < 2^41 fits one limb.
	var c uint64
	z[0], c = bits.Add64(z[0], top*muPrimeDiff, 0)
	for j := 1; j < muLimbs && c != 0; j++ {
		z[j], c = bits.Add64(z[j], 0, c)
	}
	if c != 0 {
		// The sum passed 2^3072 and wrapped to a value below 2^41, so
		// adding muPrimeDiff for the lost 2^3072 cannot carry again.
		z[0] += muPrimeDiff
	}
	// Now z < 2^3072; subtract p once if z >= p. Such z has every limb
	// but the lowest all ones, and z - p = z + muPrimeDiff - 2^3072 is
	// below muPrimeDiff.
	if z.geqP() {
		z[0] += muPrimeDiff
		for j := 1; j < muLimbs; j++ {
			z[j] = 0
		}
	}
}

// geqP reports whether z >= p, that is whether limbs 1..47 are all ones
// and limb 0 is at least 2^64 - muPrimeDiff. The top limb is looked at
// first: it settles the question for all but a 2^-64 fraction of values.
func (z *num3072) geqP() bool {
	for j := muLimbs - 1; j >= 1; j-- {
		if z[j] != ^uint64(0) {
			return false
		}
	}
	return z[0] >= ^uint64(muPrimeDiff-1)
}

// inverse sets z to x^-1 mod p. It runs only in Finalize (once per hash
// asked for, not per coin), so math/big's ModInverse is used rather than a
// hand-written constant-time inverse like Core's safegcd; the set being
// hashed is public, so timing does not matter. It measured 60-90 µs,
// which matters only if a hash is asked for every block (Core's coinstats
// index does); porting safegcd would be the next step then. The inverse
// of 0 (which no product of elements is) is taken to be 0.
func (z *num3072) inverse(x *num3072) {
	var b [muBytes]byte
	for i, l := range x {
		binary.BigEndian.PutUint64(b[muBytes-8*(i+1):], l)
	}
	v := new(big.Int).SetBytes(b[:])
	v.Mod(v, muModulus)
	if v.ModInverse(v, muModulus) == nil {
		*z = num3072{}
		return
	}
	v.FillBytes(b[:])
	for i := range z {
		z[i] = binary.BigEndian.Uint64(b[muBytes-8*(i+1):])
	}
}
