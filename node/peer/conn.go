package peer

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

const (
	// readBuffer is the reader's buffer: a flood of small messages costs
	// one read syscall per buffer, not two per message. Larger payloads are
	// read straight into their own buffers.
	readBuffer = 32 << 10
	// writeBatch is the most the writer hands the socket in one call: a
	// batch of whole frames up to this size, or one chunk of a larger
	// frame. The core's send-stall rule counts progress in the same unit.
	writeBatch = 64 << 10
)

// Reporter hears from a connection's goroutines. Calls come from the reader
// or writer goroutine and must not block for long: the engine posts them to
// its event loop.
type Reporter interface {
	// Written is called after every write call: the bytes that reached the
	// socket, the messages completed, and the requests started (their
	// stamps, in the first report of a batch).
	Written(id p2p.PeerID, r p2p.WriteReport)
	// Closed is called with the first read or write error, once, and never
	// for an error that comes after Close.
	Closed(id p2p.PeerID, err error)
}

// Recorder is the node's message log: one record per message, received (at
// receipt, by the reader) or sent (when its write starts, by the writer).
// It returns the record's sequence number. It is called from both
// goroutines of every connection, so it must be safe for concurrent use;
// payload is shared and must not be modified.
type Recorder interface {
	Record(r Record, payload []byte) uint64
}

// Record is one message in the message log.
type Record struct {
	Time    time.Time
	Peer    p2p.PeerID
	Addr    string
	Inbound bool // received (true) or sent
	Command string
	Size    int // bytes on the wire, header included
	// Summary is one line, made by the goroutine that logs the message (for
	// a sent one, the Frame's Summary when the core made it).
	Summary string
	// Request marks a sent message the core tracks as a request: it waits
	// for an answer, and a p2p.Link will name this record when it ends.
	Request bool
}

// Config sets up a Conn.
type Config struct {
	ID      p2p.PeerID
	Addr    string
	Magic   wire.BitcoinNet
	In      *InQueue
	Out     *OutQueue
	Reports Reporter
	Log     Recorder // nil: no message log
	// Capture, when not nil, records every message both ways; the Conn
	// closes it when its goroutines end.
	Capture *Capture
	Now     func() time.Time // nil: time.Now
	// Transport is how the connection frames messages: v1, BIP324 v2
	// initiated by us, or whichever an inbound peer speaks.
	Transport Transport
	// KeyLog, when not nil, is given each BIP324 connection's secret once
	// its keys are derived (-v2keylog). It is called on the reader
	// goroutine and must not block for long.
	KeyLog func(protocol.V2KeyLogEntry)
}

// Conn runs the reader and writer goroutines of one connection.
type Conn struct {
	nc    net.Conn
	cfg   Config
	Stats Stats

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu       sync.Mutex
	reported bool // an error was reported, or Close was called: report nothing more

	stampMu    sync.Mutex
	stamps     []p2p.RequestStamp // written requests not yet attached to a received message
	readerGone bool               // nobody takes stamps any more

	// ready is closed when the transport is settled and the writer may
	// write: at once for v1, once the keys are derived for BIP324. The
	// fields below are set before it closes and never change after.
	ready     chan struct{}
	v2send    *protocol.V2Sender // nil on v1
	transport string
	sessionID string

	sizes []int // the writer's scratch: the wire size of each frame of a batch
}

