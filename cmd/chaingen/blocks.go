package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/atomicfile"
	"github.com/watchnode/watchnode/internal/blockgen"
)

// blockFileStats is what writeBlockFile reports of the chain it wrote.
type blockFileStats struct {
	blocks, txs int
	bytes       int64 // block bytes, without the 8-byte record headers
	first, last blockInfo
}

// blockInfo names one block for the summary.
type blockInfo struct {
	hash chainhash.Hash
	time time.Time
}

// writeBlockFile streams the chain opts describe into path as Bitcoin
// Core writes blkNNNNN.dat files (and -loadblock and the node's import
// read them): per block a record of the network magic as on the wire, the
// block's size as uint32 little-endian, and the block. Blocks go straight
// from the generator to the file, so a chain of hundreds of megabytes
// never sits decoded in memory, and the file appears only once complete.
func writeBlockFile(path string, magic wire.BitcoinNet, opts blockgen.Options) (blockFileStats, error) {
	var st blockFileStats
	err := atomicfile.WriteFunc(path, 0o644, func(w io.Writer) error {
		var hdr [8]byte
		binary.LittleEndian.PutUint32(hdr[:4], uint32(magic))
		return blockgen.Stream(opts, func(_ int, b *wire.MsgBlock, raw []byte) error {
			binary.LittleEndian.PutUint32(hdr[4:], uint32(len(raw)))
			if _, err := w.Write(hdr[:]); err != nil {
				return err
			}
			if _, err := w.Write(raw); err != nil {
				return err
			}
			info := blockInfo{hash: b.BlockHash(), time: b.Header.Timestamp}
			if st.blocks == 0 {
				st.first = info
			}
			st.last = info
			st.blocks++
			st.txs += len(b.Transactions)
			st.bytes += int64(len(raw))
			return nil
		})
	})
	if err != nil {
		return blockFileStats{}, fmt.Errorf("writing block file %s: %w", path, err)
	}
	return st, nil
}
