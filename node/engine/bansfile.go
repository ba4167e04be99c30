package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/watchnode/watchnode/internal/atomicfile"
	"github.com/watchnode/watchnode/node/p2p"
)

// banFile is bans.json: the operator's bans (discouragements are kept in
// memory only, as Bitcoin Core keeps its discouragement filter).
type banFile struct {
	Version int       `json:"version"`
	Bans    []p2p.Ban `json:"bans"`
}

const banFileVersion = 1

// loadBans reads the manual bans from path; a missing file is an empty list.
func loadBans(path string) ([]p2p.Ban, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading ban list: %w", err)
	}
	var f banFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("ban list %s is not valid JSON: %w", path, err)
	}
	if f.Version != banFileVersion {
		return nil, fmt.Errorf("ban list %s has version %d, want %d", path, f.Version, banFileVersion)
	}
	for _, b := range f.Bans {
		if _, err := p2p.ParseBanAddr(b.Addr); err != nil {
			return nil, fmt.Errorf("ban list %s: %w", path, err)
		}
	}
	return f.Bans, nil
}

// saveBans writes the manual bans atomically: temp file, fsync, rename.
func saveBans(path string, bans []p2p.Ban) error {
	data, err := json.MarshalIndent(banFile{Version: banFileVersion, Bans: bans}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding ban list: %w", err)
	}
	return atomicfile.Write(path, data)
}
