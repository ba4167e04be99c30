package inspect

import (
	"net/netip"
	"time"
)

// TCP reassembly for captures: each direction of each connection is put back
// into sequence order the way the receiving stack would have seen it.
//
// Positions within a direction are kept as int64 offsets from the first data
// byte ("relative" positions), so 32-bit sequence numbers wrapping past 2^32
// never reach the bookkeeping: a segment's sequence number is turned into an
// offset by its signed 32-bit distance from the furthest position seen so
// far, which is exact while segments stay within 2 GiB of it, as they must
// with TCP's windows of at most 1 GiB.

// reassemblyLimits bound what one direction may hold back while waiting for a
// hole to be filled. Past them the hole is given up as a gap, as it is at the
// end of the capture.
type reassemblyLimits struct {
	// buffered bounds the bytes of out-of-order data held, each segment
	// counted with segmentOverhead for its bookkeeping.
	buffered int64
	// span bounds how far the furthest position seen may run ahead of the
	// hole. When the capture cut every packet short, each held piece
	// stands for a long run of sequence space and the bytes held stay
	// small; this bounds how long such a stream waits on a hole.
	span int64
	// window is how far beyond the furthest position seen a segment may
	// start and still be taken; one further is junk (or from another
	// connection on the same addresses), and taking it would turn the
	// whole distance into a gap.
	window int64
}

// segmentOverhead is what a held segment costs beside its bytes.
const segmentOverhead = 64

var defaultReassemblyLimits = reassemblyLimits{
	buffered: 64 << 20,
	span:     1 << 30,
	window:   1 << 30,
}

// dirKey is a connection's addresses as seen in one direction.
type dirKey struct{ src, dst netip.AddrPort }

// assembler holds the connections of one capture.
type assembler struct {
	lim   reassemblyLimits
	conns map[dirKey]*tcpConn // the current connection for each direction of each 4-tuple
	all   []*tcpConn          // every connection, in order of its first packet
}

func newAssembler(lim reassemblyLimits) *assembler {
	return &assembler{lim: lim, conns: make(map[dirKey]*tcpConn)}
}

// tcpConn is one connection: dir[0] is client to server, dir[1] the reverse.
type tcpConn struct {
	client, server netip.AddrPort
	dir            [2]halfStream
	closed         bool // a FIN or RST was seen, so a new SYN starts a new connection
}

// halfStream reassembles one direction.
type halfStream struct {
	seen     bool    // a segment was seen, so base is set
	synISN   bool    // base came from a SYN rather than the first segment seen
	base     uint32  // sequence number of relative position 0
	next     int64   // relative position of the next byte to deliver
	high     int64   // furthest relative position any segment reached
	fin      int64   // relative position of the FIN, or -1
	held     heldSet // out-of-order data beyond next
	heldCost int64
	out      StreamData
}

// heldSegment is out-of-order data waiting for the bytes before it.
type heldSegment struct {
	start int64
	data  []byte // a slice of the capture, not a copy
	at    time.Time
}

func (h heldSegment) end() int64 { return h.start + int64(len(h.data)) }

// packet decodes a captured frame and feeds its TCP segment to its
// connection; it reports false for a frame that is not TCP over IP.
func (a *assembler) packet(at time.Time, link uint32, pkt []byte) bool {
	seg, ok := decodePacket(link, pkt)
	if !ok {
		return false
	}
	a.segment(at, seg)
	return true
}

func (a *assembler) segment(at time.Time, seg tcpSegment) {
	key := dirKey{seg.src, seg.dst}
	c := a.conns[key]
	syn := seg.flags&tcpSYN != 0
	synAck := syn && seg.flags&tcpACK != 0
	if c != nil && syn {
		d := &c.dir[c.index(seg.src)]
		sameSYN := d.seen && d.synISN && d.base == seg.seq+1
		// A SYN that is not a retransmission of this direction's own
		// SYN opens a new connection on the same addresses: after a FIN
		// or RST that is port reuse, and otherwise the capture missed
		// the old connection's end.
		if !sameSYN && (d.seen || (c.closed && !synAck)) {
			c = nil
		}
	}
	if c == nil {
		c = &tcpConn{client: seg.src, server: seg.dst}
		if synAck {
			// The SYN was not captured; the SYN-ACK's sender is the
			// server all the same.
			c.client, c.server = seg.dst, seg.src
		}
		c.dir[0].fin, c.dir[1].fin = -1, -1
		a.all = append(a.all, c)
		a.conns[key] = c
		a.conns[dirKey{seg.dst, seg.src}] = c
	}
	if seg.flags&(tcpFIN|tcpRST) != 0 {
		c.closed = true
	}
	c.dir[c.index(seg.src)].segment(at, seg, a.lim)
}

