package peer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/inspect"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

var magic = protocol.Regtest.Magic()

const testID p2p.PeerID = 42

// reporter collects a Conn's reports.
type reporter struct {
	mu      sync.Mutex
	written []p2p.WriteReport
	closed  []error
	signal  chan struct{}
}

func newReporter() *reporter { return &reporter{signal: make(chan struct{}, 1)} }

func (r *reporter) Written(id p2p.PeerID, w p2p.WriteReport) {
	if id != testID {
		panic("wrong peer id")
	}
	r.mu.Lock()
	r.written = append(r.written, w)
	r.mu.Unlock()
	r.poke()
}

func (r *reporter) Closed(id p2p.PeerID, err error) {
	if id != testID {
		panic("wrong peer id")
	}
	r.mu.Lock()
	r.closed = append(r.closed, err)
	r.mu.Unlock()
	r.poke()
}

func (r *reporter) poke() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *reporter) snapshot() ([]p2p.WriteReport, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]p2p.WriteReport(nil), r.written...), append([]error(nil), r.closed...)
}

// waitFor polls cond until it holds, waking on reports.
func (r *reporter) waitFor(t *testing.T, what string, cond func(w []p2p.WriteReport, closed []error) bool) {
	t.Helper()
	deadline := time.After(guard)
	for {
		if w, c := r.snapshot(); cond(w, c) {
			return
		}
		select {
		case <-r.signal:
		case <-time.After(time.Millisecond):
		case <-deadline:
			w, c := r.snapshot()
			t.Fatalf("timed out waiting for %s: %d write reports, closed %v", what, len(w), c)
		}
	}
}

// closeErr waits for the Closed report.
func (r *reporter) closeErr(t *testing.T) error {
	t.Helper()
	r.waitFor(t, "Closed", func(_ []p2p.WriteReport, c []error) bool { return len(c) > 0 })
	_, c := r.snapshot()
	return c[0]
}

// recorder is a message log.
type recorder struct {
	mu       sync.Mutex
	records  []Record
	payloads [][]byte
}

func (l *recorder) Record(r Record, payload []byte) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r)
	l.payloads = append(l.payloads, payload)
	return uint64(len(l.records))
}

func (l *recorder) find(inbound bool, command string) (Record, []byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range l.records {
		if r.Inbound == inbound && r.Command == command {
			return r, l.payloads[i], true
		}
	}
	return Record{}, nil, false
}

// clock is a fake clock that ticks a millisecond per reading.
type clock struct{ n atomic.Int64 }

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *clock) Now() time.Time { return epoch.Add(time.Duration(c.n.Add(1)) * time.Millisecond) }

// harness is a Conn on a socket whose other end the test plays.
type harness struct {
	c      *Conn
	remote net.Conn
	pool   *Pool
	in     *InQueue
	out    *OutQueue
	rep    *reporter
	log    *recorder
	notify chan struct{}
}

type option func(*harness, *Config)

// withQueued pushes frames before the Conn starts, so its writer finds
// them all at once.
func withQueued(o ...Outbound) option {
	return func(h *harness, _ *Config) {
		for _, m := range o {
			h.out.Push(m)
		}
	}
}

func withCapture(c *Capture) option { return func(_ *harness, cfg *Config) { cfg.Capture = c } }

// start runs a Conn on local; remote is the test's end.
func start(t *testing.T, local, remote net.Conn, opts ...option) *harness {
	t.Helper()
	h := &harness{remote: remote, pool: NewPool(), out: NewOutQueue(), rep: newReporter(), log: &recorder{}, notify: make(chan struct{}, 1)}
	h.in = h.pool.NewQueue(func() {
		select {
		case h.notify <- struct{}{}:
		default:
		}
	})
	var clk clock
	cfg := Config{ID: testID, Addr: "peer:8333", Magic: magic, In: h.in, Out: h.out, Reports: h.rep, Log: h.log, Now: clk.Now}
	for _, o := range opts {
		o(h, &cfg)
	}
	h.c = Start(local, cfg)
	t.Cleanup(func() {
		remote.Close()
		h.c.Close()
		waitConn(t, h.c)
	})
	return h
}

