package inspect

// Reading pcap and pcapng files, and the link, IP and TCP headers inside
// them, is written by hand here rather than taken from a library.
//
// The candidate was github.com/gopacket/gopacket/pcapgo (v1.7.7), which does
// build for js/wasm, but it imports gopacket/layers, whose init registers
// hundreds of protocol decoders that the linker cannot drop. Measured on the
// wasm module (GOOS=js GOARCH=wasm go build of ./wasm plus a reference to
// pcapgo.NewReader and NewNgReader): 4,578,337 -> 8,191,250 bytes raw and
// 1,234,517 -> 2,039,188 bytes by gzip -9, i.e. +805 KB gzipped against a
// budget of 150 KB (with gopacket/reassembly as well: 2,068,454). The formats
// and the few headers TCP needs are small and fully specified; this file and
// reassembly.go together add 100,958 bytes raw and 27,112 gzipped to the same
// module.
//
// Formats: pcap is described in draft-ietf-opsawg-pcap, pcapng in
// draft-ietf-opsawg-pcapng, link types in the tcpdump.org LINKTYPE registry.
//
// The input is untrusted (a file the user drops on the page): every length
// field is checked against the bytes actually present before it is used, and
// nothing is allocated from a length field; packets are sliced out of data,
// never copied, until reassembly appends their payload to a stream.

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"time"
)

// IsPacketCapture reports whether data starts like a pcap (either byte order,
// micro or nano second) or pcapng file. A pcap magic must be followed by
// version 2 when the version is present, and a pcapng section header by its
// byte-order magic: four bytes alone could be the start of other data, such as
// a Bitcoin Core capture, whose first bytes are a timestamp.
func IsPacketCapture(data []byte) bool {
	if len(data) < 4 {
		return false
	}
	if order, _, ok := pcapMagic(data); ok {
		return len(data) < 6 || order.Uint16(data[4:]) == 2
	}
	if binary.LittleEndian.Uint32(data) == blockSHB && len(data) >= 12 {
		_, ok := shbByteOrder(data[8:12])
		return ok
	}
	return false
}

// TCPStream is one TCP connection found in a capture.
type TCPStream struct {
	// Client sent the SYN; if no SYN was captured, it is the source of the
	// first packet seen (or the destination of a SYN-ACK, when that is the
	// first packet).
	Client, Server     netip.AddrPort
	ToServer, ToClient StreamData
}

// StreamData is one direction's bytes in sequence order.
type StreamData struct {
	// Data is the reassembled in-order bytes; missing bytes are not included
	// (see Gaps).
	Data []byte
	// Marks, in ascending Offset, say when bytes were captured: the bytes
	// from Offset up to the next mark's Offset arrived in the packet captured
	// at Time. That is the packet that first carried them; a retransmission
	// does not change it. Consecutive packets with the same time share a
	// mark.
	Marks []StreamMark
	// Gaps are where bytes were never captured: at Data offset Offset,
	// Length bytes of the sequence space are missing.
	Gaps []StreamGap
	// Opened says the direction's SYN was captured, so Data starts at the
	// stream's first byte (unless a gap at offset 0 says otherwise), as
	// decrypting BIP324 needs.
	Opened bool
}

// StreamMark is the capture time of the bytes of a StreamData from Offset on.
type StreamMark struct {
	Offset int
	Time   time.Time
}

// StreamGap is a run of Length sequence numbers that no captured packet
// carried, between Data[Offset-1] and Data[Offset].
type StreamGap struct {
	Offset int
	Length int64
}

// PacketCapture is what ReadPacketCapture found.
type PacketCapture struct {
	// Format is "pcap" or "pcapng" ("" if the file was neither).
	Format string
	// Streams are the TCP connections, in order of each one's first packet.
	Streams []TCPStream
	// Packets counts the packets read.
	Packets int
	// Ignored counts the packets that were not TCP over IPv4 or IPv6 (ARP,
	// UDP, IP fragments, malformed headers, ...) or were captured on a
	// pcapng interface of an unsupported link type.
	Ignored int
}