// Start takes ownership of nc and starts its goroutines.
func Start(nc net.Conn, cfg Config) *Conn {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Conn{nc: nc, cfg: cfg, done: make(chan struct{}), ready: make(chan struct{})}
	c.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
	return c
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns our side's address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Close closes the socket and both queues: a blocked read, write or Push
// returns and the goroutines exit soon after (Wait). No Closed report is
// made for what follows, and no Written report for a write that ends after
// it (a report already under way may still arrive). It is idempotent.
func (c *Conn) Close() {
	c.mu.Lock()
	c.reported = true
	c.mu.Unlock()
	c.closeOnce.Do(func() {
		close(c.done)
		c.nc.Close()
		c.cfg.In.Close()
		c.cfg.Out.Close()
	})
}

// Transport returns "v1" or "v2" once the transport is settled, "" while a
// BIP324 handshake is under way (or an inbound peer has not yet sent the
// bytes that tell).
func (c *Conn) Transport() string {
	select {
	case <-c.ready:
		return c.transport
	default:
		return ""
	}
}

// SessionID returns a BIP324 connection's session id in hex, "" for v1 or
// before the keys are derived.
func (c *Conn) SessionID() string {
	select {
	case <-c.ready:
		return c.sessionID
	default:
		return ""
	}
}

// startWriting settles the transport and lets the writer go.
func (c *Conn) startWriting(transport string, send *protocol.V2Sender, sessionID string) {
	c.transport, c.v2send, c.sessionID = transport, send, sessionID
	close(c.ready)
}

// Wait blocks until both goroutines have exited.
func (c *Conn) Wait() { c.wg.Wait() }

// fail reports err unless an error was reported before or Close was
// called.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	report := !c.reported
	c.reported = true
	c.mu.Unlock()
	if report && c.cfg.Reports != nil {
		c.cfg.Reports.Closed(c.cfg.ID, err)
	}
}

// closing reports whether Close has been called.
func (c *Conn) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// readLoop frames, decodes and hashes each message completely, logs it and
// hands it to the inbound queue; nothing writes to a message after that. A
// read or decode error is reported and ends the loop, and nothing else:
// the socket and the queues stay open (the writer goes on) until the engine
// closes the connection, so a protocol violation is what the engine hears,
// not the effects of a close it caused.
func (c *Conn) readLoop() {
	defer c.wg.Done()
	defer c.readerExit()
	br := bufio.NewReaderSize(c.nc, readBuffer)
	v2, err := c.settleTransport(br)
	if err != nil {
		c.fail(err)
		return
	}
	for {
		// Every byte is accounted for before it is kept: the payload's
		// size is reserved in the inbound bound before the payload is read
		// (so a peer that declares a big message and sends it slowly holds
		// counted memory only), and the reservation grows to the
		// message's decoded cost before anything is decoded.
		var f protocol.Frame
		var size int
		if v2 != nil {
			f, size, err = c.readV2(br, v2)
		} else {
			f, err = c.readV1(br)
			size = f.WireSize()
		}
		if errors.Is(err, errClosed) {
			return
		}
		if err != nil {
			c.fail(err)
			return
		}
		now := c.cfg.Now()
		c.Stats.AddRecv(CounterKey(f.Command), size, now)
		if c.cfg.Capture != nil {
			c.cfg.Capture.recv.add(now, f.Command, f.Payload)
		}
		cost, err := p2p.MessageCost(f.Command, f.Payload)
		if err != nil {
			c.fail(err)
			return
		}
		if !c.cfg.In.Resize(cost) {
			return // closed
		}
		var m *p2p.Message
		decode := func() { m, err = p2p.DecodeMessageCosting(f.Command, f.Payload, now, cost, hashInParallel) }
		if f.Command == wire.CmdTx || f.Command == wire.CmdBlock {
			c.cfg.In.pool.decode(decode)
		} else {
			decode()
		}
		if err != nil {
			c.fail(err)
			return
		}
		if c.cfg.Log != nil {
			// The core links a response to its request by this number.
			m.LogSeq = c.cfg.Log.Record(Record{
				Time: now, Peer: c.cfg.ID, Addr: c.cfg.Addr, Inbound: true,
				Command: f.Command, Size: size, Summary: summary(m),
			}, f.Payload)
		}
		m.Stamps = c.takeStamps()
		if !c.cfg.In.Commit(m) {
			return // closed
		}
	}
}

