package peer

import (
	"errors"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/consensus"
)

// errSlowPath sends a headers payload to wire's decoder, which reports the
// precise error; the fast path only handles well-formed payloads.
var errSlowPath = errors.New("not a plain headers payload")

// decodeHeaders parses a headers payload straight into compact headers: a
// CompactSize count of at most 2000, then per header 80 bytes and a zero
// transaction count. It is the hot path of header sync and skips wire's
// per-header allocations; anything unusual goes to wire for the verdict.
func decodeHeaders(payload []byte) ([]consensus.Header, error) {
	if len(payload) == 0 {
		return nil, errSlowPath
	}
	n, off := uint64(payload[0]), 1
	switch payload[0] {
	case 0xfd:
		if len(payload) < 3 {
			return nil, errSlowPath
		}
		n, off = uint64(payload[1])|uint64(payload[2])<<8, 3
		if n < 0xfd {
			return nil, errSlowPath // not canonical: let wire say so
		}
	case 0xfe, 0xff:
		return nil, errSlowPath
	}
	if n > wire.MaxBlockHeadersPerMsg || uint64(len(payload)-off) != n*81 {
		return nil, errSlowPath
	}
	headers := make([]consensus.Header, n)
	for i := range headers {
		rec := payload[off : off+81]
		if rec[80] != 0 {
			return nil, errSlowPath
		}
		h, err := consensus.ParseHeader(rec[:80])
		if err != nil {
			return nil, errSlowPath
		}
		headers[i] = h
		off += 81
	}
	return headers, nil
}

// hashInto hashes headers into hashes and then closes done. The reader
// goroutine runs it after handing the message to the engine, which needs
// only the last hash at once (to pipeline its next request) and waits on
// done before validating.
func hashInto(headers []consensus.Header, hashes []chainhash.Hash, done chan struct{}) {
	for i := range headers[:len(headers)-1] {
		hashes[i] = headers[i].Hash()
	}
	close(done)
}

// HashHeaders converts a decoded headers message to compact headers and
// hashes them.
func HashHeaders(m *wire.MsgHeaders) ([]consensus.Header, []chainhash.Hash) {
	headers := make([]consensus.Header, len(m.Headers))
	hashes := make([]chainhash.Hash, len(m.Headers))
	for i, w := range m.Headers {
		headers[i] = consensus.FromWire(w)
		hashes[i] = headers[i].Hash()
	}
	return headers, hashes
}
