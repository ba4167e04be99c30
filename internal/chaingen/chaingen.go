// Package chaingen makes valid header chains for tests and benchmarks.
//
// btcd's own miner (generate RPC) cannot build long chains quickly: it
// stamps blocks with the current time and refuses timestamps more than two
// hours ahead, so a chain of a million headers would take real minutes of
// wall-clock time per block or fail. chaingen instead lays the timestamps out
// in the past, ending before "now", and grinds nonces itself. On regtest the
// proof-of-work limit (bits 0x207fffff) accepts about half of all hashes, so
// a header costs about two double-SHA-256 runs and a million headers take a
// second or two.
//
// The chains satisfy the header rules a node checks without block bodies:
// each header links to its parent, meets its own target (the network's
// proof-of-work limit, which regtest never retargets away from), has a
// timestamp strictly after its parent's (so always after the median time of
// the past 11 blocks), lies in the past, and carries version 4 (which
// satisfies the BIP34/65/66 version floors on every network).
package chaingen

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/atomicfile"
	"github.com/watchnode/watchnode/node/protocol"
)

// HeaderSize is the length of one serialized block header, and so the unit
// of the files WriteFile writes and ReadFile reads.
const HeaderSize = wire.MaxBlockHeaderPayload // 80

// DefaultVersion is the header version used when Options.Version is zero:
// version 4 is the lowest that passes the BIP34, BIP66 and BIP65 version
// floors, whatever heights a network activates them at.
const DefaultVersion int32 = 4

// endMargin is how far before Options.End a chain with a default Start
// finishes. It keeps the tip clear of "now" so a node comparing it with its
// own clock (and peers' adjusted time) never sees a header from the future,
// even if the chain is generated a while before it is used.
const endMargin = time.Hour

// Options tunes a generated chain. The zero value is valid: a regtest chain
// with Bitcoin's ten-minute pace (squeezed if needed to fit between the
// parent and the End), ending an hour before now.
type Options struct {
	// Network picks the genesis block and the proof-of-work limit used as
	// every header's bits. Empty means protocol.Regtest. Other networks
	// work but are only practical for a handful of headers: their limits
	// need billions of hashes per header. They also retarget, so beyond
	// their first retarget boundary a chain is valid only if Spacing is at
	// least their target spacing (the retarget then stays at the limit),
	// and mainnet's checkpoints reject any generated chain that reaches
	// them.
	Network protocol.Network

	// Start is the timestamp of the first generated header. Zero means the
	// chain is placed to end endMargin (one hour) before End.
	Start time.Time

	// End bounds the chain when Start or Spacing is left to default. Zero
	// means time.Now().
	End time.Time

	// Spacing is the time between consecutive headers, truncated to whole
	// seconds because headers store Unix seconds. Zero means: with Start
	// set, spread the headers evenly over End-Start; otherwise the network's
	// target spacing (ten minutes) or less, so the chain fits between its
	// parent and End. It is never less than one second, because timestamps
	// must strictly increase for the median-time-past rule to hold for
	// every header.
	Spacing time.Duration

	// Version is every header's version. Zero means DefaultVersion.
	Version int32

	// Seed feeds the merkle roots. The same seed and options give the same
	// chain; different seeds give different chains, which is how to make
	// competing branches (forks) from one parent.
	Seed uint64
}

// Generate returns n headers following opts.Network's genesis block (which
// is not included), each linking to the one before and meeting the
// network's proof-of-work limit. It returns nil for n <= 0.
func Generate(n int, opts Options) []wire.BlockHeader {
	genesis := network(opts).Params().GenesisBlock.Header
	return Extend(genesis, genesis.Timestamp, n, opts)
}

