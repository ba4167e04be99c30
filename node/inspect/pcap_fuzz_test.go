package inspect

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/pcaptest"
)

// fuzzSeeds are small captures that reach every part of the reader: both
// formats and byte orders, several link types, IPv4 and IPv6, reordering,
// retransmission, loss, truncation by snaplen and a close.
func fuzzSeeds(f *testing.F) [][]byte {
	cli6 := netip.MustParseAddrPort("[2001:db8::1]:50001")
	srv6 := netip.MustParseAddrPort("[2001:db8::2]:8333")
	cli := netip.MustParseAddrPort("10.0.0.1:50000")
	srv := netip.MustParseAddrPort("10.0.0.2:8333")
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	var out [][]byte
	for _, o := range []pcaptest.Options{
		{Format: pcaptest.PCAP},
		{Format: pcaptest.PCAPNG, BigEndian: true, Nanosecond: true},
		{Format: pcaptest.PCAP, BigEndian: true, VLAN: 5, Pad: true, NoTimestamps: true},
		{Format: pcaptest.PCAPNG, LinkType: pcaptest.LinkSLL2, Snaplen: 90},
		{Format: pcaptest.PCAP, LinkType: pcaptest.LinkSLL, Nanosecond: true},
		{Format: pcaptest.PCAPNG, Null: true},
		{Format: pcaptest.PCAP, LinkType: pcaptest.LinkRaw},
	} {
		o.MSS = 40 // many small segments from little data
		for _, v6 := range []bool{false, true} {
			c, s := cli, srv
			if v6 {
				c, s = cli6, srv6
			}
			var buf bytes.Buffer
			w, err := pcaptest.NewWriterOptions(&buf, o)
			if err != nil {
				f.Fatal(err)
			}
			conn, err := w.OpenISN(at, c, s, 0xFFFF_FFF0, 7)
			if err != nil {
				f.Fatal(err)
			}
			d := []byte("version verack ping pong inv getdata block tx headers")
			errs := []error{
				conn.SendSegments(at, true,
					pcaptest.Segment{Offset: 20, Data: d[20:45]},
					pcaptest.Segment{Offset: 0, Data: d[:20]},
					pcaptest.Segment{Offset: 10, Data: d[10:30]},
					pcaptest.Segment{Offset: 50, Data: d[50:]},
				),
				conn.Send(at.Add(time.Second), false, d),
				conn.Close(at.Add(2 * time.Second)),
			}
			if err := errors.Join(errs...); err != nil {
				f.Fatal(err)
			}
			out = append(out, buf.Bytes())
		}
	}
	return out
}

// FuzzReadPacketCapture checks that no input makes the reader panic or
// return something inconsistent: marks and gaps in order and inside the
// data, no more stream bytes than the file has, an error that points into
// the file.
func FuzzReadPacketCapture(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pc, err := ReadPacketCapture(data)
		if pc == nil {
			t.Fatal("nil result")
		}
		if err != nil {
			var ce *CaptureError
			if !errors.As(err, &ce) || ce.Offset < 0 || ce.Offset > len(data) || ce.Msg == "" {
				t.Fatalf("error %v", err)
			}
		}
		if pc.Ignored < 0 || pc.Ignored > pc.Packets {
			t.Fatalf("%d ignored of %d packets", pc.Ignored, pc.Packets)
		}
		if pc.Format != "pcap" && pc.Format != "pcapng" && pc.Format != "" {
			t.Fatalf("format %q", pc.Format)
		}
		if IsPacketCapture(data) && pc.Format == "" {
			t.Fatal("recognized but not read")
		}
		total := 0
		for _, s := range pc.Streams {
			for _, d := range []StreamData{s.ToServer, s.ToClient} {
				total += len(d.Data)
				for i, m := range d.Marks {
					if m.Offset < 0 || m.Offset >= len(d.Data) || (i > 0 && m.Offset <= d.Marks[i-1].Offset) || (i == 0 && m.Offset != 0) {
						t.Fatalf("marks %v for %d bytes", d.Marks, len(d.Data))
					}
				}
				if len(d.Data) > 0 && len(d.Marks) == 0 {
					t.Fatal("data without marks")
				}
				for i, g := range d.Gaps {
					if g.Offset < 0 || g.Offset > len(d.Data) || g.Length <= 0 || (i > 0 && g.Offset <= d.Gaps[i-1].Offset) {
						t.Fatalf("gaps %v for %d bytes", d.Gaps, len(d.Data))
					}
				}
			}
		}
		// Every stream byte is a captured byte, delivered once.
		if total > len(data) {
			t.Fatalf("%d stream bytes from a %d-byte file", total, len(data))
		}
	})
}
