package inspect

import (
	"encoding/json"
	"testing"
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