// Extend returns n headers building on parent, which can be any header of
// a chain (a genesis, a tip, or one deep inside it), so tests can make a
// branch that forks off an existing chain for reorg scenarios. parentTime
// is the time the branch must start after: normally parent.Timestamp, but a
// caller may pass a later time, such as the median time past it wants to
// clear; the later of the two is used. Give branches from the same parent
// different opts.Seed values so they differ.
//
// If opts ask for timestamps that do not strictly increase after parentTime
// (a Start too early, or a Spacing and Start leaving no room), the affected
// headers are pushed to one second after their predecessor instead, because
// a chain that breaks the median-time-past rule would be useless; such a
// chain may then end after opts.End.
func Extend(parent wire.BlockHeader, parentTime time.Time, n int, opts Options) []wire.BlockHeader {
	if n <= 0 {
		return nil
	}
	params := network(opts).Params()
	version := opts.Version
	if version == 0 {
		version = DefaultVersion
	}
	after := parent.Timestamp.Unix()
	if t := parentTime.Unix(); t > after {
		after = t
	}
	first, step := schedule(after, n, opts, int64(params.TargetTimePerBlock/time.Second))
	target := compactToTarget(params.PowLimitBits)

	headers := make([]wire.BlockHeader, n)
	prev := parent.BlockHash()
	last := after
	var buf [HeaderSize]byte
	for i := range headers {
		ts := first + int64(i)*step
		if ts <= last {
			ts = last + 1
		}
		last = ts
		h := wire.BlockHeader{
			Version:   version,
			PrevBlock: prev,
			Timestamp: time.Unix(ts, 0),
			Bits:      params.PowLimitBits,
		}
		prev = mine(&h, &buf, &target, opts.Seed)
		headers[i] = h
	}
	return headers
}

// network returns opts.Network, defaulting to regtest: the only network
// whose proof-of-work limit makes long chains cheap.
func network(opts Options) protocol.Network {
	if opts.Network == "" {
		return protocol.Regtest
	}
	return opts.Network
}

// schedule returns the Unix time of the first header and the step between
// headers, in seconds, for n headers after a parent stamped after.
// targetSpacing (seconds) caps the default step so short chains keep a
// Bitcoin-like pace instead of stretching across the years since genesis.
func schedule(after int64, n int, opts Options, targetSpacing int64) (first, step int64) {
	end := opts.End
	if end.IsZero() {
		end = time.Now()
	}
	endUnix := end.Unix()
	step = int64(opts.Spacing / time.Second)
	switch {
	case step > 0:
	case !opts.Start.IsZero():
		// n steps over [Start, End) keeps the last header a full step
		// before End.
		step = (endUnix - opts.Start.Unix()) / int64(n)
	default:
		// The first header lands one step after the parent and the last
		// at End minus the margin: n steps in all.
		step = (endUnix - int64(endMargin/time.Second) - after) / int64(n)
		if targetSpacing > 0 && step > targetSpacing {
			step = targetSpacing
		}
	}
	if step < 1 {
		step = 1
	}
	if !opts.Start.IsZero() {
		return opts.Start.Unix(), step
	}
	return endUnix - int64(endMargin/time.Second) - int64(n-1)*step, step
}

// mine fills in h's merkle root and grinds its nonce until its hash meets
// target, returning that hash. It is the hot path of a million-header run,
// so it serializes the header once into buf and then rewrites only the four
// nonce bytes between double-SHA-256 runs, with no allocation and no
// big.Int. Nonces cannot be ground in parallel across headers (each header
// commits to its parent's hash), and on regtest a header needs about two
// tries, so a single goroutine is as fast as any split would be.
func mine(h *wire.BlockHeader, buf *[HeaderSize]byte, target *[32]byte, seed uint64) chainhash.Hash {
	for extra := uint64(0); ; extra++ {
		h.MerkleRoot = merkleRoot(&h.PrevBlock, seed, extra)
		encodeHeader(buf, h)
		nonce := uint32(0)
		for {
			binary.LittleEndian.PutUint32(buf[76:], nonce)
			first := sha256.Sum256(buf[:])
			hash := sha256.Sum256(first[:])
			if meetsTarget(&hash, target) {
				h.Nonce = nonce
				return hash
			}
			nonce++
			if nonce == 0 {
				// All 2^32 nonces failed (only conceivable off regtest):
				// change the merkle root, as a real miner's extra nonce
				// does, rather than the timestamp, which would upset the
				// chain's spacing.
				break
			}
		}
	}
}

// merkleRoot derives a header's merkle root from its parent, the seed and an
// extra nonce. Committing to the parent makes every header of a chain
// distinct; the seed makes branches from one parent distinct; determinism
// makes test failures reproducible.
func merkleRoot(prev *chainhash.Hash, seed, extra uint64) chainhash.Hash {
	var in [len("chaingen") + chainhash.HashSize + 16]byte
	n := copy(in[:], "chaingen")
	n += copy(in[n:], prev[:])
	binary.LittleEndian.PutUint64(in[n:], seed)
	binary.LittleEndian.PutUint64(in[n+8:], extra)
	return sha256.Sum256(in[:])
}

