package consensus

// CompactToU256 decodes the compact "nBits" form of a target exactly as
// Bitcoin Core's arith_uint256::SetCompact does. The top byte is a size in
// bytes and the low 23 bits a mantissa; bit 23 is a sign. negative reports a
// set sign bit with a nonzero mantissa, overflow a value that does not fit in
// 256 bits (target then holds the bits that did fit, as in Core).
func CompactToU256(bits uint32) (target U256, negative, overflow bool) {
	size := bits >> 24
	word := uint64(bits & 0x007fffff)
	if size <= 3 {
		word >>= 8 * (3 - size)
		target = U256{word}
	} else {
		target = U256{word}.lsh(uint(8 * (size - 3)))
	}
	negative = word != 0 && bits&0x00800000 != 0
	overflow = word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32))
	return target, negative, overflow
}

// U256ToCompact encodes a non-negative target in the compact "nBits" form,
// exactly as Bitcoin Core's arith_uint256::GetCompact does (rounding down to
// the 23-bit mantissa).
func U256ToCompact(a U256) uint32 {
	size := uint32(a.bitLen()+7) / 8
	var compact uint32
	if size <= 3 {
		compact = uint32(a[0] << (8 * (3 - size)))
	} else {
		compact = uint32(a.rsh(uint(8 * (size - 3)))[0])
	}
	// The mantissa's top bit is the sign: if it is set, use one more byte.
	if compact&0x00800000 != 0 {
		compact >>= 8
		size++
	}
	return compact | size<<24
}

// targetOf returns the target bits encodes and whether it is usable as a
// proof-of-work target at all: positive, not negative and not overflowing.
func targetOf(bits uint32) (U256, bool) {
	t, neg, over := CompactToU256(bits)
	return t, !neg && !over && !t.IsZero()
}

// Work returns the expected number of hashes needed to find a header with
// the given bits, as Bitcoin Core's GetBlockProof computes it:
// 2^256 / (target+1), written as (~target / (target+1)) + 1 so that it fits
// in 256 bits. Bits that encode a negative, overflowing or zero target have
// no work: Work returns 0.
//
// Work divides two 256-bit numbers without allocating; WorkCache saves even
// that for the long runs of headers that share their bits.
func Work(bits uint32) U256 {
	t, ok := targetOf(bits)
	if !ok {
		return U256{}
	}
	// target+1 cannot wrap: a target of 2^256-1 would need a size byte
	// that CompactToU256 flags as overflow.
	return t.not().div(t.Add(U256{1})).Add(U256{1})
}

// WorkCache remembers the work of the last bits value it was asked about.
// Headers change bits only at retargets (and at testnet's minimum-difficulty
// exceptions), so a chain summing its work through one WorkCache computes
// each distinct value once per run. The zero value is ready to use (bits 0
// has work 0). A WorkCache is not safe for concurrent use.
type WorkCache struct {
	bits uint32
	work U256
}

// Work returns Work(bits), computing it only when bits differs from the
// previous call's.
func (c *WorkCache) Work(bits uint32) U256 {
	if bits != c.bits {
		c.bits, c.work = bits, Work(bits)
	}
	return c.work
}
