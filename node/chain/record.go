package chain

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/watchnode/watchnode/node/consensus"
)

// recordSize is one stored header: 80 bytes, then a CRC-32C over those bytes
// and the header's height. The height in the checksum catches a record that
// is intact but in the wrong place.
const recordSize = 84

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordCRC checksums buf, which holds a header's 80 bytes followed by its
// height (4 bytes, little endian).
func recordCRC(buf []byte) uint32 { return crc32.Checksum(buf, castagnoli) }

// decodeRecords decodes the intact records at the start of data, in height
// order, and returns their headers and how many bytes of data they span. It
// stops at the first record that is torn, or whose checksum or header is
// bad: what follows it is not trusted.
func decodeRecords(data []byte) ([]consensus.Header, int) {
	// Room to grow: the chain keeps this array as its main chain.
	headers := make([]consensus.Header, 0, len(data)/recordSize+4096)
	good := 0
	scratch := make([]byte, recordSize)
	for off := 0; off+recordSize <= len(data); off += recordSize {
		rec := data[off : off+recordSize]
		copy(scratch, rec[:80])
		binary.LittleEndian.PutUint32(scratch[80:], uint32(off/recordSize))
		if binary.LittleEndian.Uint32(rec[80:]) != recordCRC(scratch) {
			break
		}
		h, err := consensus.ParseHeader(rec[:80])
		if err != nil {
			break
		}
		headers = append(headers, h)
		good = off + recordSize
	}
	return headers, good
}

func appendRecord(dst []byte, hdr *consensus.Header, height int32) []byte {
	start := len(dst)
	dst = hdr.Serialize(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(height))
	// The height was only there to be checksummed: the CRC takes its place.
	binary.LittleEndian.PutUint32(dst[start+80:], recordCRC(dst[start:]))
	return dst
}

// Write is one change to the stored main chain, as the Chain hands it to
// its owner to pass on to a Store: cut the store to From records (a no-op
// when it holds exactly From), then append Headers, the headers of heights
// From, From+1, … A Chain describes every change of its main chain by
// writes; applied in order, they keep the store equal to the main chain,
// so the Chain itself never touches a file. Headers is the write's own
// copy; the store encodes and checksums the records on its own goroutine,
// off the chain owner's.
type Write struct {
	From    int32
	Headers []consensus.Header
}

// Count returns how many headers the write appends.
func (w Write) Count() int { return len(w.Headers) }

// Records returns the write's records in the store's format.
func (w Write) Records() []byte {
	b := make([]byte, 0, len(w.Headers)*recordSize)
	for i := range w.Headers {
		b = appendRecord(b, &w.Headers[i], w.From+int32(i))
	}
	return b
}
