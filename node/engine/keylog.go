package engine

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/watchnode/watchnode/node/protocol"
)

// maxKeyLogBytes bounds the -v2keylog file: anyone can open inbound v2
// connections, each adding a 267-byte line, so the file stops growing at
// 64 MiB (about 250,000 connections), which is logged once.
const maxKeyLogBytes = 64 << 20

// keyLog is the -v2keylog file: one line per BIP324 connection with its
// shared secret (protocol.V2KeyLogEntry), for the decoder to decrypt a
// capture of it. It is written by the connections' reader goroutines, one
// short append each, under a mutex.
type keyLog struct {
	mu     sync.Mutex
	f      *os.File
	log    *slog.Logger
	size   int64 // the file's size: what it held at open and what was added
	limit  int64
	failed bool // a write failed or the limit was reached: nothing more is written
}

// openKeyLog opens (creating, appending) the key log with mode 0600: the
// secrets in it decrypt the listed connections.
func openKeyLog(path string, log *slog.Logger) (*keyLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening BIP324 key log: %w", err)
	}
	// A file that existed keeps its mode otherwise.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("making BIP324 key log private: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading BIP324 key log's size: %w", err)
	}
	return &keyLog{f: f, log: log, size: fi.Size(), limit: maxKeyLogBytes}, nil
}

// add appends one connection's line. A failed write, or the file at its
// limit, is logged once and ends the log; it costs the connection nothing.
func (k *keyLog) add(e protocol.V2KeyLogEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failed {
		return
	}
	line := e.String() + "\n"
	if k.size+int64(len(line)) > k.limit {
		k.failed = true
		k.log.Warn("BIP324 key log is full; later connections are not logged", "limit_bytes", k.limit)
		return
	}
	n, err := k.f.WriteString(line)
	k.size += int64(n)
	if err != nil {
		k.failed = true
		k.log.Error("writing BIP324 key log; later connections are not logged either", "err", err)
	}
}

func (k *keyLog) close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.f.Close()
}
