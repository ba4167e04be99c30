package inspect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/pcaptest"
)

var (
	cli4 = netip.MustParseAddrPort("10.0.0.1:50000")
	srv4 = netip.MustParseAddrPort("10.0.0.2:8333")
	cli6 = netip.MustParseAddrPort("[2001:db8::1]:50001")
	srv6 = netip.MustParseAddrPort("[2001:db8::2]:8333")
	// t0 has nanoseconds so that microsecond files visibly round them.
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
)

// payload returns n deterministic pseudo-random bytes, different per seed,
// so a byte out of place or a wrong copy of a retransmission shows.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeCapture runs fill on a pcaptest.Writer and returns the file.
func writeCapture(t testing.TB, opts pcaptest.Options, fill func(w *pcaptest.Writer)) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcaptest.NewWriterOptions(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	fill(w)
	return buf.Bytes()
}

// must fails the test on a pcaptest error; pcaptest calls inside fill
// functions return errors only for misuse, which is a bug in the test.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustOpen(t testing.TB, w *pcaptest.Writer, at time.Time, c, s netip.AddrPort) *pcaptest.Conn {
	t.Helper()
	conn, err := w.Open(at, c, s)
	must(t, err)
	return conn
}

func readOK(t *testing.T, data []byte) *PacketCapture {
	t.Helper()
	pc, err := ReadPacketCapture(data)
	if err != nil {
		t.Fatalf("ReadPacketCapture: %v", err)
	}
	return pc
}

// checkData compares one direction against the exact bytes, marks and gaps
// expected.
func checkData(t *testing.T, what string, got StreamData, data []byte, marks []StreamMark, gaps []StreamGap) {
	t.Helper()
	if !bytes.Equal(got.Data, data) {
		t.Errorf("%s: data differs: got %d bytes, want %d (first difference at %d)", what, len(got.Data), len(data), firstDiff(got.Data, data))
	}
	if marks != nil && !marksEqual(got.Marks, marks) {
		t.Errorf("%s: marks\n got %v\nwant %v", what, got.Marks, marks)
	}
	if !reflect.DeepEqual(got.Gaps, gaps) {
		t.Errorf("%s: gaps\n got %v\nwant %v", what, got.Gaps, gaps)
	}
}

func marksEqual(a, b []StreamMark) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Offset != b[i].Offset || !a[i].Time.Equal(b[i].Time) {
			return false
		}
	}
	return true
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestIsPacketCapture(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want bool
	}{
		{"pcap LE us", []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0}, true},
		{"pcap BE us", []byte{0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4}, true},
		{"pcap LE ns", []byte{0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0}, true},
		{"pcap BE ns", []byte{0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4}, true},
		{"pcap magic alone", []byte{0xd4, 0xc3, 0xb2, 0xa1}, true},
		{"pcap magic, version 7", []byte{0xd4, 0xc3, 0xb2, 0xa1, 7, 0, 4, 0}, false},
		{"pcapng LE", []byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a}, true},
		{"pcapng BE", []byte{0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 28, 0x1a, 0x2b, 0x3c, 0x4d}, true},
		{"pcapng without byte-order magic", []byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0}, false},
		{"pcapng bad byte-order magic", []byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4}, false},
		{"core capture", AppendCoreRecord(nil, t0, "ping", make([]byte, 8)), false},
		{"short", []byte{0xd4, 0xc3, 0xb2}, false},
		{"empty", nil, false},
	} {
		if got := IsPacketCapture(c.data); got != c.want {
			t.Errorf("%s: got %v", c.name, got)
		}
	}
	for _, f := range []pcaptest.Format{pcaptest.PCAP, pcaptest.PCAPNG} {
		for _, be := range []bool{false, true} {
			file := writeCapture(t, pcaptest.Options{Format: f, BigEndian: be}, func(*pcaptest.Writer) {})
			if !IsPacketCapture(file) {
				t.Errorf("%v big-endian=%v: written file not recognized", f, be)
			}
		}
	}
}