func startPipe(t *testing.T, opts ...option) *harness {
	t.Helper()
	local, remote := net.Pipe()
	return start(t, local, remote, opts...)
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (local *net.TCPConn, remote net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r == nil {
		t.Fatal("accept failed")
	}
	return c.(*net.TCPConn), r
}

// waitConn checks that both goroutines exit.
func waitConn(t *testing.T, c *Conn) {
	t.Helper()
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(guard):
		t.Fatal("connection goroutines did not exit")
	}
}

// send writes b from the remote side without blocking the test; errors are
// expected once the Conn stops reading.
func (h *harness) send(b []byte) {
	go h.remote.Write(b)
}

// pop waits for n messages.
func (h *harness) pop(t *testing.T, n int) []*p2p.Message {
	t.Helper()
	var got []*p2p.Message
	deadline := time.After(guard)
	for len(got) < n {
		if m, ok := h.in.Pop(); ok {
			got = append(got, m)
			continue
		}
		select {
		case <-h.notify:
		case <-deadline:
			t.Fatalf("only %d of %d messages arrived", len(got), n)
		}
	}
	return got
}

// readFrame reads one frame on the remote side.
func (h *harness) readFrame(t *testing.T) protocol.Frame {
	t.Helper()
	h.remote.SetReadDeadline(time.Now().Add(guard))
	f, err := protocol.ReadFrame(h.remote, magic)
	if err != nil {
		t.Fatalf("remote read: %v", err)
	}
	return f
}