// settleTransport runs the BIP324 handshake when the connection speaks v2
// (returning its packet reader), or settles on v1 (nil).
func (c *Conn) settleTransport(br *bufio.Reader) (*v2Reader, error) {
	switch c.cfg.Transport {
	case TransportV2:
		return c.handshakeV2(br, true)
	case TransportDetect:
		v1, err := speaksV1(br, c.cfg.Magic)
		if err != nil {
			return nil, err
		}
		if !v1 {
			return c.handshakeV2(br, false)
		}
	}
	c.startWriting(TransportNameV1, nil, "")
	return nil, nil
}

// readV1 reads a v1 frame: its header, then (once its size is reserved)
// its payload, checked against the header's checksum.
func (c *Conn) readV1(br *bufio.Reader) (protocol.Frame, error) {
	h, err := protocol.ReadFrameHeader(br, c.cfg.Magic)
	if err != nil {
		return protocol.Frame{}, err
	}
	if !c.cfg.In.Reserve(p2p.PayloadCost(h.Length)) {
		return protocol.Frame{}, errClosed
	}
	return protocol.ReadFramePayload(br, h, h.Length)
}

func (c *Conn) readerExit() {
	c.stampMu.Lock()
	c.readerGone, c.stamps = true, nil
	c.stampMu.Unlock()
	if c.cfg.Capture != nil {
		c.cfg.Capture.recv.close()
	}
}

// summary is a received message's line in the message log.
func summary(m *p2p.Message) string {
	if n := len(m.Headers); n > 0 {
		return protocol.HeadersSummary(n, protocol.ShortHash(m.Hashes[0]), protocol.ShortHash(m.Hashes[n-1]))
	}
	return protocol.Summary(m.Msg)
}

// sentSummary is a sent message's line in the message log: the one the
// core made, or one made here from the frame's payload.
func sentSummary(f *p2p.Frame) string {
	if f.Summary != "" {
		return f.Summary
	}
	s, err := protocol.SummarizePayload(f.Command, f.Payload())
	if err != nil {
		return f.Command
	}
	return s
}

// takeStamps returns the requests the writer started since the last
// message was read. The reader takes them after a message's bytes have
// arrived, so a reply carries the stamp of its request, which the writer
// recorded before writing it.
func (c *Conn) takeStamps() []p2p.RequestStamp {
	c.stampMu.Lock()
	defer c.stampMu.Unlock()
	s := c.stamps
	c.stamps = nil
	return s
}

// addStamps records requests the writer is about to write, for the reader
// to attach to the next message.
func (c *Conn) addStamps(s []p2p.RequestStamp) {
	c.stampMu.Lock()
	if !c.readerGone {
		c.stamps = append(c.stamps, s...)
	}
	c.stampMu.Unlock()
}

// writeLoop writes the out queue in batches until Close or a write error.
// It sets no deadlines and judges no stalls: it reports its progress after
// every write call, and the core decides when a peer is too slow.
func (c *Conn) writeLoop() {
	defer c.wg.Done()
	if c.cfg.Capture != nil {
		defer c.cfg.Capture.sent.close()
	}
	select {
	case <-c.ready:
	case <-c.done:
		return
	}
	var batch []Outbound
	var bufs [][]byte
	for {
		batch = c.cfg.Out.PopBatch(batch[:0], writeBatch)
		if len(batch) == 0 {
			select {
			case <-c.cfg.Out.Ready():
				continue
			case <-c.done:
				return
			}
		}
		var err error
		bufs, err = c.writeBatch(batch, bufs)
		clear(batch) // let the frames go
		if err != nil {
			if !c.closing() {
				c.fail(fmt.Errorf("writing to socket: %w", err))
				c.nc.Close() // the reader stops; its error is not reported
			}
			return
		}
	}
}

