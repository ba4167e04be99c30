package inspect

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/pcaptest"
	"github.com/watchnode/watchnode/node/protocol"
)

// fuzzV2Conn is the fixed connection FuzzV2Stream's key log names: fixed
// keys, secret and garbage, so its seeds are the same every run.
func fuzzV2Conn(tb testing.TB) *pcaptest.V2Conn {
	tb.Helper()
	client, server, err := pcaptest.V2Sample(bytes.NewReader(bytes.Repeat([]byte{0x5a, 0xa5}, 1000)))
	if err != nil {
		tb.Fatal(err)
	}
	var ik, rk [protocol.V2KeySize]byte
	for i := range ik {
		ik[i], rk[i] = byte(i+1), byte(200-i)
	}
	var secret [32]byte
	secret[0] = 0x24
	c, err := pcaptest.NewV2ConnSecret(pcaptest.V2SampleMagic, ik, rk, secret, client, server)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// FuzzV2Stream decrypts hostile bytes as both directions of a BIP324
// connection that the fixed key log names: nothing panics, every entry
// lies within its direction's bytes, a message's payload within its
// packet, and no more entries come out than the bytes can hold packets.
func FuzzV2Stream(f *testing.F) {
	c := fuzzV2Conn(f)
	up, down := c.ToServer.Data, c.ToClient.Data
	f.Add(up, down)
	f.Add(up[:c.ToServer.PacketOffsets[3]+7], down[:c.ToClient.HandshakeEnd])
	tampered := bytes.Clone(up)
	tampered[c.ToServer.PacketOffsets[2]+1] ^= 1
	f.Add(tampered, down[:10])
	f.Add(up[:protocol.V2KeySize], []byte{})
	keys := []protocol.V2KeyLogEntry{c.KeyLog}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, up, down []byte) {
		st := TCPStream{
			Client:   netip.MustParseAddrPort("10.0.0.1:1"),
			Server:   netip.MustParseAddrPort("10.0.0.2:2"),
			ToServer: StreamData{Data: up, Opened: true},
			ToClient: StreamData{Data: down, Opened: true},
		}
		for _, sd := range []*StreamData{&st.ToServer, &st.ToClient} {
			if len(sd.Data) > 0 {
				sd.Marks = []StreamMark{{Offset: 0, Time: at}}
			}
		}
		v := &v2Conn{name: "fuzz", connection: "c", st: st, keys: keys}
		var entries []Entry
		if v.looksV2() {
			entries = v.entries()
		} else {
			sess, err := c.KeyLog.Session()
			if err != nil {
				t.Fatal(err)
			}
			entries = append(v.direction(&sess, true, "regtest"), v.direction(&sess, false, "regtest")...)
		}
		count := map[string]int{}
		for _, e := range entries {
			data := up
			if e.Direction == DirectionToClient {
				data = down
			}
			count[e.Direction]++
			if e.Offset < 0 || e.Offset > len(data) || e.PacketSize < 0 || e.Offset+e.PacketSize > len(data) {
				t.Fatalf("entry at %d spanning %d bytes of %d: %+v", e.Offset, e.PacketSize, len(data), e)
			}
			if e.Kind == KindError && e.Error == "" || e.Kind == KindNote && e.Summary == "" {
				t.Fatalf("entry without its text: %+v", e)
			}
			if e.Kind != KindMessage {
				continue
			}
			if e.Length != len(e.payload) || e.PacketSize < e.Length+protocol.V2Overhead+1 {
				t.Fatalf("message with %d payload bytes (%d held) in a %d-byte packet", e.Length, len(e.payload), e.PacketSize)
			}
			tree, payloadAt, ok := V2PacketTree(e.frame)
			if !ok || payloadAt+e.Length+v2TagSize != len(e.frame) || tree.Length != payloadAt {
				t.Fatalf("packet tree %+v, payload at %d, for a %d-byte frame", tree, payloadAt, len(e.frame))
			}
		}
		// A handshake note, then at most one entry per 20 bytes (the
		// smallest packet), then one error.
		for dir, n := range count {
			data := up
			if dir == DirectionToClient {
				data = down
			}
			if n > 2+len(data)/protocol.V2Overhead {
				t.Fatalf("%d entries from %d bytes", n, len(data))
			}
		}
		if bytes.Equal(up, c.ToServer.Data) && bytes.Equal(down, c.ToClient.Data) && (len(entries) != 14 || countKind(entries, KindError) != 0) {
			t.Fatalf("the seed connection decodes to %d entries, %d errors", len(entries), countKind(entries, KindError))
		}
	})
}

func countKind(entries []Entry, kind string) int {
	n := 0
	for _, e := range entries {
		if e.Kind == kind {
			n++
		}
	}
	return n
}
