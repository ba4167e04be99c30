package peer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/watchnode/watchnode/node/inspect"
)

// Capture records one connection's messages in Bitcoin Core's
// -capturemessages format (msgs_recv.dat and msgs_sent.dat in one folder
// per connection), so the files open in Core's tools and in the node's
// decoder. The reader goroutine writes the received file and the writer
// goroutine the sent one, each on its own: no lock, and no file I/O on the
// engine goroutine.
//
// Each record is one write, unbuffered, as Core does it: the files are
// complete up to the last message at every moment, so the dashboard can
// open a live connection's capture.
type Capture struct {
	recv, sent *captureFile
	stopped    atomic.Bool
}

type captureFile struct {
	f       *os.File
	stopped *atomic.Bool
	buf     []byte
	err     error
	closed  bool
}

// errStopped ends a capture file's recording after Stop.
var errStopped = errors.New("capture stopped")

// Stop ends the recording: each file is closed by its goroutine at its next
// message (or when the connection ends), and records nothing more.
func (c *Capture) Stop() { c.stopped.Store(true) }

// OpenCapture creates dir and the two capture files in it.
func OpenCapture(dir string) (*Capture, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating capture folder: %w", err)
	}
	open := func(name string) (*captureFile, error) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening capture file: %w", err)
		}
		return &captureFile{f: f}, nil
	}
	recv, err := open("msgs_recv.dat")
	if err != nil {
		return nil, err
	}
	sent, err := open("msgs_sent.dat")
	if err != nil {
		recv.f.Close()
		return nil, err
	}
	c := &Capture{recv: recv, sent: sent}
	recv.stopped, sent.stopped = &c.stopped, &c.stopped
	return c, nil
}

// add appends one record; after a write error the file records nothing
// more (the connection itself goes on).
func (cf *captureFile) add(at time.Time, command string, payload []byte) {
	if cf.err == nil && cf.stopped.Load() {
		cf.err = errStopped
		cf.close()
	}
	if cf.err != nil {
		return
	}
	cf.buf = inspect.AppendCoreRecord(cf.buf[:0], at, command, payload)
	_, cf.err = cf.f.Write(cf.buf)
}

func (cf *captureFile) close() error {
	if cf.closed {
		return nil
	}
	cf.closed = true
	err := cf.err
	if errors.Is(err, errStopped) {
		err = nil
	}
	return errors.Join(err, cf.f.Close())
}

// Close closes the capture's files: for a capture that no connection's
// goroutines ever took over (its connection ended before it started).
// It must not be called once the capture was given to Start.
func (c *Capture) Close() error {
	c.Stop()
	return errors.Join(c.recv.close(), c.sent.close())
}
