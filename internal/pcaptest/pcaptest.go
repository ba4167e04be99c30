// Package pcaptest writes pcap and pcapng files of synthetic TCP traffic, so
// tests can produce captures with known contents: what each side sent, in
// which packets, at which times, and with which reorderings, retransmissions
// and losses. The packets are well formed (IP and TCP checksums included) so
// the files also open in tcpdump and Wireshark when a test fails and a person
// wants to look.
//
// A Writer and its Conns are safe for concurrent use: a proxy that records a
// real connection copies both directions on separate goroutines.
package pcaptest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"
)

// Format selects the file format a Writer produces.
type Format int

const (
	// PCAP is the classic libpcap format: one file header, then records.
	PCAP Format = iota
	// PCAPNG is the pcap next generation format: a section header block, one
	// interface description block, then enhanced packet blocks.
	PCAPNG
)

func (f Format) String() string {
	switch f {
	case PCAP:
		return "pcap"
	case PCAPNG:
		return "pcapng"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Link types a Writer can frame packets in (the LINKTYPE_ values of the
// tcpdump.org registry).
const (
	LinkNull     = 0   // BSD loopback: 4-byte address family in the file's byte order
	LinkEthernet = 1   // Ethernet II, optionally with an 802.1Q tag
	LinkRaw      = 101 // bare IPv4 or IPv6 packet
	LinkLoop     = 108 // OpenBSD loopback: 4-byte address family, big endian
	LinkSLL      = 113 // Linux cooked capture v1
	LinkIPv4     = 228 // bare IPv4 packet
	LinkIPv6     = 229 // bare IPv6 packet
	LinkSLL2     = 276 // Linux cooked capture v2
)

// TCP flags, for WriteTCP.
const (
	FIN uint8 = 0x01
	SYN uint8 = 0x02
	RST uint8 = 0x04
	PSH uint8 = 0x08
	ACK uint8 = 0x10
)

// DefaultMSS is the segment size Send splits data at when Options.MSS is 0:
// what Linux uses on a 1500-byte Ethernet link with TCP timestamps on.
const DefaultMSS = 1448

// Options shape the file a Writer produces. The zero value (apart from
// Format) gives a little-endian, microsecond, Ethernet capture.
type Options struct {
	Format Format
	// BigEndian writes the headers in big-endian order, as a capture made on
	// a big-endian machine would have them.
	BigEndian bool
	// Nanosecond writes nanosecond timestamps (pcap's a1b23c4d magic, or
	// if_tsresol 9 in pcapng) instead of microseconds.
	Nanosecond bool
	// LinkType is one of the Link constants; 0 means Ethernet, so a BSD
	// loopback capture needs Null set instead.
	LinkType int
	// Null selects LinkNull, whose number is 0 and so cannot be told from
	// "unset" in LinkType.
	Null bool
	// VLAN, if not 0, puts an 802.1Q tag with this VLAN ID into every
	// Ethernet frame.
	VLAN uint16
	// Pad pads Ethernet frames to the 60-byte minimum with zero bytes, as
	// received short frames appear in captures: the padding is not part of
	// the IP packet, and a reader must use the IP length to find the end.
	Pad bool
	// Snaplen, if not 0, truncates every captured frame to this many bytes
	// (the original length is still recorded), like tcpdump -s.
	Snaplen int
	// MSS is the largest payload Send puts into one segment; 0 means
	// DefaultMSS.
	MSS int
	// NoTimestamps leaves out the 12 bytes of TCP timestamp option that are
	// otherwise on every segment (so readers must honour the data offset).
	NoTimestamps bool
}

// byteOrder is what binary.LittleEndian and BigEndian both are.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// Writer writes a pcap (or pcapng) file of synthetic Ethernet/IPv4-or-IPv6/TCP
// packets. All methods are safe for concurrent use.
type Writer struct {
	mu    sync.Mutex
	w     io.Writer
	opts  Options
	order byteOrder
	link  int
	err   error // first write error; every later call returns it
	ipID  uint16
	isn   uint32 // source of deterministic initial sequence numbers
	buf   []byte
}

// NewWriter writes the file header (pcap) or section header and interface
// description (pcapng) and returns a Writer with default Options.
func NewWriter(w io.Writer, format Format) (*Writer, error) {
	return NewWriterOptions(w, Options{Format: format})
}

// NewWriterOptions is NewWriter with the file shaped by opts.
func NewWriterOptions(w io.Writer, opts Options) (*Writer, error) {
	link := opts.LinkType
	if link == 0 {
		link = LinkEthernet
	}
	if opts.Null {
		link = LinkNull
	}
	switch link {
	case LinkNull, LinkEthernet, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2:
	default:
		return nil, fmt.Errorf("pcaptest: link type %d not supported", link)
	}
	if opts.Format != PCAP && opts.Format != PCAPNG {
		return nil, fmt.Errorf("pcaptest: unknown format %d", int(opts.Format))
	}
	if opts.MSS == 0 {
		opts.MSS = DefaultMSS
	}
	if opts.MSS < 1 || opts.MSS > 65000 {
		return nil, fmt.Errorf("pcaptest: MSS %d out of range", opts.MSS)
	}
	if opts.Snaplen < 0 {
		return nil, fmt.Errorf("pcaptest: negative snaplen %d", opts.Snaplen)
	}
	wr := &Writer{w: w, opts: opts, link: link, order: binary.LittleEndian, isn: 0x1000_0000}
	if opts.BigEndian {
		wr.order = binary.BigEndian
	}
	snaplen := uint32(262144)
	if opts.Snaplen > 0 {
		snaplen = uint32(opts.Snaplen)
	}
	var hdr []byte
	o := wr.order
	if opts.Format == PCAP {
		magic := uint32(0xa1b2c3d4)
		if opts.Nanosecond {
			magic = 0xa1b23c4d
		}
		hdr = o.AppendUint32(hdr, magic)
		hdr = o.AppendUint16(hdr, 2)
		hdr = o.AppendUint16(hdr, 4)
		hdr = o.AppendUint32(hdr, 0) // thiszone
		hdr = o.AppendUint32(hdr, 0) // sigfigs
		hdr = o.AppendUint32(hdr, snaplen)
		hdr = o.AppendUint32(hdr, uint32(link))
	} else {
		// Section header block: no options, section length unknown (-1).
		hdr = o.AppendUint32(hdr, 0x0A0D0D0A)
		hdr = o.AppendUint32(hdr, 28)
		hdr = o.AppendUint32(hdr, 0x1A2B3C4D)
		hdr = o.AppendUint16(hdr, 1)
		hdr = o.AppendUint16(hdr, 0)
		hdr = o.AppendUint64(hdr, ^uint64(0))
		hdr = o.AppendUint32(hdr, 28)
		// Interface description block. if_tsresol is written even for
		// microseconds (its default) so readers must parse the option.
		res := byte(6)
		if opts.Nanosecond {
			res = 9
		}
		hdr = o.AppendUint32(hdr, 1)
		hdr = o.AppendUint32(hdr, 32)
		hdr = o.AppendUint16(hdr, uint16(link))
		hdr = o.AppendUint16(hdr, 0)
		hdr = o.AppendUint32(hdr, snaplen)
		hdr = o.AppendUint16(hdr, 9) // if_tsresol
		hdr = o.AppendUint16(hdr, 1)
		hdr = append(hdr, res, 0, 0, 0)
		hdr = o.AppendUint16(hdr, 0) // opt_endofopt
		hdr = o.AppendUint16(hdr, 0)
		hdr = o.AppendUint32(hdr, 32)
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("pcaptest: writing file header: %w", err)
	}
	return wr, nil
}

// WritePacket writes one frame, already in the Writer's link type, as a
// packet captured at at. Tests use it for what the Writer does not make
// itself: ARP, UDP, IP fragments, malformed headers.
func (w *Writer) WritePacket(at time.Time, frame []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeRecord(at, frame)
}

// WriteTCP writes one TCP segment from src to dst with exactly the given
// sequence and acknowledgement numbers and flags, so tests can produce
// segments no well-behaved Conn would (ACK is added to flags when ack is not
// 0). src and dst must be of the same address family.
func (w *Writer) WriteTCP(at time.Time, src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ack != 0 {
		flags |= ACK
	}
	frame, err := w.tcpFrame(src, dst, seq, ack, flags, payload)
	if err != nil {
		return err
	}
	return w.writeRecord(at, frame)
}

// Conn is one TCP connection; Open writes the three-way handshake. Its
// methods lock the Writer, so both directions may be written concurrently.
type Conn struct {
	w      *Writer
	client netip.AddrPort
	server netip.AddrPort
	// isn is each direction's initial sequence number (0: client to server,
	// 1: server to client) and sent the stream offset just past the
	// furthest byte sent, so the next byte goes at isn+1+sent.
	isn  [2]uint32
	sent [2]int64
	fin  [2]bool
}

// Open writes a SYN, SYN-ACK and ACK between client and server at at and
// returns the connection. The initial sequence numbers are deterministic but
// differ between connections. IPv4-mapped IPv6 addresses (as a dual-stack
// listener reports IPv4 peers) are written as IPv4, as on the wire, so a
// reader reports them unmapped.
func (w *Writer) Open(at time.Time, client, server netip.AddrPort) (*Conn, error) {
	w.mu.Lock()
	c, s := w.isn, w.isn^0x5a5a_0000+0x1234
	w.isn += 0x0100_0000
	w.mu.Unlock()
	return w.OpenISN(at, client, server, c, s)
}

// OpenISN is Open with the initial sequence numbers given, e.g. near 2^32 to
// make the sequence numbers wrap around.
func (w *Writer) OpenISN(at time.Time, client, server netip.AddrPort, clientISN, serverISN uint32) (*Conn, error) {
	c := &Conn{w: w, client: client, server: server, isn: [2]uint32{clientISN, serverISN}}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.seg(at, c, 0, clientISN, 0, SYN, nil); err != nil {
		return nil, err
	}
	if err := w.seg(at, c, 1, serverISN, clientISN+1, SYN|ACK, nil); err != nil {
		return nil, err
	}
	if err := w.seg(at, c, 0, clientISN+1, serverISN+1, ACK, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// Attach returns a connection that was already open when the capture
// started: nothing is written, and the next byte each side sends has the
// given sequence number.
func (w *Writer) Attach(client, server netip.AddrPort, clientSeq, serverSeq uint32) *Conn {
	return &Conn{w: w, client: client, server: server, isn: [2]uint32{clientSeq - 1, serverSeq - 1}}
}

// Segment is one segment for SendSegments. Offset is its position in the
// direction's byte stream (0 is the first byte after the SYN), so segments
// can be written out of order, repeated, overlapped or left out.
type Segment struct {
	Offset int64
	Data   []byte
	// At, if not zero, is the segment's capture time instead of the time
	// given to SendSegments.
	At time.Time
}

// Send writes data from the client (toServer) or the server as segments of
// at most MSS bytes that continue where the direction's stream left off,
// each acknowledging everything the other side has sent.
func (c *Conn) Send(at time.Time, toServer bool, data []byte) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	d := dirIndex(toServer)
	mss := c.w.opts.MSS
	for len(data) > 0 {
		n := min(len(data), mss)
		if err := c.segLocked(at, d, c.sent[d], data[:n], 0); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// SendSegments writes the given segments in the given order. Afterwards the
// direction's stream continues after the furthest byte any segment carried,
// so a later Send neither repeats nor skips it.
func (c *Conn) SendSegments(at time.Time, toServer bool, segs ...Segment) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	d := dirIndex(toServer)
	for _, s := range segs {
		if s.Offset < 0 {
			return fmt.Errorf("pcaptest: negative segment offset %d", s.Offset)
		}
		t := at
		if !s.At.IsZero() {
			t = s.At
		}
		if err := c.segLocked(t, d, s.Offset, s.Data, 0); err != nil {
			return err
		}
	}
	return nil
}

// Skip advances the direction's stream by n bytes without writing anything,
// as if a segment had been sent but not captured.
func (c *Conn) Skip(toServer bool, n int64) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	c.sent[dirIndex(toServer)] += n
}

// Close writes a FIN from the client, a FIN-ACK from the server and the
// client's final ACK. A side that already sent its FIN (CloseHalf) does not
// send another.
func (c *Conn) Close(at time.Time) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	for d := range 2 {
		if !c.fin[d] {
			if err := c.finLocked(at, d); err != nil {
				return err
			}
		}
	}
	return c.segLocked(at, 0, c.sent[0], nil, 0)
}

// CloseHalf writes a FIN from one side only.
func (c *Conn) CloseHalf(at time.Time, toServer bool) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return c.finLocked(at, dirIndex(toServer))
}

// Reset writes a RST from the client (toServer) or the server.
func (c *Conn) Reset(at time.Time, toServer bool) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return c.segLocked(at, dirIndex(toServer), c.sent[dirIndex(toServer)], nil, RST)
}

func (c *Conn) finLocked(at time.Time, d int) error {
	if err := c.segLocked(at, d, c.sent[d], nil, FIN); err != nil {
		return err
	}
	c.fin[d] = true
	return nil
}

// segLocked writes one segment of direction d at stream offset off. The FIN
// takes the sequence number after the data, and once sent is acknowledged by
// the other side's later segments.
func (c *Conn) segLocked(at time.Time, d int, off int64, data []byte, flags uint8) error {
	seq := c.isn[d] + 1 + uint32(off)
	if c.fin[d] && off >= c.sent[d] {
		seq++ // past our FIN, which took one sequence number
	}
	o := 1 - d
	ack := c.isn[o] + 1 + uint32(c.sent[o])
	if c.fin[o] {
		ack++
	}
	if len(data) > 0 {
		flags |= PSH
	}
	if err := c.w.seg(at, c, d, seq, ack, flags|ACK, data); err != nil {
		return err
	}
	c.sent[d] = max(c.sent[d], off+int64(len(data)))
	return nil
}

func dirIndex(toServer bool) int {
	if toServer {
		return 0
	}
	return 1
}

// seg writes a segment of direction d of c; the caller holds w.mu.
func (w *Writer) seg(at time.Time, c *Conn, d int, seq, ack uint32, flags uint8, data []byte) error {
	src, dst := c.client, c.server
	if d == 1 {
		src, dst = dst, src
	}
	if flags&ACK == 0 {
		ack = 0
	}
	frame, err := w.tcpFrame(src, dst, seq, ack, flags, data)
	if err != nil {
		return err
	}
	return w.writeRecord(at, frame)
}

// tcpFrame builds a whole frame of the Writer's link type carrying one TCP
// segment; the caller holds w.mu.
func (w *Writer) tcpFrame(src, dst netip.AddrPort, seq, ack uint32, flags uint8, data []byte) ([]byte, error) {
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	if !sa.IsValid() || !da.IsValid() || sa.Is4() != da.Is4() {
		return nil, fmt.Errorf("pcaptest: addresses %v and %v are not of one family", src, dst)
	}
	// TCP header: MSS option on SYNs, timestamps on everything (unless
	// turned off), so the data offset is rarely 5.
	var opts []byte
	if flags&SYN != 0 {
		opts = append(opts, 2, 4, byte(w.opts.MSS>>8), byte(w.opts.MSS))
	}
	if !w.opts.NoTimestamps {
		opts = append(opts, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0)
	}
	for len(opts)%4 != 0 {
		opts = append(opts, 1)
	}
	tcp := make([]byte, 0, 20+len(opts)+len(data))
	tcp = binary.BigEndian.AppendUint16(tcp, src.Port())
	tcp = binary.BigEndian.AppendUint16(tcp, dst.Port())
	tcp = binary.BigEndian.AppendUint32(tcp, seq)
	tcp = binary.BigEndian.AppendUint32(tcp, ack)
	tcp = append(tcp, byte((20+len(opts))/4)<<4, flags)
	tcp = binary.BigEndian.AppendUint16(tcp, 65535) // window
	tcp = append(tcp, 0, 0, 0, 0)                   // checksum, urgent pointer
	tcp = append(tcp, opts...)
	tcp = append(tcp, data...)

	var ip []byte
	if sa.Is4() {
		if len(tcp)+20 > 65535 {
			return nil, errors.New("pcaptest: segment too large for IPv4")
		}
		w.ipID++
		ip = make([]byte, 20, 20+len(tcp))
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
		binary.BigEndian.PutUint16(ip[4:], w.ipID)
		ip[6] = 0x40 // don't fragment
		ip[8] = 64
		ip[9] = 6
		s4, d4 := sa.As4(), da.As4()
		copy(ip[12:], s4[:])
		copy(ip[16:], d4[:])
		binary.BigEndian.PutUint16(ip[10:], ^sum16(0, ip))
		putTCPChecksum(tcp, pseudo(s4[:], d4[:], len(tcp)))
	} else {
		if len(tcp) > 65535 {
			return nil, errors.New("pcaptest: segment too large for IPv6")
		}
		ip = make([]byte, 40, 40+len(tcp))
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(tcp)))
		ip[6] = 6
		ip[7] = 64
		s16, d16 := sa.As16(), da.As16()
		copy(ip[8:], s16[:])
		copy(ip[24:], d16[:])
		putTCPChecksum(tcp, pseudo(s16[:], d16[:], len(tcp)))
	}
	ip = append(ip, tcp...)
	return w.linkFrame(ip, sa.Is4()), nil
}