func (c *tcpConn) index(src netip.AddrPort) int {
	if src == c.client {
		return 0
	}
	return 1
}

// segment takes one segment of this direction.
func (h *halfStream) segment(at time.Time, seg tcpSegment, lim reassemblyLimits) {
	syn := seg.flags&tcpSYN != 0
	if !h.seen {
		h.seen = true
		h.base = seg.seq
		if syn {
			h.base++ // the SYN takes one sequence number, before the data
			h.synISN = true
		}
	}
	if seg.flags&tcpRST != 0 {
		// A reset ends the connection; any payload it carries is a
		// diagnostic message, not stream data.
		return
	}
	var start int64
	if syn {
		start = int64(int32(seg.seq + 1 - h.base))
		if start != 0 {
			return // a SYN elsewhere than at the start is nonsense
		}
	} else {
		start = h.high + int64(int32(seg.seq-(h.base+uint32(h.high))))
	}
	if start > h.high+lim.window || start < -lim.window {
		return
	}
	end := start + int64(seg.length)
	if seg.flags&tcpFIN != 0 && h.fin < 0 && end >= h.next {
		h.setFIN(end)
	}
	if h.fin >= 0 {
		end = min(end, h.fin)
	}
	if end <= h.next {
		return // nothing new: a retransmission, a pure ACK or a FIN
	}
	h.high = max(h.high, end)
	data := seg.payload[:min(int64(len(seg.payload)), max(end-start, 0))]
	if start <= h.next {
		// The captured part may end before next when the capture cut
		// the packet short; then only its logical length was new.
		if skip := h.next - start; skip < int64(len(data)) {
			h.deliver(at, data[skip:])
		}
		h.drain()
	} else {
		h.hold(start, data, at)
	}
	h.enforce(lim)
}

// setFIN records where the stream ends: nothing after the FIN is stream
// data, so held bytes beyond it are dropped.
func (h *halfStream) setFIN(pos int64) {
	h.fin = pos
	h.high = min(h.high, pos)
	var beyond *heldNode
	h.held.root, beyond = split(h.held.root, pos)
	beyond.each(func(n *heldNode) { h.heldCost -= int64(len(n.seg.data)) + segmentOverhead })
	if last := h.held.root.last(); last != nil && last.seg.end() > pos {
		h.heldCost -= last.seg.end() - pos
		last.seg.data = last.seg.data[:pos-last.seg.start]
	}
}

// deliver appends in-order bytes at next.
func (h *halfStream) deliver(at time.Time, data []byte) {
	if len(data) == 0 {
		return
	}
	off := len(h.out.Data)
	if n := len(h.out.Marks); n == 0 || !h.out.Marks[n-1].Time.Equal(at) {
		h.out.Marks = append(h.out.Marks, StreamMark{Offset: off, Time: at})
	}
	h.out.Data = append(h.out.Data, data...)
	h.next += int64(len(data))
}

// drain delivers held data that the bytes just delivered made contiguous.
// Held data before next is dropped: the copy delivered first wins.
func (h *halfStream) drain() {
	for {
		first := h.held.root.first()
		if first == nil || first.seg.start > h.next {
			return
		}
		s := h.held.popFirst()
		h.heldCost -= int64(len(s.data)) + segmentOverhead
		if s.end() > h.next {
			h.deliver(s.at, s.data[h.next-s.start:])
		}
	}
}

// hold keeps the parts of an out-of-order segment that no held segment has
// yet: the first copy of a byte wins, here as on delivery. The walk visits
// only held segments within the new one, each at least a byte long, so its
// cost is bounded by the new segment's length.
func (h *halfStream) hold(start int64, data []byte, at time.Time) {
	end := start + int64(len(data))
	var add []heldSegment
	p := start
	h.held.root.within(start, end, func(n *heldNode) {
		if n.seg.start > p {
			add = append(add, heldSegment{start: p, data: data[p-start : n.seg.start-start], at: at})
		}
		p = max(p, n.seg.end())
	})
	if p < end {
		add = append(add, heldSegment{start: p, data: data[p-start:], at: at})
	}
	for _, s := range add {
		h.held.insert(s)
		h.heldCost += int64(len(s.data)) + segmentOverhead
	}
}

