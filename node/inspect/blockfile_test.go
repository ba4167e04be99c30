// btcd's block file comes from the Go module cache through "go mod
// download", which js/wasm cannot run; the native run covers the reader.

//go:build !js

package inspect

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestBlockFileReadsBtcdsMainnetFile: btcd's Core-format file of the first
// 14,132 mainnet blocks is detected as a block file and lists every block,
// in order, each payload the block's bytes, with its summary.
func TestBlockFileReadsBtcdsMainnetFile(t *testing.T) {
	blocks := mainnetdata.BtcdBlocks(t)
	var file []byte
	magic := binary.LittleEndian.AppendUint32(nil, uint32(protocol.Mainnet.Magic()))
	for _, raw := range blocks {
		file = append(file, magic...)
		file = binary.LittleEndian.AppendUint32(file, uint32(len(raw)))
		file = append(file, raw...)
	}
	file = append(file, make([]byte, 4096)...) // Core's zero padding
	res, err := Open([]Input{{Name: "blk00000.dat", Data: file}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != string(FormatBlocks) || res.Messages != len(blocks) || res.Errors != 0 {
		t.Fatalf("format %q, %d messages, %d errors; want blocks, %d, 0", res.Format, res.Messages, res.Errors, len(blocks))
	}
	for i, raw := range blocks {
		e := res.Entries[i]
		if e.Command != "block" || e.Network != "mainnet" || !bytes.Equal(res.Payload(i), raw) || !strings.Contains(e.Summary, "tx") {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	// A truncated last record is an error at its offset; the records
	// before it stay.
	cut := file[:len(file)-4096-10]
	res, _ = Open([]Input{{Name: "blk00000.dat", Data: cut}}, Options{Format: FormatBlocks})
	last := res.Entries[len(res.Entries)-1]
	if res.Messages != len(blocks)-1 || last.Kind != KindError || !strings.Contains(last.Error, "truncated") {
		t.Fatalf("truncated file: %d messages, last entry %+v", res.Messages, last)
	}
}

// TestBlockFileNotTakenForFrames: a framed block message (magic, then the
// command) is still read as frames.
func TestBlockFileNotTakenForFrames(t *testing.T) {
	blocks := mainnetdata.BtcdBlocks(t)
	frame, err := protocol.AppendFrame(nil, protocol.Mainnet.Magic(), "block", blocks[1])
	if err != nil {
		t.Fatal(err)
	}
	if got := detect(frame, ""); got != FormatFrames {
		t.Fatalf("a framed block detected as %q, want frames", got)
	}
}
