package peer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

var magic = protocol.Regtest.Magic()

// pipeConn is a Conn on one end of net.Pipe; the test plays the remote peer
// on the other.
type pipeConn struct {
	c       *Conn
	remote  net.Conn
	in      *InQueue
	out     *OutQueue
	notify  chan struct{}
	closed  chan error
	written chan uint64
}

func startPipe(t *testing.T, writeTimeout time.Duration) *pipeConn {
	t.Helper()
	local, remote := net.Pipe()
	pc := &pipeConn{
		remote:  remote,
		notify:  make(chan struct{}, 1),
		closed:  make(chan error, 2),
		written: make(chan uint64, 16),
	}
	pc.in = NewInQueue(1<<20, func() {
		select {
		case pc.notify <- struct{}{}:
		default:
		}
	})
	pc.out = NewOutQueue(1 << 20)
	pc.c = Start(local, Config{
		Magic: magic, WriteTimeout: writeTimeout, In: pc.in, Out: pc.out,
		OnWritten: func(req uint64, _ time.Time) { pc.written <- req },
		OnClose:   func(err error) { pc.closed <- err },
	})
	t.Cleanup(func() {
		remote.Close()
		pc.c.Close()
		waitConn(t, pc.c)
	})
	return pc
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
// expected once the Conn gives up on the stream.
func (pc *pipeConn) send(b []byte) {
	go pc.remote.Write(b)
}

func (pc *pipeConn) closeErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-pc.closed:
		return err
	case <-time.After(guard):
		t.Fatal("OnClose not called")
		return nil
	}
}