// TestPacketCaptureRoundTrip writes one conversation in every supported
// framing and checks both directions come back byte for byte, with the
// capture times of the packets that carried them.
func TestPacketCaptureRoundTrip(t *testing.T) {
	type variant struct {
		name string
		opts pcaptest.Options
		v6   bool
	}
	var variants []variant
	for _, f := range []pcaptest.Format{pcaptest.PCAP, pcaptest.PCAPNG} {
		for _, be := range []bool{false, true} {
			for _, nano := range []bool{false, true} {
				for _, v6 := range []bool{false, true} {
					variants = append(variants, variant{
						fmt.Sprintf("%v/be=%v/ns=%v/v6=%v", f, be, nano, v6),
						pcaptest.Options{Format: f, BigEndian: be, Nanosecond: nano}, v6,
					})
				}
			}
		}
	}
	for _, v6 := range []bool{false, true} {
		raw := pcaptest.LinkIPv4
		if v6 {
			raw = pcaptest.LinkIPv6
		}
		for _, l := range []struct {
			name string
			opts pcaptest.Options
		}{
			{"vlan", pcaptest.Options{VLAN: 42}},
			// Without TCP timestamps the 1-byte segment and the bare ACKs
			// and FINs are under Ethernet's 60-byte minimum.
			{"padded", pcaptest.Options{Pad: true, NoTimestamps: true}},
			{"sll", pcaptest.Options{LinkType: pcaptest.LinkSLL}},
			{"sll2", pcaptest.Options{LinkType: pcaptest.LinkSLL2}},
			{"raw", pcaptest.Options{LinkType: pcaptest.LinkRaw}},
			{"raw-family", pcaptest.Options{LinkType: raw}},
			{"null", pcaptest.Options{Null: true}},
			{"null-be", pcaptest.Options{Null: true, BigEndian: true}},
			{"loop", pcaptest.Options{LinkType: pcaptest.LinkLoop}},
			{"no-tcp-timestamps", pcaptest.Options{NoTimestamps: true}},
			{"mss-100", pcaptest.Options{MSS: 100}},
		} {
			for _, f := range []pcaptest.Format{pcaptest.PCAP, pcaptest.PCAPNG} {
				o := l.opts
				o.Format = f
				variants = append(variants, variant{fmt.Sprintf("%s/%v/v6=%v", l.name, f, v6), o, v6})
			}
		}
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			cli, srv := cli4, srv4
			if v.v6 {
				cli, srv = cli6, srv6
			}
			// Small payloads check padding is not taken as data.
			req, resp, tail := payload(1, 5000), payload(2, 3000), []byte{0x42}
			ts := []time.Time{t0, t0.Add(time.Millisecond), t0.Add(2 * time.Second), t0.Add(3 * time.Second)}
			file := writeCapture(t, v.opts, func(w *pcaptest.Writer) {
				c := mustOpen(t, w, ts[0], cli, srv)
				must(t, c.Send(ts[1], true, req))
				must(t, c.Send(ts[2], false, resp))
				must(t, c.Send(ts[3], true, tail))
				must(t, c.Close(ts[3].Add(time.Second)))
			})
			pc := readOK(t, file)
			want := "pcap"
			if v.opts.Format == pcaptest.PCAPNG {
				want = "pcapng"
			}
			if pc.Format != want || pc.Ignored != 0 || len(pc.Streams) != 1 {
				t.Fatalf("format %q, %d ignored, %d streams", pc.Format, pc.Ignored, len(pc.Streams))
			}
			mss := v.opts.MSS
			if mss == 0 {
				mss = pcaptest.DefaultMSS
			}
			segs := func(n int) int { return (n + mss - 1) / mss }
			if wantPkts := 3 + segs(5000) + segs(3000) + 1 + 3; pc.Packets != wantPkts {
				t.Errorf("%d packets, want %d", pc.Packets, wantPkts)
			}
			s := pc.Streams[0]
			if s.Client != cli || s.Server != srv {
				t.Errorf("client %v server %v", s.Client, s.Server)
			}
			res := time.Microsecond
			if v.opts.Nanosecond {
				res = time.Nanosecond
			}
			checkData(t, "to server", s.ToServer, append(append([]byte{}, req...), tail...),
				[]StreamMark{{0, ts[1].Truncate(res)}, {5000, ts[3].Truncate(res)}}, nil)
			checkData(t, "to client", s.ToClient, resp, []StreamMark{{0, ts[2].Truncate(res)}}, nil)
		})
	}
}

// TestPacketCaptureHandBuiltBigEndian reads a big-endian pcap built here
// byte by byte, independently of pcaptest: raw IPv4, microseconds, one
// segment each way without a handshake, and a padded frame.
func TestPacketCaptureHandBuiltBigEndian(t *testing.T) {
	be := binary.BigEndian
	var f []byte
	f = be.AppendUint32(f, 0xa1b2c3d4)
	f = be.AppendUint16(f, 2)
	f = be.AppendUint16(f, 4)
	f = be.AppendUint32(f, 0)
	f = be.AppendUint32(f, 0)
	f = be.AppendUint32(f, 65535)
	f = be.AppendUint32(f, 101) // raw IP
	ipTCP := func(src, dst [4]byte, sport, dport uint16, seq uint32, flags byte, data string) []byte {
		p := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0}
		p = append(p, src[:]...)
		p = append(p, dst[:]...)
		p = be.AppendUint16(p, sport)
		p = be.AppendUint16(p, dport)
		p = be.AppendUint32(p, seq)
		p = be.AppendUint32(p, 0)
		p = append(p, 5<<4, flags, 0xff, 0xff, 0, 0, 0, 0)
		p = append(p, data...)
		be.PutUint16(p[2:], uint16(len(p)))
		return p
	}
	rec := func(sec, usec uint32, pkt []byte, pad int) {
		f = be.AppendUint32(f, sec)
		f = be.AppendUint32(f, usec)
		f = be.AppendUint32(f, uint32(len(pkt)+pad))
		f = be.AppendUint32(f, uint32(len(pkt)+pad))
		f = append(f, pkt...)
		f = append(f, make([]byte, pad)...)
	}
	a, b := [4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, 2}
	rec(1700000000, 1, ipTCP(a, b, 1234, 8333, 1000, 0x18, "hello "), 0)
	rec(1700000000, 2, ipTCP(b, a, 8333, 1234, 5000, 0x18, "back"), 0)
	rec(1700000001, 999999, ipTCP(a, b, 1234, 8333, 1006, 0x18, "world"), 7)
	pc := readOK(t, f)
	if pc.Format != "pcap" || pc.Packets != 3 || len(pc.Streams) != 1 {
		t.Fatalf("%+v", pc)
	}
	s := pc.Streams[0]
	if s.Client != netip.AddrPortFrom(netip.AddrFrom4(a), 1234) || s.Server != netip.AddrPortFrom(netip.AddrFrom4(b), 8333) {
		t.Errorf("client %v server %v", s.Client, s.Server)
	}
	checkData(t, "to server", s.ToServer, []byte("hello world"), []StreamMark{
		{0, time.Unix(1700000000, 1000).UTC()}, {6, time.Unix(1700000001, 999999000).UTC()},
	}, nil)
	checkData(t, "to client", s.ToClient, []byte("back"), []StreamMark{{0, time.Unix(1700000000, 2000).UTC()}}, nil)
}

func TestPacketCaptureOutOfOrder(t *testing.T) {
	d := payload(3, 4000)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second).Truncate(time.Microsecond) }
	file := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
		c := mustOpen(t, w, at(0), cli4, srv4)
		must(t, c.SendSegments(at(1), true,
			pcaptest.Segment{Offset: 3000, Data: d[3000:], At: at(1)},
			pcaptest.Segment{Offset: 1000, Data: d[1000:2000], At: at(2)},
			pcaptest.Segment{Offset: 2000, Data: d[2000:3000], At: at(3)},
			pcaptest.Segment{Offset: 0, Data: d[:1000], At: at(4)},
		))
		must(t, c.Close(at(5)))
	})
	pc := readOK(t, file)
	checkData(t, "to server", pc.Streams[0].ToServer, d,
		[]StreamMark{{0, at(4)}, {1000, at(2)}, {2000, at(3)}, {3000, at(1)}}, nil)
}

