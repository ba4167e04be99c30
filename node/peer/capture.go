package peer

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/watchnode/watchnode/node/inspect"
)

// Capture records one connection's messages in Bitcoin Core's
// -capturemessages format (msgs_recv.dat and msgs_sent.dat in one folder
// per connection), so the files open in Core's tools and in the node's
// decoder. The reader goroutine writes the received file and the writer
// goroutine the sent one, each on its own: no lock, and no file I/O on the
// engine goroutine.
type Capture struct {
	recv, sent *captureFile
}

type captureFile struct {
	f   *os.File
	w   *bufio.Writer
	buf []byte
	err error
}

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
		return &captureFile{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
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
	return &Capture{recv: recv, sent: sent}, nil
}

// add appends one record; after a write error the file records nothing
// more (the connection itself goes on).
func (cf *captureFile) add(at time.Time, command string, payload []byte) {
	if cf.err != nil {
		return
	}
	cf.buf = inspect.AppendCoreRecord(cf.buf[:0], at, command, payload)
	_, cf.err = cf.w.Write(cf.buf)
}

func (cf *captureFile) close() error {
	err := cf.err
	if ferr := cf.w.Flush(); err == nil {
		err = ferr
	}
	return errors.Join(err, cf.f.Close())
}
