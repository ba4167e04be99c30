package peer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// ErrSendStall is reported when the socket accepted no bytes for the whole
// write timeout: the peer stopped reading.
var ErrSendStall = errors.New("send stall")

// writeChunk is how much the writer hands the socket at once. The write
// deadline is renewed per chunk, so a peer that reads slowly but steadily is
// not mistaken for one that stopped reading.
const writeChunk = 64 << 10

// Config sets up a Conn.
type Config struct {
	Magic        wire.BitcoinNet
	WriteTimeout time.Duration // a socket that accepts nothing for this long is dropped
	In           *InQueue
	Out          *OutQueue
	// OnWritten is called from the writer goroutine after a message with a
	// non-zero Request has been written. It must not block for long.
	OnWritten func(request uint64, at time.Time)
	// OnClose is called once, from the reader or writer goroutine, with the
	// error that ended the connection, unless Close was called first. It must
	// not block for long.
	OnClose func(err error)
	Now     func() time.Time
	// Capture, when not nil, records every message both ways; the Conn
	// closes it when its goroutines end.
	Capture *Capture
}

// Conn runs the reader and writer goroutines of one TCP connection.
type Conn struct {
	nc    net.Conn
	cfg   Config
	Stats Stats

	closeOnce sync.Once
	mu        sync.Mutex
	closing   bool // set by Close: the engine already knows why
	done      chan struct{}
	wg        sync.WaitGroup
}

// Start takes ownership of nc and starts its goroutines.
func Start(nc net.Conn, cfg Config) *Conn {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Conn{nc: nc, cfg: cfg, done: make(chan struct{})}
	c.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
	return c
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns our side's address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Close closes the socket and both queues; the goroutines exit soon after
// and OnClose is not called. It is idempotent.
func (c *Conn) Close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.shutdown()
}

// Wait blocks until both goroutines have exited.
func (c *Conn) Wait() { c.wg.Wait() }

func (c *Conn) shutdown() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.nc.Close()
		c.cfg.In.Close()
		c.cfg.Out.Close()
	})
}

// fail ends the connection because of err and reports it, once.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	report := !c.closing
	c.closing = true
	c.mu.Unlock()
	c.shutdown()
	if report && c.cfg.OnClose != nil {
		c.cfg.OnClose(err)
	}
}

func (c *Conn) readLoop() {
	defer c.wg.Done()
	if c.cfg.Capture != nil {
		defer c.cfg.Capture.recv.close()
	}
	for {
		f, err := protocol.ReadFrame(c.nc, c.cfg.Magic)
		if err != nil {
			c.fail(err)
			return
		}
		now := c.cfg.Now()
		c.Stats.AddRecv(CounterKey(f.Command), f.WireSize(), now)
		if c.cfg.Capture != nil {
			c.cfg.Capture.recv.add(now, f.Command, f.Payload)
		}
		in := Inbound{Command: f.Command, Size: f.WireSize(), Received: now, Payload: f.Payload}
		var hashing []consensus.Header
		if f.Command == wire.CmdHeaders {
			if hs, err := decodeHeaders(f.Payload); err == nil {
				in.Msg, in.Headers = &wire.MsgHeaders{}, hs
				if len(hs) > 0 {
					in.HeaderHashes = make([]chainhash.Hash, len(hs))
					in.HeaderHashes[len(hs)-1] = hs[len(hs)-1].Hash()
					in.Hashed = make(chan struct{})
					hashing = hs
				}
			}
		}
		if in.Msg == nil {
			msg, err := protocol.Decode(f.Command, f.Payload)
			if err != nil {
				c.fail(err)
				return
			}
			in.Msg = msg
			if hm, ok := msg.(*wire.MsgHeaders); ok {
				in.Headers, in.HeaderHashes = HashHeaders(hm)
			}
		}
		if !c.cfg.In.Push(in) {
			if in.Hashed != nil {
				close(in.Hashed)
			}
			return // closed
		}
		if hashing != nil {
			hashInto(hashing, in.HeaderHashes, in.Hashed)
		}
	}
}

func (c *Conn) writeLoop() {
	defer c.wg.Done()
	if c.cfg.Capture != nil {
		defer c.cfg.Capture.sent.close()
	}
	for {
		m, ok := c.cfg.Out.Pop()
		if !ok {
			select {
			case <-c.cfg.Out.Ready():
				continue
			case <-c.done:
				return
			}
		}
		// Stamped as the bytes go to the kernel, not after the write
		// returns: a fast peer's reply can reach the engine before this
		// goroutine runs again. Tracked requests are small, so the write
		// itself takes no measurable time.
		if m.Written != nil {
			m.Written.Store(c.cfg.Now().UnixNano())
		}
		if err := c.write(m.Frame); err != nil {
			c.fail(err)
			return
		}
		now := c.cfg.Now()
		c.Stats.AddSent(m.Command, len(m.Frame), now)
		if c.cfg.Capture != nil {
			c.cfg.Capture.sent.add(now, m.Command, m.Frame[protocol.HeaderSize:])
		}
		if m.Request != 0 && c.cfg.OnWritten != nil {
			c.cfg.OnWritten(m.Request, now)
		}
	}
}

func (c *Conn) write(frame []byte) error {
	for len(frame) > 0 {
		n := min(len(frame), writeChunk)
		if err := c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout)); err != nil {
			return fmt.Errorf("setting write deadline: %w", err)
		}
		written, err := c.nc.Write(frame[:n])
		frame = frame[written:]
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && written == 0 {
				return fmt.Errorf("%w: the peer accepted no bytes for %s", ErrSendStall, c.cfg.WriteTimeout)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("writing to socket: %w", err)
		}
	}
	return nil
}