// TestPacketCaptureRetransmissions sends copies of data already delivered
// and of data held out of order, exactly and overlapping, each copy with
// different bytes: the first copy must win, and keep its capture time.
func TestPacketCaptureRetransmissions(t *testing.T) {
	d := payload(4, 6000)
	other := payload(5, 6000) // what the retransmissions claim instead
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second).Truncate(time.Microsecond) }
	file := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
		c := mustOpen(t, w, at(0), cli4, srv4)
		must(t, c.SendSegments(at(1), true,
			pcaptest.Segment{Offset: 0, Data: d[:1000], At: at(1)},
			pcaptest.Segment{Offset: 0, Data: other[:1000], At: at(2)},      // exact retransmission
			pcaptest.Segment{Offset: 500, Data: other[500:1500], At: at(3)}, // overlapping: only 1000..1500 are new
			pcaptest.Segment{Offset: 3000, Data: d[3000:4000], At: at(4)},   // held
			pcaptest.Segment{Offset: 3000, Data: other[3000:4000], At: at(5)},
			pcaptest.Segment{Offset: 2500, Data: d[2500:3500], At: at(6)},      // overlaps the held segment's start
			pcaptest.Segment{Offset: 3800, Data: d[3800:5000], At: at(7)},      // overlaps its end
			pcaptest.Segment{Offset: 1500, Data: d[1500:2500], At: at(8)},      // fills the hole
			pcaptest.Segment{Offset: 0, Data: other[:6000], At: at(9)},         // covers everything, adds 5000..6000
			pcaptest.Segment{Offset: 4000, Data: other[4000:5000], At: at(10)}, // old
		))
		must(t, c.Close(at(11)))
	})
	want := append(append(append(append([]byte{}, d[:1000]...), other[1000:1500]...), d[1500:5000]...), other[5000:6000]...)
	pc := readOK(t, file)
	checkData(t, "to server", pc.Streams[0].ToServer, want, []StreamMark{
		{0, at(1)}, {1000, at(3)}, {1500, at(8)}, {2500, at(6)}, {3000, at(4)}, {4000, at(7)}, {5000, at(9)},
	}, nil)
}

func TestPacketCaptureLostSegment(t *testing.T) {
	d := payload(6, 5000)
	file := writeCapture(t, pcaptest.Options{Format: pcaptest.PCAPNG}, func(w *pcaptest.Writer) {
		c := mustOpen(t, w, t0, cli4, srv4)
		must(t, c.SendSegments(t0, true,
			pcaptest.Segment{Offset: 0, Data: d[:1000]},
			pcaptest.Segment{Offset: 2000, Data: d[2000:3000]},
			pcaptest.Segment{Offset: 3000, Data: d[3000:4000]},
		))
		c.Skip(true, 1000) // 4000..5000 sent but not captured, then the FIN
		must(t, c.Send(t0, false, d[:10]))
		must(t, c.Close(t0))
	})
	pc := readOK(t, file)
	s := pc.Streams[0]
	want := append(append([]byte{}, d[:1000]...), d[2000:4000]...)
	checkData(t, "to server", s.ToServer, want, nil, []StreamGap{{1000, 1000}, {3000, 1000}})
	checkData(t, "to client", s.ToClient, d[:10], nil, nil)
}

// TestPacketCaptureWraparound starts both directions just below 2^32, so
// the sequence numbers wrap inside the data, with reordering across the wrap.
func TestPacketCaptureWraparound(t *testing.T) {
	for _, isn := range []uint32{0xFFFF_F000, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x7FFF_FFFF} {
		t.Run(fmt.Sprintf("%08x", isn), func(t *testing.T) {
			d := payload(7, 20000)
			r := payload(8, 9000)
			file := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
				c, err := w.OpenISN(t0, cli4, srv4, isn, isn-1000)
				must(t, err)
				must(t, c.SendSegments(t0, true,
					pcaptest.Segment{Offset: 0, Data: d[:4000]},
					pcaptest.Segment{Offset: 8000, Data: d[8000:12000]},
					pcaptest.Segment{Offset: 4000, Data: d[4000:8000]},
				))
				must(t, c.Send(t0, true, d[12000:]))
				must(t, c.Send(t0, false, r))
				must(t, c.Close(t0))
			})
			pc := readOK(t, file)
			checkData(t, "to server", pc.Streams[0].ToServer, d, nil, nil)
			checkData(t, "to client", pc.Streams[0].ToClient, r, nil, nil)
		})
	}
}

// TestPacketCaptureSnaplen cuts every frame short: the captured start of each
// payload is data, the rest a gap.
func TestPacketCaptureSnaplen(t *testing.T) {
	for _, f := range []pcaptest.Format{pcaptest.PCAP, pcaptest.PCAPNG} {
		d := payload(9, 3000)
		// 14 Ethernet + 20 IPv4 + 32 TCP = 66 bytes of headers, so 34
		// bytes of each payload are captured.
		file := writeCapture(t, pcaptest.Options{Format: f, Snaplen: 100, MSS: 1000}, func(w *pcaptest.Writer) {
			c := mustOpen(t, w, t0, cli4, srv4)
			must(t, c.Send(t0, true, d))
			must(t, c.Send(t0, false, d[:20]))
			must(t, c.Close(t0))
		})
		pc := readOK(t, file)
		want := append(append(append([]byte{}, d[:34]...), d[1000:1034]...), d[2000:2034]...)
		checkData(t, f.String(), pc.Streams[0].ToServer, want, nil, []StreamGap{{34, 966}, {68, 966}, {102, 966}})
		checkData(t, f.String()+" to client", pc.Streams[0].ToClient, d[:20], nil, nil)
	}
}