// encodeHeader writes h in the 80-byte wire layout, the same bytes as
// wire.BlockHeader.Serialize without an io.Writer and its allocations.
func encodeHeader(buf *[HeaderSize]byte, h *wire.BlockHeader) {
	binary.LittleEndian.PutUint32(buf[0:], uint32(h.Version))
	copy(buf[4:36], h.PrevBlock[:])
	copy(buf[36:68], h.MerkleRoot[:])
	binary.LittleEndian.PutUint32(buf[68:], uint32(h.Timestamp.Unix()))
	binary.LittleEndian.PutUint32(buf[72:], h.Bits)
	binary.LittleEndian.PutUint32(buf[76:], h.Nonce)
}

// decodeHeader is the inverse of encodeHeader.
func decodeHeader(b []byte) wire.BlockHeader {
	var h wire.BlockHeader
	h.Version = int32(binary.LittleEndian.Uint32(b[0:]))
	copy(h.PrevBlock[:], b[4:36])
	copy(h.MerkleRoot[:], b[36:68])
	h.Timestamp = time.Unix(int64(binary.LittleEndian.Uint32(b[68:])), 0)
	h.Bits = binary.LittleEndian.Uint32(b[72:])
	h.Nonce = binary.LittleEndian.Uint32(b[76:])
	return h
}

// compactToTarget expands compact bits into a 256-bit target as 32
// big-endian bytes, once per chain, so the per-hash check is a byte
// comparison instead of big.Int arithmetic. The target is the 23-bit
// mantissa shifted left by 8*(exponent-3) bits. Bits with the sign flag or
// a target wider than 256 bits are no network's pow limit, so they panic.
func compactToTarget(bits uint32) [32]byte {
	if bits&0x00800000 != 0 {
		panic(fmt.Sprintf("chaingen: negative compact target %#08x", bits))
	}
	mantissa := bits & 0x007fffff
	exponent := int(bits >> 24)
	var t [32]byte
	for i := 0; i < 3; i++ { // i counts mantissa bytes from the least significant
		b := byte(mantissa >> (8 * i))
		k := exponent - 3 + i // that byte's position from the target's low end
		switch {
		case k < 0:
			// Shifted out to the right (exponent < 3).
		case k < 32:
			t[31-k] = b
		case b != 0:
			panic(fmt.Sprintf("chaingen: compact target %#08x overflows 256 bits", bits))
		}
	}
	return t
}

// meetsTarget reports whether hash, read as Bitcoin does (a little-endian
// 256-bit number, so hash[31] is the most significant byte), is at most
// target (big-endian). It compares from the most significant byte and
// usually decides at the first one.
func meetsTarget(hash *[32]byte, target *[32]byte) bool {
	for i := 0; i < 32; i++ {
		h, t := hash[31-i], target[i]
		if h != t {
			return h < t
		}
	}
	return true
}

// WriteFile writes headers to path as raw concatenated 80-byte headers, the
// format the node imports headers from, atomically (a reader never sees a
// half-written chain, a failed run leaves an earlier file intact) and
// streamed, since a million headers make 80 MB. The file is 0644: a chain
// is not secret and is often read by another user's process.
func WriteFile(path string, headers []wire.BlockHeader) error {
	return atomicfile.WriteFunc(path, 0o644, func(w io.Writer) error {
		var buf [HeaderSize]byte
		for i := range headers {
			encodeHeader(&buf, &headers[i])
			if _, err := w.Write(buf[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReadFile reads a file WriteFile wrote (or any raw concatenation of 80-byte
// headers). A size that is not a multiple of 80 is an error naming the
// offset of the incomplete header, since it means a truncated or foreign
// file and silently dropping the tail would hide that.
func ReadFile(path string) ([]wire.BlockHeader, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if rest := len(data) % HeaderSize; rest != 0 {
		return nil, fmt.Errorf("%s: incomplete header at offset %d: file size %d is not a multiple of %d",
			path, len(data)-rest, len(data), HeaderSize)
	}
	headers := make([]wire.BlockHeader, len(data)/HeaderSize)
	for i := range headers {
		headers[i] = decodeHeader(data[i*HeaderSize:])
	}
	return headers, nil
}
