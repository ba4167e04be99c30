package engine

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/watchnode/watchnode/node/protocol"
)

// keyLog is the -v2keylog file: one line per BIP324 connection with its
// shared secret (protocol.V2KeyLogEntry), for the decoder to decrypt a
// capture of it. It is written by the connections' reader goroutines, one
// short append each, under a mutex.
type keyLog struct {
	mu     sync.Mutex
	f      *os.File
	log    *slog.Logger
	failed bool
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
	return &keyLog{f: f, log: log}, nil
}

// add appends one connection's line; a failed write is logged once and
// costs the connection nothing.
func (k *keyLog) add(e protocol.V2KeyLogEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := k.f.WriteString(e.String() + "\n"); err != nil && !k.failed {
		k.failed = true
		k.log.Error("writing BIP324 key log; later connections are not logged either", "err", err)
	}
}

func (k *keyLog) close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.f.Close()
}