func frameOf(t *testing.T, msg wire.Message) []byte {
	t.Helper()
	b, err := protocol.EncodeFrame(magic, msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// outbound frames msg as the core would.
func outbound(t *testing.T, msg wire.Message, control bool, request uint64) Outbound {
	t.Helper()
	return Outbound{Frame: &p2p.Frame{Bytes: frameOf(t, msg), Command: msg.Command(), Control: control, Summary: protocol.Summary(msg)}, Request: request}
}

func filler(n int) *protocol.MsgUnknown {
	return &protocol.MsgUnknown{Cmd: "filler", Payload: bytes.Repeat([]byte{0xab}, n)}
}

// countingConn counts the calls that reach the socket.
type countingConn struct {
	net.Conn
	reads, writes, deadlines atomic.Int64
	failWrites               error
}

func (c *countingConn) Read(b []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(b)
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	if c.failWrites != nil {
		return 0, c.failWrites
	}
	return c.Conn.Write(b)
}

func (c *countingConn) SetDeadline(t time.Time) error {
	c.deadlines.Add(1)
	return c.Conn.SetDeadline(t)
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.deadlines.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

func TestConnReceives(t *testing.T) {
	h := startPipe(t)
	version := wire.NewMsgVersion(wire.NewNetAddressIPPort(nil, 0, 0), wire.NewNetAddressIPPort(nil, 0, 0), 1, 100)
	sent := []wire.Message{wire.NewMsgPing(7), &protocol.MsgUnknown{Cmd: "madeup", Payload: []byte{1, 2}}, version}
	var stream []byte
	for _, m := range sent {
		stream = append(stream, frameOf(t, m)...)
	}
	h.send(stream)
	got := h.pop(t, len(sent))

	ping, ok := got[0].Msg.(*wire.MsgPing)
	if !ok || ping.Nonce != 7 || got[0].Command != wire.CmdPing || got[0].WireSize != 32 || !got[0].Received.After(epoch) {
		t.Errorf("first message %+v", got[0])
	}
	if u, ok := got[1].Msg.(*protocol.MsgUnknown); !ok || u.Cmd != "madeup" || got[1].WireSize != 26 {
		t.Errorf("second message %+v", got[1])
	}
	if v, ok := got[2].Msg.(*wire.MsgVersion); !ok || v.LastBlock != 100 {
		t.Errorf("third message %+v", got[2])
	}
	for i, m := range got {
		// The cost is the one DecodeMessage gives: the queue's unit.
		want, err := p2p.DecodeMessage(m.Command, m.Payload, m.Received)
		if err != nil || m.Cost == 0 || m.Cost != want.Cost {
			t.Errorf("message %d (%s): Cost %d, want %d (%v)", i, m.Command, m.Cost, want.Cost, err)
		}
		rec, payload, ok := h.log.find(true, m.Command)
		if !ok {
			t.Errorf("%s not logged", m.Command)
			continue
		}
		if rec.Summary != protocol.Summary(sent[i]) || rec.Summary == "" || rec.Size != m.WireSize ||
			rec.Peer != testID || rec.Addr != "peer:8333" || !rec.Time.Equal(m.Received) || !bytes.Equal(payload, m.Payload) {
			t.Errorf("%s logged as %+v", m.Command, rec)
		}
		if len(m.Stamps) != 0 {
			t.Errorf("%s carries stamps %v with no request written", m.Command, m.Stamps)
		}
	}
	_, recv := h.c.Stats.Snapshot()
	if recv.Messages != 3 || recv.ByCommand[wire.CmdPing].Messages != 1 || recv.ByCommand[OtherCommand].Messages != 1 {
		t.Errorf("recv stats %+v", recv)
	}
	if _, closed := h.rep.snapshot(); len(closed) != 0 {
		t.Fatalf("Closed(%v) on a healthy connection", closed)
	}
}

// fingerprint hashes everything a headers message holds.
func fingerprint(m *p2p.Message) chainhash.Hash {
	var b []byte
	for i := range m.Headers {
		b = m.Headers[i].Serialize(b)
		b = append(b, m.Hashes[i][:]...)
	}
	return chainhash.DoubleHashH(b)
}

// TestConnHeadersHashedBeforeHandOver: a headers message is complete when
// the engine gets it, and nothing writes to it afterwards. The old reader
// handed the message over and went on hashing it; run under -race, reading
// the hashes at once is a race (and, without -race, finds them unset). The
// peer sends headers before anything else, as the old race needed.
func TestConnHeadersHashedBeforeHandOver(t *testing.T) {
	h := startPipe(t)
	wireMsgs := make([]*wire.MsgHeaders, 4)
	var stream []byte
	for round := range wireMsgs {
		msg := wire.NewMsgHeaders()
		for i := range 2000 {
			msg.AddBlockHeader(&wire.BlockHeader{Version: int32(round), Nonce: uint32(i), Bits: 0x207fffff})
		}
		wireMsgs[round] = msg
		stream = append(stream, frameOf(t, msg)...)
	}
	stream = append(stream, frameOf(t, wire.NewMsgPing(1))...)
	h.send(stream)

	prints := make([]chainhash.Hash, len(wireMsgs))
	var got []*p2p.Message
	for round, want := range wireMsgs {
		m := h.pop(t, 1)[0]
		got = append(got, m)
		if m.Command != wire.CmdHeaders || len(m.Headers) != 2000 || len(m.Hashes) != 2000 {
			t.Fatalf("round %d: %s with %d headers, %d hashes", round, m.Command, len(m.Headers), len(m.Hashes))
		}
		for i, w := range want.Headers {
			if m.Hashes[i] != w.BlockHash() {
				t.Fatalf("round %d: hash %d is %s, want %s", round, i, m.Hashes[i], w.BlockHash())
			}
		}
		prints[round] = fingerprint(m)
		if round == 0 {
			rec, _, ok := h.log.find(true, wire.CmdHeaders)
			first, last := want.Headers[0].BlockHash(), want.Headers[1999].BlockHash()
			if !ok || rec.Summary != protocol.HeadersSummary(2000, protocol.ShortHash(first), protocol.ShortHash(last)) {
				t.Errorf("headers logged as %+v", rec)
			}
		}
	}
	// The reader has moved on to the ping: the messages are unchanged.
	if m := h.pop(t, 1)[0]; m.Command != wire.CmdPing {
		t.Fatalf("got %s, want ping", m.Command)
	}
	for round, m := range got {
		if fingerprint(m) != prints[round] {
			t.Errorf("round %d: message changed after hand-over", round)
		}
	}
}

// TestConnReadsBuffered: a flood of small messages costs a read syscall per
// buffer, not two per message.
func TestConnReadsBuffered(t *testing.T) {
	local, remote := net.Pipe()
	cc := &countingConn{Conn: local}
	h := start(t, cc, remote)
	const n = 1000
	var stream []byte
	for i := range n {
		stream = append(stream, frameOf(t, wire.NewMsgPing(uint64(i)))...)
	}
	h.send(stream)
	got := h.pop(t, n)
	for i, m := range got {
		if p, ok := m.Msg.(*wire.MsgPing); !ok || p.Nonce != uint64(i) {
			t.Fatalf("message %d is %s", i, m.Command)
		}
	}
	if reads := cc.reads.Load(); reads > 20 {
		t.Errorf("%d read calls for %d messages (%d bytes)", reads, n, len(stream))
	}
}

// TestConnWritesBatched: queued messages go out in batches through
// net.Buffers, which on a TCP socket is one writev, not a write per message.
func TestConnWritesBatched(t *testing.T) {
	local, remote := tcpPair(t)
	cc := &tcpCounter{TCPConn: local}
	const n = 1000
	var queued []Outbound
	for i := range n {
		queued = append(queued, outbound(t, wire.NewMsgPong(uint64(i)), true, 0))
	}
	h := start(t, cc, remote, withQueued(queued...))
	for i := range n {
		f := h.readFrame(t)
		if m, err := protocol.Decode(f.Command, f.Payload); err != nil || m.(*wire.MsgPong).Nonce != uint64(i) {
			t.Fatalf("frame %d: %s %v", i, f.Command, err)
		}
	}
	h.rep.waitFor(t, "every message reported", func(w []p2p.WriteReport, _ []error) bool {
		done := 0
		for _, r := range w {
			done += r.Messages
		}
		return done == n
	})
	reports, _ := h.rep.snapshot()
	bytesOut := 0
	for _, r := range reports {
		bytesOut += r.Bytes
	}
	if len(reports) > 10 || bytesOut != n*32 {
		t.Errorf("%d write reports for %d messages, %d bytes", len(reports), n, bytesOut)
	}
	if w := cc.writes.Load(); w > 10 {
		t.Errorf("%d Write calls for %d queued messages", w, n)
	}
	sent, _ := h.c.Stats.Snapshot()
	if sent.Messages != n || sent.Bytes != n*32 || sent.ByCommand[wire.CmdPong].Messages != n {
		t.Errorf("sent stats %+v", sent)
	}
}

// tcpCounter is a *net.TCPConn whose Write calls are counted. Embedding
// keeps the TCPConn's writev path, which net.Buffers finds through it: a
// writer that writes message by message, or that loses the writev path,
// shows up as Write calls.
type tcpCounter struct {
	*net.TCPConn
	writes atomic.Int64
}

func (c *tcpCounter) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.TCPConn.Write(b)
}

func TestConnLargeFrameChunked(t *testing.T) {
	local, remote := net.Pipe()
	cc := &countingConn{Conn: local}
	big := outbound(t, filler(3*writeBatch+17), false, 9)
	h := start(t, cc, remote, withQueued(big))
	f := h.readFrame(t)
	if f.Command != "filler" || f.WireSize() != len(big.Frame.Bytes) {
		t.Fatalf("big frame: %q, %d bytes", f.Command, f.WireSize())
	}
	h.rep.waitFor(t, "the last chunk's report", func(w []p2p.WriteReport, _ []error) bool { return len(w) == 4 })
	reports, _ := h.rep.snapshot()
	for i, r := range reports {
		wantBytes, wantMsgs := writeBatch, 0
		if i == 3 {
			wantBytes, wantMsgs = len(big.Frame.Bytes)-3*writeBatch, 1
		}
		if r.Bytes != wantBytes || r.Messages != wantMsgs {
			t.Errorf("report %d: %+v, want %d bytes, %d messages", i, r, wantBytes, wantMsgs)
		}
		if (i == 0) != (len(r.Requests) == 1 && r.Requests[0].ID == 9) || (i > 0 && len(r.Requests) > 0) {
			t.Errorf("report %d carries stamps %v", i, r.Requests)
		}
	}
	if w := cc.writes.Load(); w != 4 {
		t.Errorf("%d write calls, want 4 chunks", w)
	}
	// No deadlines: the core judges stalls from the reports.
	if d := cc.deadlines.Load(); d != 0 {
		t.Errorf("the writer set %d deadlines", d)
	}
	sent, _ := h.c.Stats.Snapshot()
	if sent.Messages != 1 || sent.Bytes != uint64(len(big.Frame.Bytes)) {
		t.Errorf("sent stats %+v", sent)
	}
}

func TestConnControlBeforeBulk(t *testing.T) {
	h := startPipe(t, withQueued(
		outbound(t, filler(10), false, 0),
		outbound(t, wire.NewMsgPing(1), true, 0),
		outbound(t, wire.NewMsgGetAddr(), false, 0),
		outbound(t, wire.NewMsgPong(2), true, 0),
	))
	var got []string
	for range 4 {
		got = append(got, h.readFrame(t).Command)
	}
	if want := []string{wire.CmdPing, wire.CmdPong, "filler", wire.CmdGetAddr}; !equal(got, want) {
		t.Errorf("written in order %v, want %v", got, want)
	}
}

// TestConnRequestStamps: a request is stamped when its write starts, and
// the reply that follows carries the stamp, as does the write report.
func TestConnRequestStamps(t *testing.T) {
	h := startPipe(t)
	ping := outbound(t, wire.NewMsgPing(77), true, 7)
	h.out.Push(ping)
	f := h.readFrame(t)
	if f.Command != wire.CmdPing {
		t.Fatalf("remote got %s", f.Command)
	}
	h.send(append(frameOf(t, wire.NewMsgPong(77)), frameOf(t, wire.NewMsgPong(78))...))
	got := h.pop(t, 2)
	if len(got[0].Stamps) != 1 || got[0].Stamps[0].ID != 7 {
		t.Fatalf("reply stamps %v, want request 7's", got[0].Stamps)
	}
	stamp := got[0].Stamps[0]
	if !stamp.At.Before(got[0].Received) {
		t.Errorf("stamped at %v, reply received at %v", stamp.At, got[0].Received)
	}
	if len(got[1].Stamps) != 0 {
		t.Errorf("second message carries stamps %v again", got[1].Stamps)
	}
	h.rep.waitFor(t, "the write report", func(w []p2p.WriteReport, _ []error) bool { return len(w) == 1 })
	reports, _ := h.rep.snapshot()
	if r := reports[0]; r.Messages != 1 || r.Bytes != 32 || len(r.Requests) != 1 || r.Requests[0] != stamp {
		t.Errorf("write report %+v, want the stamp %v", r, stamp)
	}
	rec, payload, ok := h.log.find(false, wire.CmdPing)
	if !ok || rec.Summary != ping.Frame.Summary || rec.Size != 32 || !rec.Time.Equal(stamp.At) || !bytes.Equal(payload, ping.Frame.Payload()) || rec.Peer != testID {
		t.Errorf("sent ping logged as %+v", rec)
	}
}

func TestConnProtocolErrors(t *testing.T) {
	ping := func(t *testing.T) []byte { return frameOf(t, wire.NewMsgPing(1)) }
	for _, tc := range []struct {
		name  string
		bytes func(t *testing.T) []byte
		want  error
		hangs bool // the remote closes: the writer has nobody to write to
	}{
		{"wrong magic", func(t *testing.T) []byte {
			b, _ := protocol.EncodeFrame(protocol.Mainnet.Magic(), wire.NewMsgPing(1))
			return b
		}, protocol.ErrWrongMagic, false},
		{"oversize", func(t *testing.T) []byte {
			b := ping(t)[:protocol.HeaderSize]
			binary.LittleEndian.PutUint32(b[16:20], protocol.MaxPayload+1)
			return b
		}, protocol.ErrPayloadTooLarge, false},
		{"bad checksum", func(t *testing.T) []byte {
			b := ping(t)
			b[20] ^= 0xff
			return b
		}, protocol.ErrChecksumMismatch, false},
		{"bad command", func(t *testing.T) []byte {
			b := ping(t)
			b[4] = 0x01
			return b
		}, protocol.ErrBadCommand, false},
		{"malformed payload", func(t *testing.T) []byte {
			b, _ := protocol.AppendFrame(nil, magic, wire.CmdPing, []byte{1, 2, 3})
			return b
		}, protocol.ErrMalformed, false},
		{"malformed headers", func(t *testing.T) []byte {
			b, _ := protocol.AppendFrame(nil, magic, wire.CmdHeaders, []byte{2, 0})
			return b
		}, protocol.ErrMalformed, false},
		{"remote close", nil, io.EOF, true},
		{"cut mid-frame", func(t *testing.T) []byte { return ping(t)[:30] }, io.ErrUnexpectedEOF, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startPipe(t)
			if tc.bytes != nil {
				b := tc.bytes(t)
				if tc.hangs {
					h.remote.Write(b) // the reader consumes it all, then sees the close
				} else {
					// A good message first: the error comes mid-stream.
					h.send(append(ping(t), b...))
				}
			}
			if tc.hangs {
				h.remote.Close()
			}
			err := h.rep.closeErr(t)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Closed(%v), want an error matching %v", err, tc.want)
			}
			if !tc.hangs {
				if m := h.pop(t, 1)[0]; m.Command != wire.CmdPing {
					t.Errorf("message before the error: %s", m.Command)
				}
				// The socket and the out queue still work: the engine's
				// next send is not what fails.
				if !h.out.Push(outbound(t, wire.NewMsgPong(5), true, 0)) {
					t.Fatal("out queue closed by a read error")
				}
				if f := h.readFrame(t); f.Command != wire.CmdPong {
					t.Errorf("remote got %s after the error", f.Command)
				}
			}
			h.c.Close()
			waitConn(t, h.c)
			if h.out.Push(outbound(t, wire.NewMsgPong(6), true, 0)) {
				t.Error("out queue open after Close")
			}
			if _, closed := h.rep.snapshot(); len(closed) != 1 {
				t.Errorf("Closed called %d times: %v", len(closed), closed)
			}
		})
	}
}