// TestPacketCaptureConnections interleaves connections over IPv4 and IPv6,
// one picked up without its handshake, and reuses a 4-tuple after a close.
func TestPacketCaptureConnections(t *testing.T) {
	a, b, c, d, e := payload(10, 3000), payload(11, 2000), payload(12, 4000), payload(13, 100), payload(14, 700)
	cliB := netip.MustParseAddrPort("10.0.0.3:40000")
	file := writeCapture(t, pcaptest.Options{Format: pcaptest.PCAPNG}, func(w *pcaptest.Writer) {
		c1 := mustOpen(t, w, t0, cli4, srv4)
		c2 := mustOpen(t, w, t0, cli6, srv6)
		// Mid-connection: the server's packet is the first one seen, so
		// it counts as the client.
		c3 := w.Attach(cliB, srv4, 77, 0xFFFF_FF00)
		must(t, c3.Send(t0, false, d))
		must(t, c1.Send(t0, true, a[:1000]))
		must(t, c2.Send(t0, false, b[:1000]))
		must(t, c3.Send(t0, true, e))
		must(t, c1.Send(t0, true, a[1000:]))
		must(t, c2.Send(t0, false, b[1000:]))
		must(t, c2.Send(t0, true, c))
		must(t, c1.Close(t0))
		must(t, c2.Reset(t0, true))
		// The same addresses again: a new connection.
		c4 := mustOpen(t, w, t0, cli4, srv4)
		must(t, c4.Send(t0, false, c[:10]))
		must(t, c4.Close(t0))
		// A capture that starts at the SYN-ACK: its sender is the server.
		must(t, w.WriteTCP(t0, srv6, cli6, 500, 1000, pcaptest.SYN, nil))
		must(t, w.WriteTCP(t0, cli6, srv6, 1000, 501, pcaptest.PSH, []byte("hi")))
	})
	pc := readOK(t, file)
	if len(pc.Streams) != 5 {
		t.Fatalf("%d streams", len(pc.Streams))
	}
	type want struct {
		client, server netip.AddrPort
		up, down       []byte
	}
	for i, w := range []want{
		{cli4, srv4, a, nil},
		{cli6, srv6, c, b},
		{srv4, cliB, d, e},
		{cli4, srv4, nil, c[:10]},
		{cli6, srv6, []byte("hi"), nil},
	} {
		s := pc.Streams[i]
		if s.Client != w.client || s.Server != w.server {
			t.Errorf("stream %d: client %v server %v", i, s.Client, s.Server)
		}
		checkData(t, fmt.Sprintf("stream %d up", i), s.ToServer, w.up, nil, nil)
		checkData(t, fmt.Sprintf("stream %d down", i), s.ToClient, w.down, nil, nil)
	}
}

// rawIP returns the IP packet of a TCP segment as pcaptest makes it.
func rawIP(t *testing.T, src, dst netip.AddrPort, seq uint32, flags uint8, data []byte) []byte {
	t.Helper()
	file := writeCapture(t, pcaptest.Options{LinkType: pcaptest.LinkRaw}, func(w *pcaptest.Writer) {
		must(t, w.WriteTCP(t0, src, dst, seq, 1, flags, data))
	})
	return file[24+16:]
}

// TestPacketCaptureIgnored mixes TCP with what must be skipped, and with
// IPv6 extension headers in front of TCP, which must not be.
func TestPacketCaptureIgnored(t *testing.T) {
	udp := rawIP(t, cli4, srv4, 1, 0, []byte("x"))
	udp[9] = 17
	frag4 := rawIP(t, cli4, srv4, 100, pcaptest.PSH, []byte("fragment"))
	frag4[6] = 0x20 // more fragments
	frag4off := rawIP(t, cli4, srv4, 100, pcaptest.PSH, []byte("fragment"))
	frag4off[6], frag4off[7] = 0, 10 // offset 80
	tcp6 := rawIP(t, cli6, srv6, 1000, pcaptest.PSH, []byte("ext headers"))
	// Insert hop-by-hop (8 bytes) and destination options (16 bytes)
	// before the TCP header.
	ext := append([]byte{60, 0, 1, 4, 0, 0, 0, 0}, 6, 1, 1, 12)
	ext = append(ext, make([]byte, 12)...)
	withExt := append(append(append([]byte{}, tcp6[:40]...), ext...), tcp6[40:]...)
	withExt[6] = 0
	binary.BigEndian.PutUint16(withExt[4:], uint16(len(withExt)-40))
	frag6 := append(append(append([]byte{}, tcp6[:40]...), 6, 0, 0, 1, 0, 0, 0, 1), tcp6[40:]...)
	frag6[6] = 44
	binary.BigEndian.PutUint16(frag6[4:], uint16(len(frag6)-40))
	// An authentication header ((1+2)*4 = 12 bytes) before TCP.
	withAH := append(append(append([]byte{}, tcp6[:40]...), 6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1), tcp6[40:]...)
	withAH[6] = 51
	binary.BigEndian.PutUint16(withAH[4:], uint16(len(withAH)-40))
	// Payload length 0 (a jumbogram, or offload): the captured bytes count.
	zeroLen := append([]byte{}, tcp6...)
	zeroLen[4], zeroLen[5] = 0, 0
	binary.BigEndian.PutUint32(zeroLen[40+4:], 2000+11)
	// 17 chained empty destination options headers: over the walk's bound.
	chain := append([]byte{}, tcp6[:40]...)
	chain[6] = 60
	for i := range 17 {
		nh := byte(60)
		if i == 16 {
			nh = 6
		}
		chain = append(chain, nh, 0, 1, 4, 0, 0, 0, 0)
	}
	chain = append(chain, tcp6[40:]...)
	binary.BigEndian.PutUint16(chain[4:], uint16(len(chain)-40))
	badIHL := rawIP(t, cli4, srv4, 1, 0, nil)
	badIHL[0] = 0x44
	badDoff := rawIP(t, cli4, srv4, 1, 0, nil)
	badDoff[20+12] = 0xF0 // 60-byte TCP header in a 32-byte segment
	tcp4 := rawIP(t, cli4, srv4, 5000, pcaptest.PSH, []byte("v4 data"))

	file := writeCapture(t, pcaptest.Options{LinkType: pcaptest.LinkRaw, Format: pcaptest.PCAPNG}, func(w *pcaptest.Writer) {
		for _, p := range [][]byte{udp, frag4, frag4off, withExt, frag6, badIHL, badDoff, tcp4, {0x45}, {}, withAH, zeroLen, chain} {
			must(t, w.WritePacket(t0, p))
		}
	})
	pc := readOK(t, file)
	if pc.Packets != 13 || pc.Ignored != 9 {
		t.Errorf("%d packets, %d ignored", pc.Packets, pc.Ignored)
	}
	if len(pc.Streams) != 2 {
		t.Fatalf("%d streams", len(pc.Streams))
	}
	checkData(t, "v6 with extension headers", pc.Streams[0].ToServer, []byte("ext headersext headers"), nil, []StreamGap{{11, 1000}})
	checkData(t, "v4", pc.Streams[1].ToServer, []byte("v4 data"), nil, nil)

	// Ethernet: ARP and a frame too short for its header are ignored.
	file = writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
		arp := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06}, make([]byte, 28)...)
		must(t, w.WritePacket(t0, arp))
		must(t, w.WritePacket(t0, []byte{1, 2, 3}))
		must(t, w.WritePacket(t0, append(make([]byte, 12), 0x81, 0, 0)))
	})
	pc = readOK(t, file)
	if pc.Packets != 3 || pc.Ignored != 3 || len(pc.Streams) != 0 {
		t.Errorf("ethernet: %+v", pc)
	}
}

