package chain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// Presync is Bitcoin Core's headers presync, in a simplified form: it lets
// the node download a peer's chain that does not yet reach the network's
// minimum chain work without storing it, so no peer can make the node keep
// unbounded low-work headers.
//
// In the PRESYNC phase every header is fully validated as it streams by,
// keeping only a ring of the last 2048 headers (enough for the difficulty
// and median-time rules) and, every commitInterval headers, a 32-bit salted
// hash of the header (a commitment). Once the chain's work reaches the
// minimum, the REDOWNLOAD phase fetches the same headers again from the
// anchor; each is checked against the commitments and buffered until the
// next commitment matches, then released to the real chain. A peer that
// serves a different chain the second time is caught at the next
// commitment, with at most one commitment interval of headers buffered.
//
// Memory: the ring (160 KB) plus 4 bytes per commitInterval headers of the
// peer's chain; the chain's length is itself bounded by the timestamp rules
// (at most maxHeadersPerSecond headers per second since the anchor).
type Presync struct {
	c      *Chain
	anchor int32 // main-chain height the peer's chain continues from
	salt   [16]byte

	ring       [ringSize]consensus.Header
	height     int32
	last       chainhash.Hash
	work       consensus.U256
	works      consensus.WorkCache
	commits    []uint32
	target     int32 // height where the work reached the minimum (REDOWNLOAD)
	anchorTime int64

	redownloading bool
	rdHeight      int32
	rdLast        chainhash.Hash
	rdWork        consensus.U256
	buffer        []consensus.Header
	bufHashes     []chainhash.Hash
}

const (
	ringSize       = 2048 // >= RetargetInterval+1
	commitInterval = 2000
	// maxHeadersPerSecond bounds a chain's length by its timestamps: each
	// header must be later than the median of the 11 before it, so time
	// advances at least a second every 6 headers.
	maxHeadersPerSecond = 6
)

// Errors of a presync.
var (
	ErrPresyncMismatch = errors.New("redownloaded headers differ from the presynced chain")
	ErrPresyncTooLong  = errors.New("more headers than their timestamps allow")
)

// NewPresync starts a presync of a peer's chain continuing the main chain's
// tip.
func (c *Chain) NewPresync() *Presync {
	p := &Presync{c: c, anchor: c.Height(), height: c.Height(), last: c.tipHash, work: c.tipWork}
	p.anchorTime = int64(c.TipHeader().Timestamp)
	rand.Read(p.salt[:])
	p.rdHeight, p.rdLast, p.rdWork = p.anchor, p.last, p.work
	return p
}

// NeedsPresync reports whether the main chain is below the minimum chain
// work, so that new headers must be presynced before they are stored.
func (c *Chain) NeedsPresync() bool { return c.tipWork.Cmp(c.params.MinimumChainWork) < 0 }

// Anchor returns the main-chain height the presync continues from; the
// redownload asks for headers after it.
func (p *Presync) Anchor() int32 { return p.anchor }

// Redownloading reports whether the presync reached the minimum work and is
// now fetching the chain again.
func (p *Presync) Redownloading() bool { return p.redownloading }

// Height returns how far the current phase has got.
func (p *Presync) Height() int32 {
	if p.redownloading {
		return p.rdHeight
	}
	return p.height
}

// Target returns the height at which the peer's chain reached the minimum
// work (valid once redownloading).
func (p *Presync) Target() int32 { return p.target }

// Done reports whether the whole presynced chain has been redownloaded and
// released.
func (p *Presync) Done() bool { return p.redownloading && p.rdHeight >= p.target && len(p.buffer) == 0 }

// HeaderAt implements consensus.Ancestors over the ring and the main chain.
func (p *Presync) HeaderAt(h int32) *consensus.Header {
	if h <= p.anchor {
		return &p.c.headers[h]
	}
	return &p.ring[h%ringSize]
}

func (p *Presync) commitment(hash *chainhash.Hash) uint32 {
	s := sha256.New()
	s.Write(p.salt[:])
	s.Write(hash[:])
	var sum [32]byte
	return binary.LittleEndian.Uint32(s.Sum(sum[:0]))
}