// ReadPacketCapture parses a pcap or pcapng file and reassembles every TCP
// connection in both directions. It returns what it read before a problem
// (never nil) together with a *CaptureError saying exactly where (byte offset
// in the file) and what was wrong: streams are reassembled from every packet
// before the problem, since the packets before it are sound.
func ReadPacketCapture(data []byte) (*PacketCapture, error) {
	return readPacketCapture(data, defaultReassemblyLimits)
}

func readPacketCapture(data []byte, lim reassemblyLimits) (*PacketCapture, error) {
	pc := &PacketCapture{}
	asm := newAssembler(lim)
	var err error
	switch {
	case len(data) >= 4 && binary.LittleEndian.Uint32(data) == blockSHB:
		pc.Format = "pcapng"
		err = readPcapng(data, pc, asm)
	default:
		if _, _, ok := pcapMagic(data); ok {
			pc.Format = "pcap"
			err = readPcap(data, pc, asm)
		} else {
			err = &CaptureError{0, "not a pcap or pcapng file (unknown magic number)"}
		}
	}
	pc.Streams = asm.finish()
	return pc, err
}

const (
	pcapFileHeader   = 24
	pcapRecordHeader = 16
	// maxCapLen bounds a packet's captured length. Capture tools default to
	// 262144 (tcpdump, Wireshark); a larger value means a corrupt length.
	maxCapLen = 256 << 10
)

// pcapMagic recognizes the pcap magic number in both byte orders and both
// timestamp resolutions.
func pcapMagic(data []byte) (order binary.ByteOrder, nano bool, ok bool) {
	if len(data) < 4 {
		return nil, false, false
	}
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4:
		return binary.LittleEndian, false, true
	case 0xa1b23c4d:
		return binary.LittleEndian, true, true
	}
	switch binary.BigEndian.Uint32(data) {
	case 0xa1b2c3d4:
		return binary.BigEndian, false, true
	case 0xa1b23c4d:
		return binary.BigEndian, true, true
	}
	return nil, false, false
}

func readPcap(data []byte, pc *PacketCapture, asm *assembler) error {
	if len(data) < pcapFileHeader {
		return &CaptureError{0, fmt.Sprintf("pcap file header needs %d bytes, the file has %d", pcapFileHeader, len(data))}
	}
	order, nano, _ := pcapMagic(data)
	if major := order.Uint16(data[4:]); major != 2 {
		return &CaptureError{4, fmt.Sprintf("pcap version %d.%d, only 2.x is known", major, order.Uint16(data[6:]))}
	}
	// The link-type field's upper bits carry FCS information; the link
	// type is the low 16 bits. A trailing FCS needs no handling because
	// payloads are cut at the IP length.
	link := order.Uint32(data[20:]) & 0xffff
	if !linkSupported(link) {
		return &CaptureError{20, fmt.Sprintf("link type %d is not supported (Ethernet, Linux cooked, raw IP and BSD loopback are)", link)}
	}
	for off := pcapFileHeader; off < len(data); {
		if len(data)-off < pcapRecordHeader {
			return &CaptureError{off, fmt.Sprintf("packet record header needs %d bytes, %d left (file truncated)", pcapRecordHeader, len(data)-off)}
		}
		sec := order.Uint32(data[off:])
		frac := order.Uint32(data[off+4:])
		caplen := order.Uint32(data[off+8:])
		if caplen > maxCapLen {
			return &CaptureError{off + 8, fmt.Sprintf("captured length %d is over the %d limit", caplen, maxCapLen)}
		}
		if int(caplen) > len(data)-off-pcapRecordHeader {
			return &CaptureError{off + 8, fmt.Sprintf("captured length %d but only %d bytes left (file truncated)", caplen, len(data)-off-pcapRecordHeader)}
		}
		var ts time.Time
		if nano {
			ts = time.Unix(int64(sec), int64(frac)).UTC()
		} else {
			ts = time.Unix(int64(sec), int64(frac)*1000).UTC()
		}
		pkt := data[off+pcapRecordHeader : off+pcapRecordHeader+int(caplen)]
		pc.Packets++
		if !asm.packet(ts, link, pkt) {
			pc.Ignored++
		}
		off += pcapRecordHeader + int(caplen)
	}
	return nil
}