// TestPacketCaptureTSOLength reads an IPv4 packet whose total length is 0,
// as a sender's capture shows segments handed to the NIC for offload.
func TestPacketCaptureTSOLength(t *testing.T) {
	p := rawIP(t, cli4, srv4, 1, pcaptest.PSH, []byte("offloaded"))
	p[2], p[3] = 0, 0
	file := writeCapture(t, pcaptest.Options{LinkType: pcaptest.LinkRaw}, func(w *pcaptest.Writer) {
		must(t, w.WritePacket(t0, p))
	})
	checkData(t, "tso", readOK(t, file).Streams[0].ToServer, []byte("offloaded"), nil, nil)
}

// TestPacketCaptureResetPayload: the text some stacks put into a RST is
// not stream data.
func TestPacketCaptureResetPayload(t *testing.T) {
	file := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
		must(t, w.WriteTCP(t0, cli4, srv4, 10, 1, pcaptest.PSH, []byte("data")))
		must(t, w.WriteTCP(t0, cli4, srv4, 14, 1, pcaptest.RST, []byte("reset reason")))
	})
	checkData(t, "rst", readOK(t, file).Streams[0].ToServer, []byte("data"), nil, nil)
}

// TestPacketCaptureHeldLimit lowers the bound on held data: a hole is given
// up as a gap as soon as what waits behind it is over the bound, and later
// data flows on.
func TestPacketCaptureHeldLimit(t *testing.T) {
	d := payload(15, 10000)
	file := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
		c := mustOpen(t, w, t0, cli4, srv4)
		must(t, c.SendSegments(t0, true, pcaptest.Segment{Offset: 0, Data: d[:1000]}))
		c.Skip(true, 1000)
		must(t, c.Send(t0, true, d[2000:]))
		// The lost segment arrives after all: too late, the hole is a gap.
		must(t, c.SendSegments(t0, true, pcaptest.Segment{Offset: 1000, Data: d[1000:2000]}))
	})
	lim := defaultReassemblyLimits
	lim.buffered = 3000
	pc, err := readPacketCapture(file, lim)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, d[:1000]...), d[2000:]...)
	checkData(t, "limited", pc.Streams[0].ToServer, want, nil, []StreamGap{{1000, 1000}})
	// With the default bound the late segment fills the hole.
	checkData(t, "default", readOK(t, file).Streams[0].ToServer, d, nil, nil)
}

