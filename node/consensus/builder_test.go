package consensus

import (
	"encoding/binary"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// testChain builds chains of mined headers for the rules to validate.
type testChain struct {
	tb     testing.TB
	p      *Params
	hs     []Header
	hashes []chainhash.Hash
	now    int64 // the Now of every context; far ahead unless a test sets it
}

func newTestChain(tb testing.TB, p *Params) *testChain {
	return &testChain{
		tb: tb, p: p,
		hs:     []Header{p.Genesis},
		hashes: []chainhash.Hash{p.GenesisHash},
		now:    1 << 33,
	}
}

// height returns the tip's height.
func (c *testChain) height() int32 { return int32(len(c.hs)) - 1 }

// ctxAt returns the context for a header at height h (1 <= h <= tip+1) on
// the branch below it; its Ancestors panic on any height >= h.
func (c *testChain) ctxAt(h int32) *Context {
	return &Context{
		Params:     c.p,
		Height:     h,
		Parent:     &c.hs[h-1],
		ParentHash: c.hashes[h-1],
		Ancestors:  &sliceAnc{hs: c.hs[:h]},
		Now:        c.now,
	}
}

// candidate builds a mined header at height h (on top of the header at h-1)
// with the given timestamp and version, and the given bits or, for bits 0,
// the bits the difficulty rule requires.
func (c *testChain) candidate(h int32, ts uint32, version int32, bits uint32) (Header, chainhash.Hash) {
	hd := Header{Version: version, PrevBlock: c.hashes[h-1], Timestamp: ts, Bits: bits}
	binary.LittleEndian.PutUint32(hd.MerkleRoot[:], uint32(h)) // distinct forks stay distinct
	if bits == 0 {
		hd.Bits = NextWorkRequired(c.ctxAt(h), &hd)
	}
	return hd, mine(c.tb, &hd)
}

// next builds a mined version-4 header on the tip, dt seconds after it.
func (c *testChain) next(dt int64, bits uint32) (Header, chainhash.Hash) {
	return c.candidate(c.height()+1, uint32(int64(c.hs[len(c.hs)-1].Timestamp)+dt), 4, bits)
}

// check runs CheckHeader on a header at height h.
func (c *testChain) check(h int32, hd *Header, hash *chainhash.Hash) error {
	return CheckHeader(c.ctxAt(h), hd, hash)
}

// add appends a header dt seconds after the tip, with the given bits (0:
// the required bits), failing the test unless the rules accept it.
func (c *testChain) add(dt int64, bits uint32) *Header {
	c.tb.Helper()
	hd, hash := c.next(dt, bits)
	if err := c.check(c.height()+1, &hd, &hash); err != nil {
		c.tb.Fatalf("adding height %d: %v", c.height()+1, err)
	}
	c.hs = append(c.hs, hd)
	c.hashes = append(c.hashes, hash)
	return &c.hs[len(c.hs)-1]
}

// extend adds n headers, each dt seconds after the last, at the required
// bits.
func (c *testChain) extend(n int, dt int64) {
	c.tb.Helper()
	for i := 0; i < n; i++ {
		c.add(dt, 0)
	}
}

// mine searches nonces until the header's hash meets its target and returns
// the hash. Headers with unusable bits are returned as they are.
func mine(tb testing.TB, h *Header) chainhash.Hash {
	target, ok := targetOf(h.Bits)
	if !ok {
		return h.Hash()
	}
	for nonce := uint32(0); ; nonce++ {
		h.Nonce = nonce
		hash := h.Hash()
		if HashToU256(&hash).Cmp(target) <= 0 {
			return hash
		}
		if nonce == 1<<24 {
			tb.Fatalf("no nonce found for bits %08x", h.Bits)
		}
	}
}

// synthParams returns n's parameters scaled down so chains stay short and
// cheap to mine: 16-header periods of 60-second spacing (so the 20-minute
// rule becomes a 2-minute rule), a pow limit of about 2^244 (4096 hashes a
// header, and low enough that target * 4 * timespan never wraps 256 bits),
// BIP34/66/65 from height 1, no checkpoints, and a freshly mined genesis.
func synthParams(tb testing.TB, n protocol.Network) *Params {
	p := ParamsFor(n)
	p.RetargetInterval = 16
	p.TargetSpacing = 60
	p.TargetTimespan = 16 * 60
	p.PowLimitBits = 0x1f0fffff
	p.PowLimit, _, _ = CompactToU256(p.PowLimitBits)
	p.BIP34Height, p.BIP66Height, p.BIP65Height = 1, 1, 1
	p.Checkpoints = nil
	g := Header{Version: 1, Timestamp: 1_700_000_000, Bits: p.PowLimitBits}
	p.GenesisHash = mine(tb, &g)
	p.Genesis = g
	return p
}

// refRetarget computes a retarget with math/big, from Core's
// CalculateNextWorkRequired: base target * clamped timespan / target
// timespan, capped at the pow limit.
func refRetarget(p *Params, baseBits, firstTime, lastTime uint32) uint32 {
	actual := int64(lastTime) - int64(firstTime)
	actual = max(actual, p.TargetTimespan/4)
	actual = min(actual, p.TargetTimespan*4)
	t, _, _ := refSetCompact(baseBits)
	t.Mul(t, bigInt(actual))
	t.Mod(t, two256)
	t.Quo(t, bigInt(p.TargetTimespan))
	if t.Cmp(p.PowLimit.Big()) > 0 {
		t = p.PowLimit.Big()
	}
	return refGetCompact(t)
}