// pcapng block types.
const (
	blockSHB = 0x0A0D0D0A // section header; the same in both byte orders
	blockIDB = 1          // interface description
	blockPB  = 2          // packet (obsolete)
	blockSPB = 3          // simple packet
	blockEPB = 6          // enhanced packet
)

// pcapngIface is what an IDB says that the packets captured on it need.
type pcapngIface struct {
	link    uint32
	snaplen uint32
	// unitsPerSec is how many timestamp units make a second (if_tsresol)
	// and offset the seconds to add (if_tsoffset).
	unitsPerSec uint64
	offset      int64
}

func shbByteOrder(bom []byte) (binary.ByteOrder, bool) {
	switch binary.LittleEndian.Uint32(bom) {
	case 0x1A2B3C4D:
		return binary.LittleEndian, true
	case 0x4D3C2B1A:
		return binary.BigEndian, true
	}
	return nil, false
}

func readPcapng(data []byte, pc *PacketCapture, asm *assembler) error {
	var order binary.ByteOrder
	var ifaces []pcapngIface
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			return &CaptureError{off, fmt.Sprintf("block header and trailer need 12 bytes, %d left (file truncated)", len(data)-off)}
		}
		typ := binary.LittleEndian.Uint32(data[off:])
		if typ == blockSHB {
			// A section header sets the byte order for itself and
			// everything up to the next one, so its own length can only
			// be read after its byte-order magic.
			if len(data)-off < 28 {
				return &CaptureError{off, fmt.Sprintf("section header block needs 28 bytes, %d left (file truncated)", len(data)-off)}
			}
			o, ok := shbByteOrder(data[off+8 : off+12])
			if !ok {
				return &CaptureError{off + 8, fmt.Sprintf("section header byte-order magic %x is neither 1a2b3c4d nor 4d3c2b1a", data[off+8:off+12])}
			}
			order = o
			ifaces = ifaces[:0] // interface numbers start again in each section
		} else if order == nil {
			return &CaptureError{off, "pcapng file does not start with a section header block"}
		} else {
			typ = order.Uint32(data[off:])
		}
		total := order.Uint32(data[off+4:])
		if total < 12 || total%4 != 0 {
			return &CaptureError{off + 4, fmt.Sprintf("block total length %d is not a multiple of 4 of at least 12", total)}
		}
		if uint64(total) > uint64(len(data)-off) {
			return &CaptureError{off + 4, fmt.Sprintf("block total length %d but only %d bytes left (file truncated)", total, len(data)-off)}
		}
		end := off + int(total)
		if trailer := order.Uint32(data[end-4:]); trailer != total {
			return &CaptureError{end - 4, fmt.Sprintf("block trailer length %d does not match the header's %d", trailer, total)}
		}
		body := data[off+8 : end-4]
		bodyOff := off + 8
		switch typ {
		case blockSHB:
			if len(body) < 16 {
				return &CaptureError{off + 4, fmt.Sprintf("section header block length %d is under 28", total)}
			}
			if major := order.Uint16(body[4:]); major != 1 {
				return &CaptureError{bodyOff + 4, fmt.Sprintf("pcapng version %d.%d, only 1.x is known", major, order.Uint16(body[6:]))}
			}
		case blockIDB:
			ifc, err := parseIDB(order, body, bodyOff)
			if err != nil {
				return err
			}
			ifaces = append(ifaces, ifc)
		case blockEPB, blockPB:
			// EPB: interface u32, timestamp u32+u32, caplen, origlen.
			// PB: interface u16, drops u16, then the same.
			if len(body) < 20 {
				return &CaptureError{off + 4, fmt.Sprintf("packet block length %d is too short for its fields", total)}
			}
			var id uint32
			if typ == blockEPB {
				id = order.Uint32(body)
			} else {
				id = uint32(order.Uint16(body))
			}
			if uint64(id) >= uint64(len(ifaces)) {
				return &CaptureError{bodyOff, fmt.Sprintf("packet on interface %d, but the section described %d", id, len(ifaces))}
			}
			caplen := order.Uint32(body[12:])
			if caplen > maxCapLen {
				return &CaptureError{bodyOff + 12, fmt.Sprintf("captured length %d is over the %d limit", caplen, maxCapLen)}
			}
			if int(caplen) > len(body)-20 {
				return &CaptureError{bodyOff + 12, fmt.Sprintf("captured length %d does not fit the block's %d bytes of packet data", caplen, len(body)-20)}
			}
			ifc := ifaces[id]
			ts := ifc.time(uint64(order.Uint32(body[4:]))<<32 | uint64(order.Uint32(body[8:])))
			pc.Packets++
			if !linkSupported(ifc.link) || !asm.packet(ts, ifc.link, body[20:20+caplen]) {
				pc.Ignored++
			}
		case blockSPB:
			// A simple packet has no interface number (it is interface 0),
			// no timestamp and no captured length: the packet is the
			// original length cut to the snaplen, padded to 4 bytes.
			if len(body) < 4 {
				return &CaptureError{off + 4, fmt.Sprintf("simple packet block length %d is too short", total)}
			}
			if len(ifaces) == 0 {
				return &CaptureError{off, "simple packet block, but the section described no interface"}
			}
			ifc := ifaces[0]
			n := uint64(order.Uint32(body))
			if ifc.snaplen != 0 {
				n = min(n, uint64(ifc.snaplen))
			}
			n = min(n, uint64(len(body)-4))
			pc.Packets++
			// Without a timestamp the bytes get the zero time.
			if !linkSupported(ifc.link) || !asm.packet(time.Time{}, ifc.link, body[4:4+n]) {
				pc.Ignored++
			}
		}
		// Other blocks (name resolution, statistics, journal, custom, ...)
		// say nothing about the TCP streams and are skipped whole.
		off = end
	}
	return nil
}