// TestPacketCaptureSections reads two pcapng sections of opposite byte
// orders, with blocks the reader must skip or parse by hand: a name
// resolution block, a custom block, a second interface with binary
// timestamp resolution and an offset, a simple packet block, an obsolete
// packet block, and an interface of an unsupported link type.
func TestPacketCaptureSections(t *testing.T) {
	d := payload(16, 2000)
	// Sequence numbers are chosen so each section continues the streams.
	le := writeCapture(t, pcaptest.Options{Format: pcaptest.PCAPNG}, func(w *pcaptest.Writer) {
		c, err := w.OpenISN(t0, cli4, srv4, 0x5000_0000-1, 0)
		must(t, err)
		must(t, c.Send(t0, true, d[:1000]))
	})
	be := writeCapture(t, pcaptest.Options{Format: pcaptest.PCAPNG, BigEndian: true}, func(w *pcaptest.Writer) {
		// Interface 0 of this section is pcaptest's; its ids restart.
		c := w.Attach(cli4, srv4, 0, 1)
		must(t, c.Send(t0, false, []byte("be")))
	})
	o := binary.BigEndian
	block := func(typ uint32, body []byte) []byte {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		var b []byte
		b = o.AppendUint32(b, typ)
		b = o.AppendUint32(b, uint32(12+len(body)))
		b = append(b, body...)
		return o.AppendUint32(b, uint32(12+len(body)))
	}
	// Interface 1: raw IP, timestamps in 2^-10 s, 1000 s offset.
	var idb []byte
	idb = o.AppendUint16(idb, 101)
	idb = o.AppendUint16(idb, 0)
	idb = o.AppendUint32(idb, 0)
	idb = append(idb, 0, 2, 0, 5, 'e', 't', 'h', '1', '!', 0, 0, 0) // if_name, padded
	idb = append(idb, 0, 9, 0, 1, 0x80|10, 0, 0, 0)                 // if_tsresol
	idb = append(idb, 0, 14, 0, 8)
	idb = o.AppendUint64(idb, 1000)
	idb = append(idb, 0, 0, 0, 0)
	// Interface 2: a link type the reader does not know.
	var idb2 []byte
	idb2 = o.AppendUint16(idb2, 147)
	idb2 = append(idb2, 0, 0, 0, 0, 0, 0)
	epb := func(iface uint32, ts uint64, pkt []byte) []byte {
		var b []byte
		b = o.AppendUint32(b, iface)
		b = o.AppendUint32(b, uint32(ts>>32))
		b = o.AppendUint32(b, uint32(ts))
		b = o.AppendUint32(b, uint32(len(pkt)))
		b = o.AppendUint32(b, uint32(len(pkt)))
		return block(6, append(b, pkt...))
	}
	pkt1 := rawIP(t, cli4, srv4, 0x5000_0000+1000, pcaptest.PSH, []byte("-1-"))
	pb := o.AppendUint16(nil, 1)
	pb = o.AppendUint16(pb, 0)
	pb = o.AppendUint32(pb, 0)
	pb = o.AppendUint32(pb, 2048) // 2 s
	pkt2 := rawIP(t, cli4, srv4, 0x5000_0000+1003, pcaptest.PSH, []byte("-2-"))
	pb = o.AppendUint32(pb, uint32(len(pkt2)))
	pb = o.AppendUint32(pb, uint32(len(pkt2)))
	pb = append(pb, pkt2...)
	// A simple packet on interface 0 (Ethernet): no timestamp.
	eth := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
		must(t, w.WriteTCP(t0, cli4, srv4, 0x5000_0000+1006, 1, pcaptest.PSH, []byte("-3-")))
	})[24+16:]
	spb := o.AppendUint32(nil, uint32(len(eth)))
	spb = append(spb, eth...)

	file := append([]byte{}, le...)
	file = append(file, be...)
	file = append(file, block(4, []byte{0, 0, 0, 0})...)               // name resolution, empty
	file = append(file, block(0x0BAD, []byte{0, 0, 0x7e, 0x1d, 1})...) // custom
	file = append(file, block(1, idb)...)
	file = append(file, block(1, idb2)...)
	file = append(file, epb(1, 1024+512, pkt1)...) // 1.5 s
	file = append(file, block(2, pb)...)
	file = append(file, block(3, spb)...)
	file = append(file, epb(2, 0, []byte("unknown link"))...)
	pc := readOK(t, file)
	if pc.Format != "pcapng" || pc.Packets != 3+1+1+1+1+1+1 || pc.Ignored != 1 {
		t.Errorf("format %q, %d packets, %d ignored", pc.Format, pc.Packets, pc.Ignored)
	}
	if len(pc.Streams) != 1 {
		t.Fatalf("%d streams", len(pc.Streams))
	}
	s := pc.Streams[0]
	checkData(t, "up", s.ToServer, append(append([]byte{}, d[:1000]...), "-1--2--3-"...), []StreamMark{
		{0, t0.Truncate(time.Microsecond)},
		{1000, time.Unix(1001, 500_000_000).UTC()},
		{1003, time.Unix(1002, 0).UTC()},
		{1006, time.Time{}},
	}, nil)
	checkData(t, "down", s.ToClient, []byte("be"), nil, nil)
}

// TestPacketCaptureTruncated cuts a file at every length: the result must
// hold exactly the packets before the cut and the error must point at the
// record or block that was cut.
func TestPacketCaptureTruncated(t *testing.T) {
	for _, f := range []pcaptest.Format{pcaptest.PCAP, pcaptest.PCAPNG} {
		d := payload(17, 3000)
		var starts []int // where each data packet's record or block starts
		var buf bytes.Buffer
		// Every Write of pcaptest ends a header, record or block, so a
		// cut there leaves a whole (shorter) file; so does a cut after
		// pcapng's section header, which comes in one Write with the
		// interface description.
		rec := &boundaries{w: &buf, at: map[int]bool{28: f == pcaptest.PCAPNG}}
		w, err := pcaptest.NewWriterOptions(rec, pcaptest.Options{Format: f, MSS: 500})
		must(t, err)
		c := mustOpen(t, w, t0, cli4, srv4)
		for i := 0; i < len(d); i += 500 {
			starts = append(starts, buf.Len())
			must(t, c.Send(t0, true, d[i:i+500]))
		}
		file := buf.Bytes()
		full := readOK(t, file)
		checkData(t, "whole", full.Streams[0].ToServer, d, nil, nil)
		for cut := 0; cut < len(file); cut++ {
			pc, err := ReadPacketCapture(file[:cut])
			if pc == nil {
				t.Fatalf("%v cut at %d: nil result", f, cut)
			}
			complete := 0 // data packets wholly before the cut
			for _, s := range starts[1:] {
				if s <= cut {
					complete++
				}
			}
			if rec.at[cut] {
				if err != nil {
					t.Errorf("%v cut at record boundary %d: %v", f, cut, err)
				}
			} else if err == nil {
				t.Errorf("%v cut at %d: no error", f, cut)
				continue
			}
			var ce *CaptureError
			if err != nil && (!errors.As(err, &ce) || ce.Offset < 0 || ce.Offset > cut) {
				t.Errorf("%v cut at %d: error %v", f, cut, err)
			}
			if cut > starts[0] && len(pc.Streams) == 1 {
				if got := pc.Streams[0].ToServer.Data; !bytes.Equal(got, d[:500*complete]) {
					t.Errorf("%v cut at %d: %d bytes, want %d", f, cut, len(got), 500*complete)
				}
			}
		}
		// A cut inside the third data packet's bytes: the error names its
		// length field (pcap: caplen at +8; pcapng: total length at +4).
		cut := starts[2] + 100
		pc, err := ReadPacketCapture(file[:cut])
		want := starts[2] + 8
		if f == pcaptest.PCAPNG {
			want = starts[2] + 4
		}
		var ce *CaptureError
		if !errors.As(err, &ce) || ce.Offset != want || !strings.Contains(ce.Msg, "truncated") {
			t.Errorf("%v: error %v, want one at %d saying truncated", f, err, want)
		}
		if pc.Packets != 3+2 || !bytes.Equal(pc.Streams[0].ToServer.Data, d[:1000]) {
			t.Errorf("%v: %d packets, %d bytes", f, pc.Packets, len(pc.Streams[0].ToServer.Data))
		}
	}
}

