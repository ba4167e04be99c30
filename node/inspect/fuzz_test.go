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
// they choose, Open never panics, every entry has a kind, and each entry's
// detail and the JSON export can be made.
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
		for i, e := range r.Entries {
			if e.Kind != KindMessage && e.Kind != KindError || e.Index != i {
				t.Fatalf("entry %d: %+v", i, e)
			}
			if i < 8 {
				r.Detail(i)
			}
		}
		if _, err := json.Marshal(r.WithFields()); err != nil {
			t.Fatal(err)
		}
	})
}