// parseIDB reads an interface description block's body, at file offset off.
func parseIDB(order binary.ByteOrder, body []byte, off int) (pcapngIface, error) {
	if len(body) < 8 {
		return pcapngIface{}, &CaptureError{off - 4, fmt.Sprintf("interface description block length %d is under 20", len(body)+12)}
	}
	ifc := pcapngIface{
		link:        uint32(order.Uint16(body)),
		snaplen:     order.Uint32(body[4:]),
		unitsPerSec: 1_000_000,
	}
	for p := 8; p < len(body); {
		if len(body)-p < 4 {
			return ifc, &CaptureError{off + p, fmt.Sprintf("option header needs 4 bytes, %d left in the block", len(body)-p)}
		}
		code := order.Uint16(body[p:])
		n := int(order.Uint16(body[p+2:]))
		if code == 0 { // opt_endofopt
			break
		}
		if n > len(body)-p-4 {
			return ifc, &CaptureError{off + p + 2, fmt.Sprintf("option %d of length %d does not fit the block's %d bytes left", code, n, len(body)-p-4)}
		}
		val := body[p+4 : p+4+n]
		switch code {
		case 9: // if_tsresol
			if n != 1 {
				return ifc, &CaptureError{off + p + 2, fmt.Sprintf("if_tsresol option has length %d, not 1", n)}
			}
			r := val[0]
			exp := uint(r & 0x7f)
			if r&0x80 != 0 {
				if exp > 63 {
					return ifc, &CaptureError{off + p + 4, fmt.Sprintf("if_tsresol 2^-%d is finer than 64-bit timestamps can hold", exp)}
				}
				ifc.unitsPerSec = 1 << exp
			} else {
				if exp > 19 {
					return ifc, &CaptureError{off + p + 4, fmt.Sprintf("if_tsresol 10^-%d is finer than 64-bit timestamps can hold", exp)}
				}
				ifc.unitsPerSec = 1
				for range exp {
					ifc.unitsPerSec *= 10
				}
			}
		case 14: // if_tsoffset, seconds added to every timestamp
			if n != 8 {
				return ifc, &CaptureError{off + p + 2, fmt.Sprintf("if_tsoffset option has length %d, not 8", n)}
			}
			ifc.offset = int64(order.Uint64(val))
		}
		p += 4 + (n+3)&^3
	}
	return ifc, nil
}