// enforce gives up holes while the held data is over the limits.
func (h *halfStream) enforce(lim reassemblyLimits) {
	for h.heldCost > lim.buffered || h.high-h.next > lim.span {
		first := h.held.root.first()
		if first == nil {
			h.skipTo(h.high)
			return
		}
		h.skipTo(first.seg.start)
		h.drain()
	}
}

// skipTo records the sequence space from next to pos as a gap.
func (h *halfStream) skipTo(pos int64) {
	if pos <= h.next {
		return
	}
	n := pos - h.next
	off := len(h.out.Data)
	if g := len(h.out.Gaps); g > 0 && h.out.Gaps[g-1].Offset == off {
		h.out.Gaps[g-1].Length += n
	} else {
		h.out.Gaps = append(h.out.Gaps, StreamGap{Offset: off, Length: n})
	}
	h.next = pos
}

// finish gives up every hole still open at the end of the capture, so what
// was captured after it is delivered, and returns the streams.
func (h *halfStream) finish() StreamData {
	for first := h.held.root.first(); first != nil; first = h.held.root.first() {
		h.skipTo(first.seg.start)
		h.drain()
	}
	// Sequence space that segments (or the FIN) reached but whose bytes
	// were not captured, such as the tail of a packet cut by the snaplen.
	h.skipTo(h.high)
	h.out.Opened = h.synISN
	return h.out
}

func (a *assembler) finish() []TCPStream {
	out := make([]TCPStream, len(a.all))
	for i, c := range a.all {
		out[i] = TCPStream{
			Client:   c.client,
			Server:   c.server,
			ToServer: c.dir[0].finish(),
			ToClient: c.dir[1].finish(),
		}
	}
	return out
}

// heldSet is a direction's held segments, sorted by start and not
// overlapping, in a treap: a capture may deliver them in any order (a
// hostile one in the worst), and a sorted slice would move every later
// segment on each insert, quadratic in the segments held.
type heldSet struct {
	root *heldNode
	rng  uint64 // xorshift state for the priorities
}

type heldNode struct {
	seg         heldSegment
	prio        uint64 // max-heap order; random, so the depth is O(log n) whatever the input
	left, right *heldNode
}

func (t *heldSet) insert(s heldSegment) {
	if t.rng == 0 {
		t.rng = 0x9e3779b97f4a7c15
	}
	t.rng ^= t.rng << 13
	t.rng ^= t.rng >> 7
	t.rng ^= t.rng << 17
	l, r := split(t.root, s.start)
	t.root = merge(merge(l, &heldNode{seg: s, prio: t.rng}), r)
}

// popFirst removes and returns the segment that starts first. The first
// node's right subtree takes its place, which keeps the heap order because
// its priorities are below the removed node's and so below its parent's.
func (t *heldSet) popFirst() heldSegment {
	link := &t.root
	for (*link).left != nil {
		link = &(*link).left
	}
	n := *link
	*link = n.right
	return n.seg
}

// split divides t into the segments starting before key and the rest.
func split(t *heldNode, key int64) (l, r *heldNode) {
	if t == nil {
		return nil, nil
	}
	if t.seg.start < key {
		t.right, r = split(t.right, key)
		return t, r
	}
	l, t.left = split(t.left, key)
	return l, t
}

// merge joins l and r, all of whose segments start after all of l's.
func merge(l, r *heldNode) *heldNode {
	if l == nil {
		return r
	}
	if r == nil {
		return l
	}
	if l.prio > r.prio {
		l.right = merge(l.right, r)
		return l
	}
	r.left = merge(l, r.left)
	return r
}

func (n *heldNode) first() *heldNode {
	for n != nil && n.left != nil {
		n = n.left
	}
	return n
}

func (n *heldNode) last() *heldNode {
	for n != nil && n.right != nil {
		n = n.right
	}
	return n
}

// within calls fn, in order, for the segments that overlap [lo, hi). Held
// segments do not overlap, so ends are sorted like starts, and subtrees
// wholly outside the range are skipped.
func (n *heldNode) within(lo, hi int64, fn func(*heldNode)) {
	if n == nil {
		return
	}
	if n.seg.end() > lo {
		n.left.within(lo, hi, fn)
	}
	if n.seg.end() > lo && n.seg.start < hi {
		fn(n)
	}
	if n.seg.start < hi {
		n.right.within(lo, hi, fn)
	}
}

// each calls fn for every segment.
func (n *heldNode) each(fn func(*heldNode)) {
	if n != nil {
		n.left.each(fn)
		fn(n)
		n.right.each(fn)
	}
}
