package inspect

import (
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// Bitcoin Core's block files (blkNNNNN.dat, and bootstrap.dat, which uses
// the same records): each record is the network's magic, the block's size
// as a uint32 little-endian, and the block; Core pads files with zeros
// (it preallocates them). The node's block store reads the same records
// (node/blockstore's ScanBlockFile), but this layer builds for js/wasm and
// may not depend on the store and its database, so the few lines that walk
// the records are written again here.

// blockRecordHeader is the size of a block file record's magic and size.
const blockRecordHeader = 8

// looksLikeBlockFile reports whether data opens with a block file record:
// a known network magic followed by a size that a block may have, where a
// framed message would have its command. A frame's command is lowercase
// ASCII padded with zeros, which a block size followed by a block
// version never is.
func looksLikeBlockFile(data []byte) bool {
	if len(data) < blockRecordHeader+wire.MaxBlockHeaderPayload || !knownMagic(data) {
		return false
	}
	if _, err := protocol.ParseCommand(data[4 : 4+protocol.CommandSize]); err == nil {
		return false
	}
	size := binary.LittleEndian.Uint32(data[4:])
	return size >= wire.MaxBlockHeaderPayload && size <= wire.MaxBlockPayload
}

// readBlockFile lists a block file's records as block messages. The zero
// padding between and after records is skipped; a wrong magic, a size out
// of range or a truncated record ends the list with an error entry at its
// offset.
func readBlockFile(name string, data []byte) []Entry {
	var out []Entry
	network := ""
	for off := 0; off < len(data); {
		if data[off] == 0 {
			off++ // Core's magics never start with a zero byte
			continue
		}
		if len(data)-off < blockRecordHeader {
			return append(out, errorEntry(name, off, fmt.Sprintf("%d bytes at the end are too few for a block record's magic and size", len(data)-off)))
		}
		n, ok := protocol.NetworkByMagic(wire.BitcoinNet(binary.LittleEndian.Uint32(data[off:])))
		if !ok || (network != "" && string(n) != network) {
			return append(out, errorEntry(name, off, fmt.Sprintf("block record with magic %x, not the file's network's", data[off:off+4])))
		}
		network = string(n)
		size := int(binary.LittleEndian.Uint32(data[off+4:]))
		if size == 0 || size > wire.MaxBlockPayload {
			return append(out, errorEntry(name, off, fmt.Sprintf("block record of %d bytes: not 1 to %d", size, wire.MaxBlockPayload)))
		}
		if len(data)-off-blockRecordHeader < size {
			return append(out, errorEntry(name, off, fmt.Sprintf("block record of %d bytes truncated: %d bytes left", size, len(data)-off-blockRecordHeader)))
		}
		payload := data[off+blockRecordHeader : off+blockRecordHeader+size]
		e := Entry{Kind: KindMessage, Source: name, Offset: off, Network: network, Command: wire.CmdBlock, Length: size, payload: payload}
		e.Summary, e.Error = listSummary(wire.CmdBlock, payload)
		out = append(out, e)
		off += blockRecordHeader + size
	}
	return out
}
