package inspect

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/pcaptest"
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
// frame's first 24 bytes and the bytes shown in hex hold the whole frame
// (a BIP324 packet's fields tile its bytes before the payload, and its tag
// ends them), and the error count covers every error entry and bad
// checksum.
func FuzzOpen(f *testing.F) {
	ping, _ := protocol.EncodeFrame(protocol.Regtest.Magic(), wire.NewMsgPing(1))
	f.Add(uint8(0), ping)
	f.Add(uint8(0), AppendCoreRecord(nil, time.Unix(1700000000, 0), "ping", ping[24:]))
	f.Add(uint8(1), []byte("0b110907 70696e67"))
	f.Add(uint8(3), ping[24:])
	// A BIP324 connection, which without its key log lists as notes.
	var v2 bytes.Buffer
	w, err := pcaptest.NewWriter(&v2, pcaptest.PCAP)
	if err != nil {
		f.Fatal(err)
	}
	v2Conn := fuzzV2Conn(f)
	keyLog := []byte(v2Conn.KeyLog.String() + "\n")
	if _, err := v2Conn.Write(w, time.Unix(1700000000, 0), netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2")); err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), v2.Bytes())
	f.Add(uint8(0x80), v2.Bytes()) // the high bit adds the connection's key log
	f.Fuzz(func(t *testing.T, format uint8, data []byte) {
		opt := Options{Format: Formats[int(format&0x7f)%len(Formats)], Command: "tx"}
		inputs := []Input{{Name: "fuzz/msgs_recv.dat", Data: data}}
		if format&0x80 != 0 {
			inputs = append(inputs, Input{Name: "keys.log", Data: keyLog})
		}
		r, err := Open(inputs, opt)
		if err != nil {
			t.Fatal(err)
		}
		problems := 0
		for i, e := range r.Entries {
			if e.Kind != KindMessage && e.Kind != KindError && e.Kind != KindNote || e.Index != i {
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
			tag, children := 0, d.Header.Children
			if e.Transport == TransportV2 {
				tag = v2TagSize
				if last := children[len(children)-1]; last.Name != "tag" || last.Offset != len(r.Raw(i))-tag || last.Length != tag {
					t.Fatalf("entry %d: packet tree ends with %+v", i, last)
				}
				children = children[:len(children)-1]
			}
			if len(r.Raw(i)) != d.PayloadOffset+e.Length+tag {
				t.Fatalf("entry %d: %d bytes shown for a %d-byte payload after %d", i, len(r.Raw(i)), e.Length, d.PayloadOffset)
			}
			end := 0
			for _, c := range children {
				if c.Offset != end {
					t.Fatalf("entry %d: header field %s at %d, want %d", i, c.Name, c.Offset, end)
				}
				end += c.Length
			}
			if e.Transport != TransportV2 && end != protocol.HeaderSize || d.PayloadOffset != end {
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