func TestConnCloseSuppressesReports(t *testing.T) {
	h := startPipe(t)
	// The writer is blocked mid-write on a remote that does not read, and
	// the reader is blocked reading: Close must free both.
	h.out.Push(outbound(t, filler(1000), false, 0))
	time.Sleep(settle)
	h.c.Close()
	h.c.Close() // idempotent
	waitConn(t, h.c)
	if written, closed := h.rep.snapshot(); len(closed) != 0 || len(written) != 0 {
		t.Fatalf("reports after Close: written %v, closed %v", written, closed)
	}
	h.remote.SetReadDeadline(time.Now().Add(guard))
	if _, err := h.remote.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("remote read after Close: %v, want EOF", err)
	}
	if h.in.Push(msg("x", 1)) || h.out.Push(control("x", 1)) {
		t.Error("queues still open after Close")
	}
}

// TestConnWriteErrorReportedOnce: the writer reports its error and closes
// the socket; the reader's consequent error is not reported.
func TestConnWriteErrorReportedOnce(t *testing.T) {
	local, remote := net.Pipe()
	boom := errors.New("boom")
	cc := &countingConn{Conn: local, failWrites: boom}
	h := start(t, cc, remote)
	h.out.Push(outbound(t, wire.NewMsgPing(1), true, 0))
	// Both goroutines end on their own: the writer on its error, the
	// reader on the socket the writer closed.
	waitConn(t, h.c)
	written, closed := h.rep.snapshot()
	if len(closed) != 1 || !errors.Is(closed[0], boom) {
		t.Fatalf("Closed reports %v, want one wrapping %v", closed, boom)
	}
	if len(written) != 0 {
		t.Errorf("write reports %v for a failed write", written)
	}
	if cc.reads.Load() == 0 {
		t.Error("the reader never read")
	}
}