// TestPacketCaptureBadLengths puts huge and inconsistent values into length
// fields: each must give an error at the field, not a panic or an
// allocation.
func TestPacketCaptureBadLengths(t *testing.T) {
	pcapFile := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
		c := mustOpen(t, w, t0, cli4, srv4)
		must(t, c.Send(t0, true, []byte("abc")))
	})
	ngFile := writeCapture(t, pcaptest.Options{Format: pcaptest.PCAPNG}, func(w *pcaptest.Writer) {
		c := mustOpen(t, w, t0, cli4, srv4)
		must(t, c.Send(t0, true, []byte("abc")))
	})
	const shb, idb = 28, 32 // pcaptest's block sizes
	le := binary.LittleEndian
	synEnd := shb + idb + int(le.Uint32(ngFile[shb+idb+4:]))
	edit := func(file []byte, f func(b []byte)) []byte {
		b := append([]byte{}, file...)
		f(b)
		return b
	}
	for _, c := range []struct {
		name    string
		file    []byte
		offset  int
		msg     string
		packets int
	}{
		{"pcap caplen 4G", edit(pcapFile, func(b []byte) { le.PutUint32(b[24+8:], 0xFFFF_FFFF) }), 24 + 8, "over the", 0},
		{"pcap caplen past end", edit(pcapFile, func(b []byte) { le.PutUint32(b[24+8:], 200000) }), 24 + 8, "truncated", 0},
		{"pcap version", edit(pcapFile, func(b []byte) { b[4] = 3 }), 4, "version", 0},
		{"pcap link type", edit(pcapFile, func(b []byte) { b[20] = 200 }), 20, "link type 200", 0},
		{"pcap header short", pcapFile[:20], 0, "file header", 0},
		{"not a capture", []byte("hello world, this is text"), 0, "magic", 0},
		{"pcapng block 4G", edit(ngFile, func(b []byte) { le.PutUint32(b[shb+idb+4:], 0xFFFF_FFF0) }), shb + idb + 4, "truncated", 0},
		{"pcapng block not multiple of 4", edit(ngFile, func(b []byte) { le.PutUint32(b[shb+idb+4:], 33) }), shb + idb + 4, "multiple of 4", 0},
		{"pcapng block under 12", edit(ngFile, func(b []byte) { le.PutUint32(b[shb+idb+4:], 8) }), shb + idb + 4, "at least 12", 0},
		{"pcapng trailer mismatch", edit(ngFile, func(b []byte) { le.PutUint32(b[synEnd-4:], 84) }), synEnd - 4, "trailer", 0},
		{"pcapng epb caplen 4G", edit(ngFile, func(b []byte) { le.PutUint32(b[shb+idb+20:], 0xFFFF_FFFF) }), shb + idb + 20, "over the", 0},
		{"pcapng epb caplen past block", edit(ngFile, func(b []byte) { le.PutUint32(b[shb+idb+20:], 1000) }), shb + idb + 20, "does not fit", 0},
		{"pcapng interface id", edit(ngFile, func(b []byte) { le.PutUint32(b[shb+idb+8:], 7) }), shb + idb + 8, "interface 7", 0},
		{"pcapng option length", edit(ngFile, func(b []byte) { le.PutUint16(b[shb+18:], 0xFFFF) }), shb + 18, "option 9", 0},
		{"pcapng tsresol 10^-20", edit(ngFile, func(b []byte) { b[shb+20] = 20 }), shb + 20, "if_tsresol", 0},
		{"pcapng tsresol 2^-64", edit(ngFile, func(b []byte) { b[shb+20] = 0x80 | 64 }), shb + 20, "if_tsresol", 0},
		{"pcapng byte-order magic", edit(ngFile, func(b []byte) { b[8] = 0 }), 8, "byte-order", 0},
		{"pcapng version", edit(ngFile, func(b []byte) { b[12] = 2 }), 12, "version", 0},
		{"pcapng no section header", ngFile[shb:], 0, "magic", 0},
		{"pcapng short", ngFile[:20], 0, "28 bytes", 0},
	} {
		pc, err := ReadPacketCapture(c.file)
		var ce *CaptureError
		if !errors.As(err, &ce) {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if ce.Offset != c.offset || !strings.Contains(ce.Msg, c.msg) {
			t.Errorf("%s: got %q at %d, want %q at %d", c.name, ce.Msg, ce.Offset, c.msg, c.offset)
		}
		if pc == nil || pc.Packets != c.packets {
			t.Errorf("%s: result %+v", c.name, pc)
		}
	}
	// The bytes after a bad record are not read, but those before are.
	two := append(append([]byte{}, pcapFile...), pcapFile[24:24+16]...)
	le.PutUint32(two[len(pcapFile)+8:], 0xFFFF_FFFF)
	pc, err := ReadPacketCapture(two)
	if err == nil || pc.Packets != 4 || string(pc.Streams[0].ToServer.Data) != "abc" {
		t.Errorf("after a good file: %v, %+v", err, pc)
	}
}

// boundaries records the length of what was written after each Write.
type boundaries struct {
	w  *bytes.Buffer
	at map[int]bool
}

func (b *boundaries) Write(p []byte) (int, error) {
	n, err := b.w.Write(p)
	b.at[b.w.Len()] = true
	return n, err
}

