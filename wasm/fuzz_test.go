package main

import (
	"encoding/json"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

// FuzzDecodeFrames: whatever a person pastes or drops, decodeFrames returns
// a list (never nil, never a panic) that marshals to JSON, with offsets that
// increase and stay inside the input.
func FuzzDecodeFrames(f *testing.F) {
	ping, _ := protocol.EncodeFrame(protocol.Regtest.Magic(), wire.NewMsgPing(1))
	verack, _ := protocol.EncodeFrame(protocol.Mainnet.Magic(), wire.NewMsgVerAck())
	f.Add(ping)
	f.Add(append(append([]byte(nil), verack...), verack...))
	f.Add([]byte{0xfa, 0xbf, 0xb5, 0xda, 'p', 'i', 'n', 'g'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		got := decodeFrames(data)
		if got == nil {
			t.Fatal("nil list")
		}
		last := -1
		for _, s := range got {
			if s.Offset < last || s.Offset > len(data) {
				t.Fatalf("offset %d after %d, input %d bytes", s.Offset, last, len(data))
			}
			last = s.Offset
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatal(err)
		}
	})
}