// time converts a timestamp in the interface's units. The fraction is
// computed in 128 bits because units*1e9 overflows 64 for fine resolutions.
func (ifc pcapngIface) time(ts uint64) time.Time {
	sec := ts / ifc.unitsPerSec
	frac := ts % ifc.unitsPerSec
	hi, lo := bits.Mul64(frac, 1e9)
	ns, _ := bits.Div64(hi, lo, ifc.unitsPerSec) // hi < unitsPerSec since frac is
	return time.Unix(int64(sec)+ifc.offset, int64(ns)).UTC()
}

// Link types (tcpdump.org LINKTYPE_ values).
const (
	linkNull     = 0
	linkEthernet = 1
	linkRaw      = 101
	linkLoop     = 108
	linkSLL      = 113
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL2     = 276
)

func linkSupported(link uint32) bool {
	switch link {
	case linkNull, linkEthernet, linkRaw, linkLoop, linkSLL, linkIPv4, linkIPv6, linkSLL2:
		return true
	}
	return false
}

// Ethertypes.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86DD
	ether8021Q = 0x8100
	ether8021A = 0x88A8 // 802.1ad service tag (QinQ outer tag)
	etherQinQ  = 0x9100 // pre-standard QinQ outer tag
)

// tcpSegment is one TCP segment as the reassembler needs it.
type tcpSegment struct {
	src, dst netip.AddrPort
	seq      uint32
	flags    uint8
	// payload is the captured part of the payload; length is the payload's
	// real length by the IP header, longer than payload when the capture
	// cut the packet short (snaplen).
	payload []byte
	length  int
}

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// decodePacket finds the TCP segment in a captured frame of the given link
// type; ok is false for anything else (other protocols, fragments, headers
// that do not fit or do not make sense).
func decodePacket(link uint32, pkt []byte) (seg tcpSegment, ok bool) {
	var ip []byte
	switch link {
	case linkEthernet:
		if len(pkt) < 14 {
			return seg, false
		}
		et := binary.BigEndian.Uint16(pkt[12:])
		p := 14
		// Stacked tags are rare, but a bound keeps a frame of nothing but
		// tags from being walked far.
		for i := 0; i < 4 && (et == ether8021Q || et == ether8021A || et == etherQinQ); i++ {
			if len(pkt)-p < 4 {
				return seg, false
			}
			et = binary.BigEndian.Uint16(pkt[p+2:])
			p += 4
		}
		if et != etherIPv4 && et != etherIPv6 {
			return seg, false
		}
		ip = pkt[p:]
	case linkSLL:
		if len(pkt) < 16 {
			return seg, false
		}
		if et := binary.BigEndian.Uint16(pkt[14:]); et != etherIPv4 && et != etherIPv6 {
			return seg, false
		}
		ip = pkt[16:]
	case linkSLL2:
		if len(pkt) < 20 {
			return seg, false
		}
		if et := binary.BigEndian.Uint16(pkt); et != etherIPv4 && et != etherIPv6 {
			return seg, false
		}
		ip = pkt[20:]
	case linkNull, linkLoop:
		// The address family is in the capturing host's byte order for
		// NULL (big endian always for LOOP). AF_INET is 2 everywhere;
		// AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD) or
		// 30 (macOS). Either byte order is accepted: a family fits in 16
		// bits, so at most one reading is small.
		if len(pkt) < 4 {
			return seg, false
		}
		fam := binary.BigEndian.Uint32(pkt)
		if link == linkNull && fam > 0xffff {
			fam = binary.LittleEndian.Uint32(pkt)
		}
		switch fam {
		case 2, 10, 24, 28, 30:
		default:
			return seg, false
		}
		ip = pkt[4:]
	case linkRaw, linkIPv4, linkIPv6:
		ip = pkt
	default:
		return seg, false
	}
	return decodeIP(ip)
}

