package chain

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/watchnode/watchnode/node/consensus"
)

// Open opens the store in dir, builds the chain from it and queues the
// genesis record of a new store: the shortcut of the command-line tools and
// tests. The caller owns both: it writes every AcceptResult's Writes to the
// store, in order, and closes the store.
func Open(dir string, params *consensus.Params, log *slog.Logger) (*Chain, *Store, error) {
	s, stored, err := OpenStore(filepath.Join(dir, StoreFile), log, StoreOptions{})
	if err != nil {
		return nil, nil, err
	}
	c, writes, err := New(params, stored)
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("header store in %s: %w", dir, err)
	}
	for _, w := range writes {
		s.Write(w)
	}
	return c, s, nil
}
