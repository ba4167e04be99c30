package inspect

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// fuzzCommands are chosen by the fuzzer's first byte.
var fuzzCommands = []string{
	"version", "verack", "ping", "pong", "feefilter", "sendheaders", "sendaddrv2", "wtxidrelay",
	"sendcmpct", "getaddr", "addr", "addrv2", "inv", "getdata", "notfound", "getheaders", "getblocks",
	"headers", "block", "tx", "reject", "mempool", "filterload", "filteradd", "filterclear",
	"merkleblock", "getcfilters", "cfilter", "getcfheaders", "cfheaders", "getcfcheckpt", "cfcheckpt",
	"cmpctblock", "getblocktxn", "blocktxn", "sendtxrcncl", "unknown",
}

func FuzzDecode(f *testing.F) {
	for i := range fuzzCommands {
		f.Add(byte(i), []byte{})
		f.Add(byte(i), []byte{1, 0, 0, 0, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	}
	f.Add(byte(19), encode(f, sampleTx(true)))
	f.Add(byte(19), encode(f, sampleTx(false)))
	f.Fuzz(func(t *testing.T, cmd byte, payload []byte) {
		command := fuzzCommands[int(cmd)%len(fuzzCommands)]
		m := Decode(command, payload)
		if m.Length != len(payload) {
			t.Fatalf("length %d, payload %d", m.Length, len(payload))
		}
		var walk func([]Field)
		walk = func(fs []Field) {
			for _, f := range fs {
				if f.Offset < 0 || f.Length < 0 || f.Offset+f.Length > len(payload) {
					t.Fatalf("%s [%d,+%d) outside payload of %d", f.Name, f.Offset, f.Length, len(payload))
				}
				walk(f.Children)
			}
		}
		walk(m.Fields)
		if m.Error == nil {
			checkTiling(t, m.Fields, 0, len(payload), len(payload), "")
		} else if m.Error.Offset < 0 || m.Error.Offset > len(payload) || m.Error.Field == "" {
			t.Fatalf("bad error %+v", m.Error)
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzOpen: whatever a person drops on the decoder page, in whatever format
// they choose, Open never panics, every entry has a kind, each entry's
// detail and the JSON export can be made, a header's fields tile the
// frame's first 24 bytes and the bytes shown in hex hold the whole frame,
// and the error count covers every error entry and bad checksum.
func FuzzOpen(f *testing.F) {
	ping, _ := protocol.EncodeFrame(protocol.Regtest.Magic(), wire.NewMsgPing(1))
	f.Add(uint8(0), ping)
	f.Add(uint8(0), AppendCoreRecord(nil, time.Unix(1700000000, 0), "ping", ping[24:]))
	f.Add(uint8(1), []byte("0b110907 70696e67"))
	f.Add(uint8(3), ping[24:])
	f.Fuzz(func(t *testing.T, format uint8, data []byte) {
		opt := Options{Format: Formats[int(format)%len(Formats)], Command: "tx"}
		r, err := Open([]Input{{Name: "fuzz/msgs_recv.dat", Data: data}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		problems := 0
		for i, e := range r.Entries {
			if e.Kind != KindMessage && e.Kind != KindError || e.Index != i {
				t.Fatalf("entry %d: %+v", i, e)
			}
			if e.Kind == KindError || e.ChecksumValid != nil && !*e.ChecksumValid || e.Error != "" {
				problems++
			}
			if i >= 8 {
				continue
			}
			d, _ := r.Detail(i)
			if d.Header == nil {
				continue
			}
			if len(r.Raw(i)) != d.PayloadOffset+e.Length {
				t.Fatalf("entry %d: %d bytes shown for a %d-byte payload after %d", i, len(r.Raw(i)), e.Length, d.PayloadOffset)
			}
			end := 0
			for _, c := range d.Header.Children {
				if c.Offset != end {
					t.Fatalf("entry %d: header field %s at %d, want %d", i, c.Name, c.Offset, end)
				}
				end += c.Length
			}
			if end != protocol.HeaderSize || d.PayloadOffset != end {
				t.Fatalf("entry %d: header fields end at %d, payload at %d", i, end, d.PayloadOffset)
			}
		}
		if problems != r.Errors {
			t.Fatalf("%d entries with a problem, %d errors counted", problems, r.Errors)
		}
		if _, err := json.Marshal(r.WithFields()); err != nil {
			t.Fatal(err)
		}
	})
}