// TestPacketCaptureReverseOrder holds many tiny segments that arrive in
// reverse order, each of which goes in front of all the others held: a
// file built like this must not make reassembly quadratic.
func TestPacketCaptureReverseOrder(t *testing.T) {
	const n = 60000
	d := payload(18, n)
	file := writeCapture(t, pcaptest.Options{LinkType: pcaptest.LinkRaw, NoTimestamps: true}, func(w *pcaptest.Writer) {
		c := w.Attach(cli4, srv4, 1, 1)
		// Byte 0 first, so the stream starts there; then the rest from
		// the end, each byte held in front of those already held until
		// byte 1 arrives last and releases them all.
		must(t, c.SendSegments(t0, true, pcaptest.Segment{Offset: 0, Data: d[:1]}))
		for i := n - 1; i >= 1; i-- {
			must(t, c.SendSegments(t0, true, pcaptest.Segment{Offset: int64(i), Data: d[i : i+1]}))
		}
	})
	start := time.Now()
	pc := readOK(t, file)
	// Quadratic work (moving every held segment on each insert) takes
	// minutes here; the bound is loose for slow, shared machines.
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("took %v", el)
	}
	checkData(t, "reverse", pc.Streams[0].ToServer, d, []StreamMark{{0, t0.Truncate(time.Microsecond)}}, nil)
}

// TestPacketCaptureAfterFIN: bytes beyond the FIN are not stream data,
// whether they were held before the FIN arrived or come after it.
func TestPacketCaptureAfterFIN(t *testing.T) {
	d := payload(19, 3000)
	file := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
		c, err := w.OpenISN(t0, cli4, srv4, 99, 0)
		must(t, err)
		// Held: 1000..2500, of which 1000..2000 is before the FIN, and
		// 2600..3000, wholly after it.
		must(t, c.SendSegments(t0, true,
			pcaptest.Segment{Offset: 0, Data: d[:500]},
			pcaptest.Segment{Offset: 1000, Data: d[1000:2500]},
			pcaptest.Segment{Offset: 2600, Data: d[2600:3000]},
		))
		must(t, w.WriteTCP(t0, cli4, srv4, 100+2000, 1, pcaptest.FIN, nil))
		must(t, c.SendSegments(t0, true, pcaptest.Segment{Offset: 500, Data: d[500:1000]}))
		must(t, w.WriteTCP(t0, cli4, srv4, 100+1900, 1, pcaptest.PSH, d[1900:2500]))
	})
	checkData(t, "fin", readOK(t, file).Streams[0].ToServer, d[:2000], nil, nil)
}

// TestPacketCaptureSimplePacketSnaplen: a simple packet block has no
// captured length; its data is cut at the interface's snaplen and padded,
// and the padding must not be read as captured bytes.
func TestPacketCaptureSimplePacketSnaplen(t *testing.T) {
	const snap = 70 // Ethernet 14 + IPv4 20 + TCP 32 + 4 payload bytes
	file := writeCapture(t, pcaptest.Options{Format: pcaptest.PCAPNG, Snaplen: snap}, func(*pcaptest.Writer) {})
	frame := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
		must(t, w.WriteTCP(t0, cli4, srv4, 1, 1, pcaptest.PSH, []byte("0123456789")))
	})[24+16:]
	le := binary.LittleEndian
	var spb []byte
	spb = le.AppendUint32(spb, 3)
	spb = le.AppendUint32(spb, 12+4+snap+2)
	spb = le.AppendUint32(spb, uint32(len(frame)))
	spb = append(spb, frame[:snap]...)
	spb = append(spb, 0xEE, 0xEE) // padding
	spb = le.AppendUint32(spb, 12+4+snap+2)
	pc := readOK(t, append(file, spb...))
	checkData(t, "spb", pc.Streams[0].ToServer, []byte("0123"), nil, []StreamGap{{4, 6}})
}

// TestPacketCaptureSpanLimit lowers the bound on how far the stream may run
// ahead of a hole: with data held, and with only a FIN beyond the hole.
// Either way the hole becomes a gap at once, so bytes that come later to
// fill it are too late.
func TestPacketCaptureSpanLimit(t *testing.T) {
	d := payload(20, 3000)
	lim := defaultReassemblyLimits
	lim.span = 1500
	for _, finOnly := range []bool{false, true} {
		file := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
			c := mustOpen(t, w, t0, cli4, srv4)
			must(t, c.Send(t0, true, d[:1000]))
			if finOnly {
				c.Skip(true, 2000)
			} else {
				c.Skip(true, 1000)
				must(t, c.Send(t0, true, d[2000:3000]))
			}
			must(t, c.CloseHalf(t0, true))
			must(t, c.SendSegments(t0, true, pcaptest.Segment{Offset: 1000, Data: d[1000:3000]}))
		})
		pc, err := readPacketCapture(file, lim)
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]byte{}, d[:1000]...), d[2000:3000]...)
		if finOnly {
			want = d[:1000]
		}
		checkData(t, fmt.Sprintf("limited, fin only %v", finOnly), pc.Streams[0].ToServer, want, nil, []StreamGap{{1000, int64(3000 - len(want))}})
		checkData(t, "default", readOK(t, file).Streams[0].ToServer, d, nil, nil)
	}
}

// TestPacketCaptureWindow: a segment starting more than 1 GiB beyond the
// furthest byte seen cannot belong to the stream (TCP windows are at most
// 1 GiB) and is dropped rather than turning the distance into a gap.
func TestPacketCaptureWindow(t *testing.T) {
	file := writeCapture(t, pcaptest.Options{}, func(w *pcaptest.Writer) {
		must(t, w.WriteTCP(t0, cli4, srv4, 1, 1, pcaptest.PSH, []byte("abc")))
		must(t, w.WriteTCP(t0, cli4, srv4, 1+0x6000_0000, 1, pcaptest.PSH, []byte("junk")))
		must(t, w.WriteTCP(t0, cli4, srv4, 4, 1, pcaptest.PSH, []byte("def")))
	})
	checkData(t, "window", readOK(t, file).Streams[0].ToServer, []byte("abcdef"), nil, nil)
}