// decodeIP reads an IPv4 or IPv6 packet (by its version nibble) down to TCP.
func decodeIP(ip []byte) (seg tcpSegment, ok bool) {
	if len(ip) < 1 {
		return seg, false
	}
	var tcp []byte // from the TCP header to the end of the captured bytes
	var tcpLen int // the TCP header and payload length by the IP header
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < 20 {
			return seg, false
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:]))
		if total == 0 {
			// TCP segmentation offload: the sender's own capture sees the
			// packet before the NIC fills in the length. The captured
			// bytes are all there is to go by.
			total = len(ip)
		}
		if ihl < 20 || ihl > len(ip) || total < ihl {
			return seg, false
		}
		// A fragment (more-fragments set or a non-zero offset) holds only
		// part of a segment; reassembling IP fragments is out of scope and
		// TCP traffic almost never has them (path MTU discovery).
		if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 || ip[9] != 6 {
			return seg, false
		}
		seg.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), 0)
		seg.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), 0)
		tcp, tcpLen = ip[ihl:], total-ihl
	case 6:
		if len(ip) < 40 {
			return seg, false
		}
		plen := int(binary.BigEndian.Uint16(ip[4:]))
		if plen == 0 {
			// A jumbogram (length in a hop-by-hop option) or offload as
			// for IPv4: go by the captured bytes.
			plen = len(ip) - 40
		}
		seg.src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[8:24])), 0)
		seg.dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[24:40])), 0)
		next := ip[6]
		p := 40
		end := 40 + plen // where the packet ends by its header
		// Walk the extension headers up to TCP. A bound on their number
		// keeps a packet of chained empty headers cheap.
		for i := 0; next != 6; i++ {
			if i == 16 {
				return seg, false
			}
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(ip)-p < 2 {
					return seg, false
				}
				next = ip[p]
				p += (int(ip[p+1]) + 1) * 8
			case 51: // authentication header: length in 4-byte units, minus 2
				if len(ip)-p < 2 {
					return seg, false
				}
				next = ip[p]
				p += (int(ip[p+1]) + 2) * 4
			default: // fragment (44), ESP (50), no next header (59), UDP, ...
				return seg, false
			}
			if p > len(ip) || p > end {
				return seg, false
			}
		}
		tcp, tcpLen = ip[p:], end-p
	default:
		return seg, false
	}
	if len(tcp) < 20 || tcpLen < 20 {
		return seg, false
	}
	doff := int(tcp[12]>>4) * 4
	if doff < 20 || doff > tcpLen || doff > len(tcp) {
		return seg, false
	}
	seg.src = netip.AddrPortFrom(seg.src.Addr(), binary.BigEndian.Uint16(tcp))
	seg.dst = netip.AddrPortFrom(seg.dst.Addr(), binary.BigEndian.Uint16(tcp[2:]))
	seg.seq = binary.BigEndian.Uint32(tcp[4:])
	seg.flags = tcp[13]
	seg.length = tcpLen - doff
	// The payload ends where the IP header says, not where the capture
	// does: Ethernet pads short frames and some links append an FCS.
	seg.payload = tcp[doff:min(len(tcp), tcpLen)]
	return seg, true
}
