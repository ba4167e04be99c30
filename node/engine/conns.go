package engine

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// connection is the shell's side of one peer: the socket and its
// goroutines, the queues between them and the core, the capture.
type connection struct {
	id      p2p.PeerID
	addr    netip.AddrPort
	nc      net.Conn
	conn    *peer.Conn // nil until started (a capture may be opening)
	in      *peer.InQueue
	out     *peer.OutQueue
	capture *peer.Capture
	// transport is how the connection starts: v1, BIP324, or (inbound)
	// whichever the peer speaks.
	transport peer.Transport
}

// acceptLoop hands inbound connections to the engine until ctx ends.
func (e *Engine) acceptLoop(ctx context.Context, ln net.Listener) {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.log.Warn("accepting connection", "err", err)
			select {
			case <-time.After(100 * time.Millisecond): // e.g. out of file descriptors
			case <-ctx.Done():
				return
			}
			continue
		}
		select {
		case e.events <- evConnected{nc: nc, inbound: true}:
		case <-e.quit:
			nc.Close()
			return
		}
	}
}

// dial connects in the background; the result comes back as an event.
func (e *Engine) dial(addr string, manual, v2 bool) {
	ctx := e.ctx
	e.wg.Go(func() {
		dctx, cancel := context.WithTimeout(ctx, e.cfg.DialTimeout)
		defer cancel()
		nc, err := e.cfg.Dial(dctx, "tcp", addr)
		if err != nil {
			e.post(evDialFailed{target: addr, err: err})
			return
		}
		select {
		case e.events <- evConnected{nc: nc, target: addr, manual: manual, v2: v2}:
		case <-e.quit:
			nc.Close()
		}
	})
}

// connected asks the core to admit a new socket and starts it: at once,
// or once its capture files are open (a job: file I/O stays off the engine
// goroutine, and a capture always starts at the connection's first byte).
func (e *Engine) connected(ev evConnected, now time.Time) {
	addr := addrPortOf(ev.nc.RemoteAddr())
	adm := e.core.Connected(now, p2p.ConnInfo{Addr: addr, Inbound: ev.inbound, Target: ev.target, Manual: ev.manual})
	if adm.Refused {
		ev.nc.Close()
		return
	}
	c := &connection{id: adm.ID, addr: addr, nc: ev.nc, in: e.pool.NewQueue(e.notify), out: peer.NewOutQueue()}
	switch {
	case ev.inbound && e.cfg.V2Transport:
		c.transport = peer.TransportDetect
	case ev.v2:
		c.transport = peer.TransportV2
	}
	e.conns[c.id] = c
	if !adm.Capture {
		e.startConn(c)
		return
	}
	dir := filepath.Join(e.cfg.CaptureDir, CaptureFolderName(addr.String()))
	id, nc := c.id, c.nc
	e.wg.Go(func() {
		capture, err := peer.OpenCapture(dir)
		if err != nil {
			e.log.Error("cannot capture this peer's messages", "addr", addr, "err", err)
			capture = nil
		}
		e.post(evCaptureOpened{id: id, nc: nc, capture: capture})
	})
}

// captureOpened starts a connection whose capture files are open (or
// failed to open: it goes on uncaptured).
func (e *Engine) captureOpened(ev evCaptureOpened) {
	c, ok := e.conns[ev.id]
	if !ok {
		// Dropped while its files were opening.
		if ev.capture != nil {
			ev.capture.Close()
		}
		return
	}
	if ev.capture != nil && !e.capturing.Load() {
		// Capture was switched off meanwhile.
		ev.capture.Close()
		ev.capture = nil
	}
	c.capture = ev.capture
	e.startConn(c)
}

// startConn starts the connection's reader and writer goroutines.
func (e *Engine) startConn(c *connection) {
	c.conn = peer.Start(c.nc, peer.Config{
		ID: c.id, Addr: c.addr.String(), Magic: e.cfg.Network.Magic(),
		In: c.in, Out: c.out, Reports: reporter{e}, Log: recorder{e}, Capture: c.capture,
		Now: e.cfg.Now, Transport: c.transport, KeyLog: e.keyLogFunc(),
	})
	e.wg.Go(c.conn.Wait)
}

// closeConn closes a dropped peer's connection and keeps its traffic in
// the totals.
func (e *Engine) closeConn(c *connection) {
	delete(e.conns, c.id)
	if c.conn == nil {
		c.nc.Close()
		c.in.Close()
		c.out.Close()
		return
	}
	c.conn.Close()
	sent, recv := c.conn.Stats.Snapshot()
	e.closed.add(c.conn.Transport(), sent, recv)
}

// keyLogFunc is what connections give their BIP324 secrets to: the key
// log, or nil without one.
func (e *Engine) keyLogFunc() func(protocol.V2KeyLogEntry) {
	if e.keyLog == nil {
		return nil
	}
	return e.keyLog.add
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