// TestConnCloseReleasesBlockedReader: a peer that floods fills its queue's
// floor and its reader stops (TCP pushes back); Close frees it.
func TestConnCloseReleasesBlockedReader(t *testing.T) {
	h := startPipe(t)
	var stream []byte
	for i := range 5000 {
		stream = append(stream, frameOf(t, wire.NewMsgPing(uint64(i)))...)
	}
	h.send(stream)
	deadline := time.Now().Add(guard)
	for {
		// Wait until the reader is stuck: the queue stops growing.
		before := h.in.Len()
		time.Sleep(settle)
		if n := h.in.Len(); n > 0 && n == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("queue never settled")
		}
	}
	if n, cost := h.in.Len(), h.in.Cost(); n >= 5000 || cost > p2p.InQueueFloor {
		t.Fatalf("queue holds %d messages, cost %d: not bounded by the floor %d", n, cost, p2p.InQueueFloor)
	}
	h.c.Close()
	waitConn(t, h.c)
}

func TestConnCapture(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conn")
	capture, err := OpenCapture(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := startPipe(t, withCapture(capture))
	h.out.Push(outbound(t, wire.NewMsgPing(3), true, 1))
	h.readFrame(t)
	h.send(frameOf(t, wire.NewMsgPong(3)))
	h.pop(t, 1)
	h.c.Close()
	waitConn(t, h.c)
	read := func(name string) []inspect.CaptureRecord {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := inspect.ReadCoreCapture(data)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	sent, recv := read("msgs_sent.dat"), read("msgs_recv.dat")
	if len(sent) != 1 || sent[0].Command != wire.CmdPing || len(recv) != 1 || recv[0].Command != wire.CmdPong {
		t.Fatalf("captured sent %v, recv %v", sent, recv)
	}
	// Sent is captured when the write starts: the request never follows
	// its reply.
	if recv[0].Time.Before(sent[0].Time) {
		t.Errorf("pong captured at %v, before its ping at %v", recv[0].Time, sent[0].Time)
	}
}

func TestConnAddrs(t *testing.T) {
	h := startPipe(t)
	if h.c.RemoteAddr() == nil || h.c.LocalAddr() == nil {
		t.Error("nil address")
	}
}

// A payload is counted before it is read: a peer that declares a message
// larger than its floor and sends it slowly holds pool charge, never
// uncounted memory, while the reader waits for the bytes.
func TestPayloadReservedBeforeItIsRead(t *testing.T) {
	h := startPipe(t)
	payload := make([]byte, p2p.InQueueFloor+100_000)
	frame, err := protocol.AppendFrame(nil, magic, "bigjunk", payload)
	if err != nil {
		t.Fatal(err)
	}
	h.send(frame[:protocol.HeaderSize+1000]) // the header and a little
	deadline := time.Now().Add(guard)
	for h.in.pool.Used() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the declared payload was not reserved while it was read")
		}
		time.Sleep(time.Millisecond)
	}
	if used, want := h.in.pool.Used(), p2p.PayloadCost(len(payload))-p2p.InQueueFloor; used != want {
		t.Errorf("pool charge %d while reading, want %d", used, want)
	}
	h.send(frame[protocol.HeaderSize+1000:])
	m := h.pop(t, 1)[0]
	if m.Command != "bigjunk" || h.in.pool.Used() != 0 {
		t.Errorf("after the message was taken: %s, pool charge %d", m.Command, h.in.pool.Used())
	}
}
