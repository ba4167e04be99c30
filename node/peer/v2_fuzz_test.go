package peer

import (
	"errors"
	"testing"
	"time"

	"github.com/watchnode/watchnode/node/protocol"
)

// FuzzV2Handshake plays a peer that sends arbitrary bytes to our inbound
// side, which must tell v1 from v2 and run BIP324's responder: whatever
// comes, the connection ends with an error or delivers messages, never
// panics, and holds nothing in the inbound bound once closed.
func FuzzV2Handshake(f *testing.F) {
	f.Add([]byte{})
	f.Add(v1Prefix(magic))
	f.Add(make([]byte, 64+protocol.V2MaxGarbage+protocol.V2TerminatorSize))
	f.Add(append(v1Prefix(0xd9b4bef9), make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := startPipe(t, withTransport(TransportDetect))
		drain(h.remote)
		go func() {
			h.remote.Write(data)
			h.remote.Close()
		}()
		err := h.rep.closeErr(t)
		if err == nil {
			t.Fatal("closed without an error")
		}
		h.c.Close()
		waitConn(t, h.c)
		if used := h.pool.Used(); used != 0 {
			t.Fatalf("pool holds %d bytes after close", used)
		}
	})
}

// FuzzV2Packets completes a valid BIP324 handshake, then sends the fuzzer's
// bytes: as raw bytes in place of packets (mode 0), or as the contents of
// correctly encrypted packets (mode 1, split at 0xff bytes), so that the
// packet layer, the message types and the message decoders all see
// arbitrary input. Every message delivered must have a known command
// framing, and nothing may outlive the connection in the bound.
func FuzzV2Packets(f *testing.F) {
	f.Add(byte(0), []byte{1, 2, 3})
	f.Add(byte(1), []byte{18, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(byte(1), append([]byte{0}, "version\x00\x00\x00\x00\x00"...))
	f.Add(byte(1), []byte{13, 1, 0xff, 200, 0xff, 28, 0})
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		h := startPipe(t, withTransport(TransportV2))
		r := respondRaw(t, h.remote)
		var out []byte
		if mode%2 == 0 {
			out = data
		} else {
			start := 0
			for i := 0; i <= len(data); i++ {
				if i == len(data) || data[i] == 0xff {
					p, err := r.send.AppendPacket(out, nil, i%3 == 2, data[start:i])
					if err != nil {
						t.Fatal(err)
					}
					out, start = p, i+1
				}
			}
		}
		go func() {
			h.remote.Write(out)
			time.Sleep(time.Millisecond)
			h.remote.Close()
		}()
		err := h.rep.closeErr(t)
		if errors.Is(err, errClosed) {
			t.Fatal("errClosed reported")
		}
		for {
			m, ok := h.in.Pop()
			if !ok {
				break
			}
			if m.Command == "" {
				t.Fatal("a message without a command")
			}
		}
		h.c.Close()
		waitConn(t, h.c)
		if used := h.pool.Used(); used != 0 {
			t.Fatalf("pool holds %d bytes after close", used)
		}
	})
}