// Process takes the next headers from the peer. In PRESYNC it validates
// them and returns nothing to store; in REDOWNLOAD it returns the headers
// (and hashes) that are now proven to be the presynced chain, for Accept.
// hashes may be nil.
func (p *Presync) Process(headers []consensus.Header, hashes []chainhash.Hash, now int64) ([]consensus.Header, []chainhash.Hash, error) {
	if hashes == nil {
		hashes = make([]chainhash.Hash, len(headers))
		for i := range headers {
			hashes[i] = headers[i].Hash()
		}
	}
	if p.redownloading {
		return p.redownload(headers, hashes)
	}
	for i := range headers {
		h := &headers[i]
		height := p.height + 1
		ctx := consensus.Context{Params: p.c.params, Height: height, Parent: p.HeaderAt(p.height), ParentHash: p.last, Ancestors: p, Now: now}
		if err := consensus.CheckHeader(&ctx, h, &hashes[i]); err != nil {
			return nil, nil, err
		}
		if limit := maxHeadersPerSecond * (now + p.c.params.MaxFutureTime - p.anchorTime); int64(height-p.anchor) > limit {
			return nil, nil, fmt.Errorf("%w: %d headers after height %d", ErrPresyncTooLong, height-p.anchor, p.anchor)
		}
		p.ring[height%ringSize] = *h
		p.height, p.last = height, hashes[i]
		p.work = p.work.Add(p.works.Work(h.Bits))
		if (height-p.anchor)%commitInterval == 0 {
			p.commits = append(p.commits, p.commitment(&hashes[i]))
		}
		if p.work.Cmp(p.c.params.MinimumChainWork) >= 0 {
			// Enough work: the rest of this batch is fetched again too.
			p.target = height
			p.redownloading = true
			return nil, nil, nil
		}
	}
	return nil, nil, nil
}

func (p *Presync) redownload(headers []consensus.Header, hashes []chainhash.Hash) ([]consensus.Header, []chainhash.Hash, error) {
	var outH []consensus.Header
	var outHashes []chainhash.Hash
	for i := range headers {
		if headers[i].PrevBlock != p.rdLast {
			return nil, nil, fmt.Errorf("%w: header at height %d does not follow %s", ErrPresyncMismatch, p.rdHeight+1, p.rdLast)
		}
		p.rdHeight++
		p.rdLast = hashes[i]
		if p.rdHeight > p.target {
			// Past the proven part: the chain has the minimum work by now.
			outH, outHashes = append(outH, p.buffer...), append(outHashes, p.bufHashes...)
			p.buffer, p.bufHashes = nil, nil
			outH, outHashes = append(outH, headers[i:]...), append(outHashes, hashes[i:]...)
			p.rdHeight += int32(len(headers) - i - 1)
			p.rdLast = hashes[len(hashes)-1]
			return outH, outHashes, nil
		}
		p.rdWork = p.rdWork.Add(p.works.Work(headers[i].Bits))
		if p.rdHeight == p.target && p.rdWork.Cmp(p.c.params.MinimumChainWork) < 0 {
			// The last stretch has no commitment; its work must still add up.
			return nil, nil, fmt.Errorf("%w: redownloaded chain has less work at height %d", ErrPresyncMismatch, p.rdHeight)
		}
		p.buffer = append(p.buffer, headers[i])
		p.bufHashes = append(p.bufHashes, hashes[i])
		offset := p.rdHeight - p.anchor
		if offset%commitInterval == 0 {
			k := offset/commitInterval - 1
			if int(k) >= len(p.commits) || p.commits[k] != p.commitment(&hashes[i]) {
				return nil, nil, fmt.Errorf("%w: commitment at height %d", ErrPresyncMismatch, p.rdHeight)
			}
		}
		if offset%commitInterval == 0 || p.rdHeight == p.target {
			outH, outHashes = append(outH, p.buffer...), append(outHashes, p.bufHashes...)
			p.buffer, p.bufHashes = p.buffer[:0:0], p.bufHashes[:0:0]
		}
	}
	return outH, outHashes, nil
}
