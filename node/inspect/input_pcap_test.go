package inspect

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/pcaptest"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestOpenPacketCapture decodes a synthetic capture of two connections
// whose segments arrive out of order, retransmitted and, once, lost: every
// message comes out once, with its direction, endpoints and time, and the
// lost bytes are reported where they were.
func TestOpenPacketCapture(t *testing.T) {
	for _, format := range []pcaptest.Format{pcaptest.PCAP, pcaptest.PCAPNG} {
		t.Run(format.String(), func(t *testing.T) {
			var file bytes.Buffer
			w, err := pcaptest.NewWriter(&file, format)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
			client := netip.MustParseAddrPort("[2001:db8::1]:50000")
			server := netip.MustParseAddrPort("[2001:db8::2]:8333")
			c, err := w.Open(t0, client, server)
			if err != nil {
				t.Fatal(err)
			}
			version := frame(t, protocol.Mainnet, wire.NewMsgVerAck())
			ping := frame(t, protocol.Mainnet, wire.NewMsgPing(1))
			pong := frame(t, protocol.Mainnet, wire.NewMsgPong(1))
			// Client: verack, then ping in two segments sent second-half
			// first and the first half retransmitted.
			must(t, c.Send(t0.Add(1*time.Millisecond), true, version))
			off := int64(len(version))
			must(t, c.SendSegments(t0.Add(2*time.Millisecond), true,
				pcaptest.Segment{Offset: off + 10, Data: ping[10:]},
				pcaptest.Segment{Offset: off, Data: ping[:10], At: t0.Add(3 * time.Millisecond)},
				pcaptest.Segment{Offset: off, Data: ping[:12], At: t0.Add(4 * time.Millisecond)}))
			// Server: pong; then a segment is lost mid-message; then a pong.
			must(t, c.Send(t0.Add(5*time.Millisecond), false, pong))
			must(t, c.Send(t0.Add(6*time.Millisecond), false, pong[:5]))
			c.Skip(false, 10)
			must(t, c.Send(t0.Add(7*time.Millisecond), false, pong[15:]))
			must(t, c.Send(t0.Add(8*time.Millisecond), false, pong))
			must(t, c.Close(t0.Add(9*time.Millisecond)))

			r := open(t, Options{}, Input{Name: "capture", Data: file.Bytes()})
			if r.Format != "pcap" {
				t.Errorf("format %q", r.Format)
			}
			want := []string{"verack", "ping", "pong", "error", "error", "pong"}
			if got := kinds(r); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("entries %v, want %v: %+v", got, want, r.Entries)
			}
			e := r.Entries
			if e[1].Direction != DirectionToServer || e[1].From != client.String() || e[1].To != server.String() ||
				e[1].Time != "2026-11-25T10:00:00.003Z" || !*e[1].ChecksumValid {
				t.Errorf("ping %+v", e[1])
			}
			if e[2].Direction != DirectionToClient || e[2].Connection != "[2001:db8::1]:50000 ⇄ [2001:db8::2]:8333" {
				t.Errorf("pong %+v", e[2])
			}
			if !strings.Contains(e[3].Error, "input cut short") || !strings.Contains(e[4].Error, "10 bytes of this direction were never captured") ||
				e[4].Offset != len(pong)+5 {
				t.Errorf("loss reported as %+v / %+v", e[3], e[4])
			}
			// Stream offsets count captured bytes only.
			if e[5].Offset != len(pong)+5+len(pong)-15 || e[5].Time != "2026-11-25T10:00:00.008Z" {
				t.Errorf("pong after the loss %+v", e[5])
			}
		})
	}
}

func TestOpenPacketCaptureNotBitcoin(t *testing.T) {
	var file bytes.Buffer
	w, err := pcaptest.NewWriter(&file, pcaptest.PCAP)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.Open(time.Unix(1, 0), netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("10.0.0.2:80"))
	must(t, err)
	must(t, c.Send(time.Unix(2, 0), true, []byte("GET / HTTP/1.1\r\n\r\n")))
	r := open(t, Options{}, Input{Data: file.Bytes()})
	if len(r.Entries) != 1 || !strings.Contains(r.Entries[0].Error, "not Bitcoin P2P messages") {
		t.Errorf("HTTP capture: %+v", r.Entries)
	}
	r = open(t, Options{}, Input{Data: file.Bytes()[:40]})
	if len(r.Entries) != 1 || r.Entries[0].Kind != KindError {
		t.Errorf("cut capture: %+v", r.Entries)
	}
}
