package peer

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// FuzzDecodeHeaders: the fast headers path never panics and never accepts
// a payload wire's decoder rejects or decodes differently.
func FuzzDecodeHeaders(f *testing.F) {
	msg := wire.NewMsgHeaders()
	for i := range 3 {
		msg.AddBlockHeader(&wire.BlockHeader{Version: int32(i), Bits: 0x207fffff})
	}
	payload, _ := protocol.Encode(msg)
	f.Add(payload)
	f.Add([]byte{0})
	f.Add([]byte{0xfd, 0xd0, 0x07})
	f.Fuzz(func(t *testing.T, payload []byte) {
		fast, err := decodeHeaders(payload)
		if err != nil {
			return
		}
		m, err := protocol.Decode(wire.CmdHeaders, payload)
		if err != nil {
			t.Fatalf("fast path accepted what wire rejects: %v", err)
		}
		if !headersEqual(fast, m.(*wire.MsgHeaders)) {
			t.Fatal("fast path and wire disagree")
		}
	})
}

// headersEqual reports whether the fast path decoded what wire decodes.
func headersEqual(a []consensus.Header, m *wire.MsgHeaders) bool {
	if len(a) != len(m.Headers) {
		return false
	}
	var buf bytes.Buffer
	for i, w := range m.Headers {
		buf.Reset()
		w.Serialize(&buf)
		if !bytes.Equal(a[i].Serialize(nil), buf.Bytes()) {
			return false
		}
	}
	return true
}