func frameOf(t *testing.T, msg wire.Message) []byte {
	t.Helper()
	b, err := protocol.EncodeFrame(magic, msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConnReceives(t *testing.T) {
	pc := startPipe(t, time.Second)
	pc.send(append(frameOf(t, wire.NewMsgPing(7)), frameOf(t, &protocol.MsgUnknown{Cmd: "madeup", Payload: []byte{1, 2}})...))

	var got []Inbound
	for len(got) < 2 {
		select {
		case <-pc.notify:
		case <-time.After(guard):
			t.Fatalf("only %d messages arrived", len(got))
		}
		for {
			m, ok := pc.in.Pop()
			if !ok {
				break
			}
			got = append(got, m)
		}
	}
	ping, ok := got[0].Msg.(*wire.MsgPing)
	if !ok || ping.Nonce != 7 || got[0].Command != wire.CmdPing || got[0].Size != 32 || got[0].Received.IsZero() {
		t.Errorf("first message %+v", got[0])
	}
	if u, ok := got[1].Msg.(*protocol.MsgUnknown); !ok || u.Cmd != "madeup" || got[1].Size != 26 {
		t.Errorf("second message %+v", got[1])
	}
	_, recv := pc.c.Stats.Snapshot()
	if recv.Messages != 2 || recv.Bytes != 58 || recv.ByCommand[wire.CmdPing].Messages != 1 || recv.ByCommand[OtherCommand].Messages != 1 {
		t.Errorf("recv stats %+v", recv)
	}
	select {
	case err := <-pc.closed:
		t.Fatalf("OnClose(%v) on a healthy connection", err)
	default:
	}
}

func TestConnSends(t *testing.T) {
	pc := startPipe(t, time.Second)
	pc.out.Push(Outbound{Frame: frameOf(t, wire.NewMsgPing(9)), Command: wire.CmdPing, Control: true, Request: 5})
	// A frame larger than one write chunk arrives whole.
	big := frameOf(t, &protocol.MsgUnknown{Cmd: "filler", Payload: bytes.Repeat([]byte{0xab}, 3*writeChunk+17)})
	pc.out.Push(Outbound{Frame: big, Command: "filler"})

	pc.remote.SetReadDeadline(time.Now().Add(guard))
	f, err := protocol.ReadFrame(pc.remote, magic)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := protocol.Decode(f.Command, f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := msg.(*wire.MsgPing); !ok || p.Nonce != 9 {
		t.Fatalf("remote got %s, want ping 9", f.Command)
	}
	select {
	case req := <-pc.written:
		if req != 5 {
			t.Errorf("OnWritten(%d), want 5", req)
		}
	case <-time.After(guard):
		t.Fatal("OnWritten not called for a request")
	}
	f, err = protocol.ReadFrame(pc.remote, magic)
	if err != nil || f.Command != "filler" || f.WireSize() != len(big) {
		t.Fatalf("big frame: %v, %q, %d bytes", err, f.Command, f.WireSize())
	}
	// The writer counts the message after writing it; wait for that.
	deadline := time.Now().Add(guard)
	for {
		sent, _ := pc.c.Stats.Snapshot()
		if sent.Messages == 2 {
			if sent.Bytes != uint64(32+len(big)) || sent.ByCommand[wire.CmdPing].Messages != 1 {
				t.Errorf("sent stats %+v", sent)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sent stats never reached 2 messages: %+v", sent)
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case req := <-pc.written:
		t.Errorf("OnWritten(%d) for a message that is not a request", req)
	default:
	}
}

func TestConnProtocolErrors(t *testing.T) {
	ping := func(t *testing.T) []byte { return frameOf(t, wire.NewMsgPing(1)) }
	for _, tc := range []struct {
		name  string
		bytes func(t *testing.T) []byte
		want  error
	}{
		{"wrong magic", func(t *testing.T) []byte {
			b, _ := protocol.EncodeFrame(protocol.Mainnet.Magic(), wire.NewMsgPing(1))
			return b
		}, protocol.ErrWrongMagic},
		{"4GB length", func(t *testing.T) []byte {
			b := ping(t)[:protocol.HeaderSize]
			binary.LittleEndian.PutUint32(b[16:20], 0xffffffff)
			return b
		}, protocol.ErrPayloadTooLarge},
		{"bad checksum", func(t *testing.T) []byte {
			b := ping(t)
			b[20] ^= 0xff
			return b
		}, protocol.ErrChecksumMismatch},
		{"bad command", func(t *testing.T) []byte {
			b := ping(t)
			b[4] = 0x01
			return b
		}, protocol.ErrBadCommand},
		{"garbage payload", func(t *testing.T) []byte {
			b, _ := protocol.AppendFrame(nil, magic, wire.CmdPing, []byte{1, 2, 3})
			return b
		}, protocol.ErrMalformed},
		{"remote close", nil, io.EOF},
		{"cut mid-frame", func(t *testing.T) []byte { return ping(t)[:30] }, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc := startPipe(t, time.Second)
			if tc.bytes != nil {
				b := tc.bytes(t)
				if tc.want == io.ErrUnexpectedEOF {
					pc.remote.Write(b) // the reader consumes it all, then sees the close
				} else {
					pc.send(b)
				}
			}
			if tc.bytes == nil || tc.want == io.ErrUnexpectedEOF {
				pc.remote.Close()
			}
			err := pc.closeErr(t)
			if !errors.Is(err, tc.want) {
				t.Fatalf("OnClose(%v), want an error matching %v", err, tc.want)
			}
			waitConn(t, pc.c)
			if pc.in.Push(Inbound{Size: 1}) || pc.out.Push(Outbound{Control: true}) {
				t.Error("queues still open after the connection failed")
			}
			select {
			case err := <-pc.closed:
				t.Errorf("OnClose called twice, second with %v", err)
			default:
			}
		})
	}
}

func TestConnSendStall(t *testing.T) {
	pc := startPipe(t, 100*time.Millisecond)
	// The remote never reads.
	pc.out.Push(Outbound{Frame: frameOf(t, wire.NewMsgPing(1)), Command: wire.CmdPing, Control: true})
	err := pc.closeErr(t)
	if !errors.Is(err, ErrSendStall) {
		t.Fatalf("OnClose(%v), want ErrSendStall", err)
	}
	waitConn(t, pc.c)
}

func TestConnCloseSuppressesOnClose(t *testing.T) {
	pc := startPipe(t, time.Minute)
	// The writer is blocked mid-write on a remote that does not read, and
	// the reader is blocked reading: Close must free both.
	pc.out.Push(Outbound{Frame: frameOf(t, wire.NewMsgPing(1)), Command: wire.CmdPing})
	pc.c.Close()
	pc.c.Close() // idempotent
	waitConn(t, pc.c)
	select {
	case err := <-pc.closed:
		t.Fatalf("OnClose(%v) after Close", err)
	default:
	}
	pc.remote.SetReadDeadline(time.Now().Add(guard))
	if _, err := pc.remote.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("remote read after Close: %v, want EOF", err)
	}
	if pc.in.Push(Inbound{Size: 1}) || pc.out.Push(Outbound{Control: true}) {
		t.Error("queues still open after Close")
	}
}

func TestConnAddrs(t *testing.T) {
	pc := startPipe(t, time.Second)
	if pc.c.RemoteAddr() == nil || pc.c.LocalAddr() == nil {
		t.Error("nil address")
	}
}

func TestDecodeHeadersFastPathAgreesWithWire(t *testing.T) {
	msg := wire.NewMsgHeaders()
	for i := range 2000 {
		h := wire.BlockHeader{Version: int32(i), Nonce: uint32(i * 7), Bits: 0x207fffff}
		msg.AddBlockHeader(&h)
	}
	for _, n := range []int{0, 1, 252, 253, 2000} {
		m := &wire.MsgHeaders{Headers: msg.Headers[:n]}
		payload, err := protocol.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeHeaders(payload)
		if err != nil || !headersEqual(got, m) {
			t.Errorf("%d headers: fast path %v, agrees %v", n, err, headersEqual(got, m))
		}
	}
	// Anything unusual goes to wire: a non-zero tx count, a wrong length,
	// a non-canonical count, too many headers.
	payload, _ := protocol.Encode(&wire.MsgHeaders{Headers: msg.Headers[:3]})
	bad := append([]byte(nil), payload...)
	bad[len(bad)-1] = 1
	for _, p := range [][]byte{bad, payload[:len(payload)-1], {0xfd, 0x01, 0x00}, {0xfd, 0xd1, 0x07}, {0xff}, nil} {
		if _, err := decodeHeaders(p); err == nil {
			t.Errorf("fast path accepted %x", p[:min(len(p), 8)])
		}
	}
}
