package consensus

// medianTimeSpan is the number of headers whose timestamps give the median
// time past.
const medianTimeSpan = 11

// MedianTimePast returns the median of the timestamps of the up to 11 headers
// ending at height (fewer near the genesis), as Bitcoin Core's
// CBlockIndex::GetMedianTimePast does. anc must hold every height from
// height-10 (or 0) to height.
func MedianTimePast(anc Ancestors, height int32) uint32 {
	var ts [medianTimeSpan]uint32
	n := 0
	for h := height; h >= 0 && n < medianTimeSpan; h-- {
		ts[n] = anc.HeaderAt(h).Timestamp
		n++
	}
	// Insertion sort: at most 11 values, already nearly sorted.
	for i := 1; i < n; i++ {
		v := ts[i]
		j := i - 1
		for j >= 0 && ts[j] > v {
			ts[j+1] = ts[j]
			j--
		}
		ts[j+1] = v
	}
	return ts[n/2]
}

// NextWorkRequired returns the bits that header h, at ctx.Height on top of
// ctx.Parent, must carry: Bitcoin Core's GetNextWorkRequired and
// CalculateNextWorkRequired, with the period length taken from
// ctx.Params.RetargetInterval.
//
// Within a period the bits stay those of the parent. With
// AllowMinDifficulty (testnet's "20-minute rule"), a header more than
// 2*TargetSpacing after its parent must use PowLimitBits instead (Core demands
// exactly these bits, so such a header may not keep the real difficulty), and
// any other header must use the bits of the last header before it that is
// not such an exception, looking back no further than the period's first
// header. At a period boundary the target is scaled by how long the
// previous period took (from its first header's timestamp to its last's,
// clamped to a quarter and four times TargetTimespan) and capped at the pow
// limit; under EnforceBIP94 the target scaled is the first header's
// rather than the last's. With NoRetargeting (regtest) a boundary keeps the
// parent's bits.
func NextWorkRequired(ctx *Context, h *Header) uint32 {
	p := ctx.Params
	last := ctx.Parent
	lastHeight := ctx.Height - 1
	interval := p.RetargetInterval

	if ctx.Height%interval != 0 {
		if !p.AllowMinDifficulty {
			return last.Bits
		}
		// The testnet 20-minute rule.
		if int64(h.Timestamp) > int64(last.Timestamp)+2*p.TargetSpacing {
			return p.PowLimitBits
		}
		// Walk back to the last header that is not a min-difficulty
		// exception, stopping at the period's first header.
		if c, ok := ctx.Ancestors.(RegularBitsCache); ok {
			if b, ok := c.RegularBits(lastHeight); ok {
				return b
			}
		}
		b, height := last.Bits, lastHeight
		for height > 0 && height%interval != 0 && b == p.PowLimitBits {
			height--
			b = ctx.Ancestors.HeaderAt(height).Bits
		}
		return b
	}

	if p.NoRetargeting {
		return last.Bits
	}
	// The period that just ended: from the header at Height-interval
	// (Core's pindexFirst) to the parent.
	first := ctx.Ancestors.HeaderAt(lastHeight - (interval - 1))
	actual := int64(last.Timestamp) - int64(first.Timestamp)
	if minSpan := p.TargetTimespan / 4; actual < minSpan {
		actual = minSpan
	}
	if maxSpan := p.TargetTimespan * 4; actual > maxSpan {
		actual = maxSpan
	}
	base := last.Bits
	if p.EnforceBIP94 {
		base = first.Bits
	}
	target, _, _ := CompactToU256(base)
	// As in Core: multiply modulo 2^256, then divide.
	target = target.mul64(uint64(actual)).div64(uint64(p.TargetTimespan))
	if target.Cmp(p.PowLimit) > 0 {
		target = p.PowLimit
	}
	return U256ToCompact(target)
}

// RegularBitsCache is an optional interface of Ancestors for networks with
// the 20-minute rule. RegularBits returns what NextWorkRequired's walk
// would find starting at height: the bits of the last header at or below
// height that is not a minimum-difficulty exception, stopping at the first
// header of height's period. ok is false when the cache does not know.
//
// Without it the walk reads back up to a whole period for every header of
// a run of exceptions (testnet3 has long ones), which makes validating such
// runs quadratic in the period length.
type RegularBitsCache interface {
	RegularBits(height int32) (bits uint32, ok bool)
}