// writeBatch starts the batch's messages (stamps, log, capture), writes it
// and reports progress. bufs is scratch space, returned for reuse.
func (c *Conn) writeBatch(batch []Outbound, bufs [][]byte) ([][]byte, error) {
	now := c.cfg.Now() // the whole batch starts in one write call
	bufs, err := c.wireBytes(batch, bufs[:0])
	if err != nil {
		return bufs, err
	}
	var stamps []p2p.RequestStamp
	for i, o := range batch {
		f := o.Frame
		var seq uint64
		if c.cfg.Log != nil {
			seq = c.cfg.Log.Record(Record{
				Time: now, Peer: c.cfg.ID, Addr: c.cfg.Addr, Inbound: false,
				Command: f.Command, Size: len(bufs[i]), Summary: sentSummary(f),
				Request: o.Request != 0,
			}, f.Payload())
		}
		if o.Request != 0 {
			// The stamp carries the request's log number: the core links
			// the answer (or the expiry) to it.
			stamps = append(stamps, p2p.RequestStamp{ID: o.Request, At: now, LogSeq: seq})
		}
		if c.cfg.Capture != nil {
			c.cfg.Capture.sent.add(now, f.Command, f.Payload())
		}
	}
	if stamps != nil {
		// Before the bytes go out: a reply cannot arrive before this.
		c.addStamps(stamps)
	}
	sizes := c.sizes[:0]
	for _, b := range bufs {
		sizes = append(sizes, len(b))
	}
	c.sizes = sizes

	if len(batch) == 1 && len(bufs[0]) > writeBatch {
		// One large frame, in chunks: a report per chunk.
		b := bufs[0]
		clear(bufs)
		for off := 0; off < len(b); {
			n, err := c.nc.Write(b[off:min(off+writeBatch, len(b))])
			off += n
			if err != nil {
				return bufs, err
			}
			done := 0
			if off == len(b) {
				done = 1
			}
			c.written(p2p.WriteReport{Bytes: n, Messages: done, Requests: stamps}, batch[:done], sizes)
			stamps = nil
		}
		return bufs, nil
	}

	nb := net.Buffers(bufs)
	n, err := nb.WriteTo(c.nc) // writev on a TCP socket
	clear(bufs)
	if err != nil {
		return bufs, err
	}
	c.written(p2p.WriteReport{Bytes: int(n), Messages: len(batch), Requests: stamps}, batch, sizes)
	return bufs, nil
}

// wireBytes appends to bufs the bytes each frame of the batch puts on the
// wire: its v1 framing as the core made it (shared by every peer it goes
// to), or a BIP324 packet encrypted for this connection. The packets are
// the writer's only memory of its own: at most one batch (writeBatch) or
// one large frame, alive for one write.
func (c *Conn) wireBytes(batch []Outbound, bufs [][]byte) ([][]byte, error) {
	if c.v2send == nil {
		for _, o := range batch {
			bufs = append(bufs, o.Frame.Bytes)
		}
		return bufs, nil
	}
	total := 0
	for _, o := range batch {
		total += v2PacketSize(o.Frame.Command, len(o.Frame.Payload()))
	}
	buf := make([]byte, 0, total)
	for _, o := range batch {
		start := len(buf)
		var err error
		buf, err = c.v2send.AppendPacket(buf, nil, false, protocol.V2MessageType(o.Frame.Command), o.Frame.Payload())
		if err != nil {
			return bufs, fmt.Errorf("encrypting %s: %w", o.Frame.Command, err)
		}
		bufs = append(bufs, buf[start:len(buf):len(buf)])
	}
	return bufs, nil
}

// written counts the completed messages and reports a write call, unless
// the connection is closing.
func (c *Conn) written(r p2p.WriteReport, completed []Outbound, sizes []int) {
	for _, o := range completed {
		r.Cost += o.Frame.Cost()
	}
	if len(completed) > 0 {
		c.Stats.addSentBatch(completed, sizes, c.cfg.Now())
	}
	if c.cfg.Reports != nil && !c.closing() {
		c.cfg.Reports.Written(c.cfg.ID, r)
	}
}
