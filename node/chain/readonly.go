package chain

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/watchnode/watchnode/node/consensus"
)

// ReadStore reads the store at path without locking, writing or
// truncating it, so it may run while a node holds the store open for
// writing (export-headers does). It returns the headers of the intact
// records that form a chain from the first one, in height order.
//
// What a writer does meanwhile is safe to race with: a record being
// appended is torn or missing and not read (its checksum fails); a reorg
// cuts the file and writes the new branch, and a read that saw the old
// branch's first records and then the new branch's stops where a header no
// longer follows the one before it. Either way the result is the main chain
// as it was at some moment, up to some height. A torn or corrupt tail is
// reported in the log (nil: no log) and left alone: cutting it off is the
// writer's job, at its next open.
func ReadStore(path string, log *slog.Logger) ([]consensus.Header, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading header store: %w", err)
	}
	headers, good := decodeRecords(data)
	if good != len(data) {
		log.Warn("header store: stopped at a record that is torn, corrupt or being written; reading the records before it",
			"path", path, "records", good/recordSize, "unread_bytes", len(data)-good)
	}
	// Only a reader racing the writer needs this: the writer's own open
	// trusts the checksums, since nobody else writes under its lock.
	for i := 1; i < len(headers); i++ {
		if headers[i].PrevBlock != headers[i-1].Hash() {
			log.Warn("header store: a record does not follow the one before it (a reorg being written); reading the records before it",
				"path", path, "height", i)
			headers = headers[:i]
			break
		}
	}
	return headers, nil
}

// OpenReadOnly builds the chain from the store in dir without locking or
// changing it (see ReadStore): for reading a node's chain while it runs.
// Nothing is stored for the returned chain; it must not be given headers
// to accept, since nobody would store them. A missing store is an error
// (one wrapping fs.ErrNotExist), not a new one: a reader creates nothing.
func OpenReadOnly(dir string, params *consensus.Params, log *slog.Logger) (*Chain, error) {
	stored, err := ReadStore(filepath.Join(dir, StoreFile), log)
	if err != nil {
		return nil, err
	}
	// An empty store (a node that has not written its genesis yet) is a
	// chain of the genesis alone; New's writes for it are not ours to do.
	c, _, err := New(params, stored)
	if err != nil {
		return nil, fmt.Errorf("header store in %s: %w", dir, err)
	}
	return c, nil
}
