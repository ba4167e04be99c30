package blockstore

import (
	"encoding/binary"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// BenchmarkWriteBlocks writes 1 MB blocks with a Sync every 16 blocks, as
// the engine's store jobs would; the result is in MB/s.
func BenchmarkWriteBlocks(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), Magic: wire.MainNet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	raw := make([]byte, 1<<20)
	b.SetBytes(int64(len(raw)))
	for i := 0; b.Loop(); i++ {
		var h chainhash.Hash
		binary.LittleEndian.PutUint64(h[:], uint64(i))
		if _, err := s.WriteBlock(h, int32(i), raw); err != nil {
			b.Fatal(err)
		}
		if i%16 == 15 {
			if err := s.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
