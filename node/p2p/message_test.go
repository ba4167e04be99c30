package p2p

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

func TestDecodeHeadersFastPathAgreesWithWire(t *testing.T) {
	msg := wire.NewMsgHeaders()
	for i := range 2000 {
		h := wire.BlockHeader{Version: int32(i), Nonce: uint32(i * 7), Bits: 0x207fffff}
		msg.AddBlockHeader(&h)
	}
	for _, n := range []int{0, 1, 252, 253, 2000} {
		m := &wire.MsgHeaders{Headers: msg.Headers[:n]}
		payload, err := protocol.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeHeaders(payload)
		if err != nil || !headersEqual(got, m) {
			t.Errorf("%d headers: fast path %v, agrees %v", n, err, headersEqual(got, m))
		}
		// DecodeMessage hashes every header, whichever path decoded it.
		dm, err := DecodeMessage(wire.CmdHeaders, payload, time.Time{})
		if err != nil {
			t.Fatalf("%d headers: DecodeMessage: %v", n, err)
		}
		if !headersEqual(dm.Headers, m) || len(dm.Hashes) != n {
			t.Fatalf("%d headers: DecodeMessage decoded %d headers, %d hashes", n, len(dm.Headers), len(dm.Hashes))
		}
		for i, w := range m.Headers {
			if dm.Hashes[i] != w.BlockHash() {
				t.Fatalf("%d headers: hash %d is %s, wire says %s", n, i, dm.Hashes[i], w.BlockHash())
			}
		}
		if _, ok := dm.Msg.(*wire.MsgHeaders); !ok || dm.Cost <= len(payload) {
			t.Errorf("%d headers: Msg %T, Cost %d for a %d-byte payload", n, dm.Msg, dm.Cost, len(payload))
		}
	}
	// Anything unusual goes to wire: a non-zero tx count, a wrong length,
	// a non-canonical count, too many headers.
	payload, _ := protocol.Encode(&wire.MsgHeaders{Headers: msg.Headers[:3]})
	bad := append([]byte(nil), payload...)
	bad[len(bad)-1] = 1
	for _, p := range [][]byte{bad, payload[:len(payload)-1], {0xfd, 0x01, 0x00}, {0xfd, 0xd1, 0x07}, {0xff}, nil} {
		if _, err := decodeHeaders(p); err == nil {
			t.Errorf("fast path accepted %x", p[:min(len(p), 8)])
		}
		// and wire's verdict is a malformed payload.
		if _, err := DecodeMessage(wire.CmdHeaders, p, time.Time{}); !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("DecodeMessage(%x): %v, want ErrMalformed", p[:min(len(p), 8)], err)
		}
	}
}

// FuzzDecodeHeaders: the fast headers path never panics and never accepts
// a payload wire's decoder rejects or decodes differently; DecodeMessage
// agrees with wire on every headers payload and hashes what it decodes.
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
		// A reader's payload buffer is exactly as long as the payload; the
		// fuzzer's may have any capacity, which a message's cost counts.
		payload = payload[:len(payload):len(payload)]
		m, wireErr := protocol.Decode(wire.CmdHeaders, payload)
		dm, err := DecodeMessage(wire.CmdHeaders, payload, time.Time{})
		if (err == nil) != (wireErr == nil) {
			t.Fatalf("DecodeMessage says %v, wire says %v", err, wireErr)
		}
		if err == nil {
			wm := m.(*wire.MsgHeaders)
			if !headersEqual(dm.Headers, wm) || len(dm.Hashes) != len(wm.Headers) {
				t.Fatal("DecodeMessage and wire disagree")
			}
			for i, w := range wm.Headers {
				if dm.Hashes[i] != w.BlockHash() {
					t.Fatalf("hash %d disagrees with wire", i)
				}
			}
		}
		fast, err := decodeHeaders(payload)
		if err != nil {
			return
		}
		if wireErr != nil {
			t.Fatalf("fast path accepted what wire rejects: %v", wireErr)
		}
		if !headersEqual(fast, m.(*wire.MsgHeaders)) {
			t.Fatal("fast path and wire disagree")
		}
	})
}

// headersEqual reports whether compact headers a are what wire decoded.
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

// TestShortBlockPayloadsRefused: a block payload too short to hold a header
// and a transaction count is malformed, never a panic in the reader.
func TestShortBlockPayloadsRefused(t *testing.T) {
	for _, n := range []int{0, 1, 79, 80} {
		if _, err := MessageCost(wire.CmdBlock, make([]byte, n)); !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("block payload of %d bytes: %v, want ErrMalformed", n, err)
		}
	}
}