// linkFrame wraps an IP packet in the Writer's link-layer header.
func (w *Writer) linkFrame(ip []byte, v4 bool) []byte {
	ethertype := uint16(0x86DD)
	if v4 {
		ethertype = 0x0800
	}
	var f []byte
	switch w.link {
	case LinkEthernet:
		f = append(f, 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01)
		if w.opts.VLAN != 0 {
			f = binary.BigEndian.AppendUint16(f, 0x8100)
			f = binary.BigEndian.AppendUint16(f, w.opts.VLAN&0x0fff)
		}
		f = binary.BigEndian.AppendUint16(f, ethertype)
		f = append(f, ip...)
		if w.opts.Pad {
			for len(f) < 60 {
				f = append(f, 0)
			}
		}
	case LinkSLL:
		f = binary.BigEndian.AppendUint16(f, 0) // packet type: to us
		f = binary.BigEndian.AppendUint16(f, 1) // ARPHRD_ETHER
		f = binary.BigEndian.AppendUint16(f, 6)
		f = append(f, 0x02, 0, 0, 0, 0, 0x01, 0, 0)
		f = binary.BigEndian.AppendUint16(f, ethertype)
		f = append(f, ip...)
	case LinkSLL2:
		f = binary.BigEndian.AppendUint16(f, ethertype)
		f = binary.BigEndian.AppendUint16(f, 0)
		f = binary.BigEndian.AppendUint32(f, 2) // interface index
		f = binary.BigEndian.AppendUint16(f, 1) // ARPHRD_ETHER
		f = append(f, 0, 6)                     // packet type, address length
		f = append(f, 0x02, 0, 0, 0, 0, 0x01, 0, 0)
		f = append(f, ip...)
	case LinkNull, LinkLoop:
		family := uint32(2)
		if !v4 {
			family = 30 // AF_INET6 on macOS, the usual source of such files
		}
		if w.link == LinkLoop {
			f = binary.BigEndian.AppendUint32(f, family)
		} else {
			f = w.order.AppendUint32(f, family)
		}
		f = append(f, ip...)
	default: // raw IP
		f = append(f, ip...)
	}
	return f
}

// writeRecord writes one packet record or block; the caller holds w.mu.
func (w *Writer) writeRecord(at time.Time, frame []byte) error {
	if w.err != nil {
		return w.err
	}
	caplen := len(frame)
	if w.opts.Snaplen > 0 && caplen > w.opts.Snaplen {
		caplen = w.opts.Snaplen
	}
	o := w.order
	b := w.buf[:0]
	if w.opts.Format == PCAP {
		sec := at.Unix()
		if sec < 0 || sec > 0xFFFF_FFFF {
			return fmt.Errorf("pcaptest: time %v does not fit a pcap timestamp", at)
		}
		frac := at.Nanosecond()
		if !w.opts.Nanosecond {
			frac /= 1000
		}
		b = o.AppendUint32(b, uint32(sec))
		b = o.AppendUint32(b, uint32(frac))
		b = o.AppendUint32(b, uint32(caplen))
		b = o.AppendUint32(b, uint32(len(frame)))
		b = append(b, frame[:caplen]...)
	} else {
		if at.Before(time.Unix(0, 0)) {
			return fmt.Errorf("pcaptest: time %v is before 1970", at)
		}
		ts := uint64(at.UnixNano())
		if !w.opts.Nanosecond {
			ts /= 1000
		}
		pad := (4 - caplen%4) % 4
		total := uint32(32 + caplen + pad)
		b = o.AppendUint32(b, 6) // enhanced packet block
		b = o.AppendUint32(b, total)
		b = o.AppendUint32(b, 0) // interface 0
		b = o.AppendUint32(b, uint32(ts>>32))
		b = o.AppendUint32(b, uint32(ts))
		b = o.AppendUint32(b, uint32(caplen))
		b = o.AppendUint32(b, uint32(len(frame)))
		b = append(b, frame[:caplen]...)
		b = append(b, make([]byte, pad)...)
		b = o.AppendUint32(b, total)
	}
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("pcaptest: writing packet: %w", err)
		return w.err
	}
	return nil
}

func pseudo(src, dst []byte, n int) uint32 {
	s := uint32(sum16(0, src))
	s = uint32(sum16(s, dst))
	return s + 6 + uint32(n)
}

func putTCPChecksum(tcp []byte, pseudoSum uint32) {
	binary.BigEndian.PutUint16(tcp[16:], ^sum16(pseudoSum, tcp))
}

// sum16 adds b to the ones' complement sum s and folds it to 16 bits.
func sum16(s uint32, b []byte) uint16 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
