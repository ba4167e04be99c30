package addrman

import (
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"time"

	"github.com/watchnode/watchnode/internal/atomicfile"
)

// fileVersion is the only format Load accepts. Bump it on any change that
// an older binary would misread, so it refuses the file instead.
const fileVersion = 1

// maxFileSize bounds what Load reads. A full table serialises to roughly
// 15 MiB; anything far larger is not ours and must not exhaust memory.
const maxFileSize = 64 << 20

// ErrCorrupt is wrapped by Load errors about a file that exists but is not
// a valid address file, so callers can move it aside and start afresh
// rather than refuse to start.
var ErrCorrupt = errors.New("addrman: corrupt address file")

// ErrUnsupportedVersion is wrapped by Load errors about a well-formed file
// whose version this binary does not know, typically written by a newer
// one. It is distinct from ErrCorrupt so callers can keep such a file
// instead of overwriting it.
var ErrUnsupportedVersion = errors.New("addrman: unsupported address file version")

// fileFormat is the JSON document Save writes. Bucket positions are not
// stored: they follow from the key, and recomputing them means Load cannot
// be fed an inconsistent table.
type fileFormat struct {
	Version int         `json:"version"`
	Key     string      `json:"key"` // hex, 32 bytes
	Entries []fileEntry `json:"entries"`
}

// fileEntry is one address. Times are Unix seconds, 0 for never.
type fileEntry struct {
	Addr        string `json:"addr"`
	Source      string `json:"source,omitempty"` // empty for manual adds
	Services    uint64 `json:"services"`
	Time        int64  `json:"time"`
	LastAttempt int64  `json:"last_attempt,omitempty"`
	LastSuccess int64  `json:"last_success,omitempty"`
	Failures    int64  `json:"failures,omitempty"`
	Tried       bool   `json:"tried,omitempty"`
}

// Load reads an address file written by Save. A missing file is not an
// error: it yields an empty Manager with a fresh random key, which is what a
// first start needs. A file that cannot be parsed yields an error wrapping
// ErrCorrupt or ErrUnsupportedVersion that says what is wrong. now is used
// to pull times that lie in the future (the clock went back since Save)
// into the present, so that no address stays in backoff for hours.
func Load(path string, now time.Time) (*Manager, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		var key [32]byte
		crand.Read(key[:]) // never fails (crypto/rand panics rather than return an error)
		return New(key), nil
	}
	if err != nil {
		return nil, fmt.Errorf("addrman: load: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("addrman: load %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("addrman: load %s: %w: larger than %d bytes", path, ErrCorrupt, maxFileSize)
	}
	m, err := decode(data, now)
	if err != nil {
		return nil, fmt.Errorf("addrman: load %s: %w", path, err)
	}
	return m, nil
}

// decode parses and validates a file's contents into a Manager.
func decode(data []byte, now time.Time) (*Manager, error) {
	// Read the version on its own first, so that a newer format is
	// reported as such rather than as whatever field fails to parse.
	var probe struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: malformed JSON: %w", ErrCorrupt, err)
	}
	if probe.Version == nil {
		return nil, fmt.Errorf("%w: no version field", ErrCorrupt)
	}
	if *probe.Version != fileVersion {
		return nil, fmt.Errorf("%w: %d (want %d)", ErrUnsupportedVersion, *probe.Version, fileVersion)
	}
	var ff fileFormat
	if err := json.Unmarshal(data, &ff); err != nil {
		return nil, fmt.Errorf("%w: malformed JSON: %w", ErrCorrupt, err)
	}
	rawKey, err := hex.DecodeString(ff.Key)
	if err != nil || len(rawKey) != 32 {
		return nil, fmt.Errorf("%w: key must be 64 hex digits, got %q", ErrCorrupt, truncate(ff.Key))
	}
	m := New([32]byte(rawKey))

	nowU := unix(now)
	entries := make([]*entry, 0, len(ff.Entries))
	seen := make(map[netip.AddrPort]bool, len(ff.Entries))
	for i, fe := range ff.Entries {
		e, err := fe.toEntry(nowU)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrCorrupt, i, err)
		}
		if seen[e.addr] {
			return nil, fmt.Errorf("%w: entry %d: duplicate address %s", ErrCorrupt, i, e.addr)
		}
		seen[e.addr] = true
		entries = append(entries, e)
	}

	// Tried entries go first so they get their slots. A tried entry whose
	// slot is taken (only possible in a hand-edited file) is demoted to new
	// as Core does; a new entry whose slot is taken is dropped, the same
	// fate as a colliding Add.
	var demoted []*entry
	for _, e := range entries {
		if !e.tried {
			continue
		}
		b, s := m.triedPos(e.addr)
		if m.triedTable[b][s] != nil {
			demoted = append(demoted, e)
			continue
		}
		m.track(e)
		m.place(e, true, b, s)
	}
	for _, e := range entries {
		if e.tried {
			continue
		}
		m.placeNew(e)
	}
	for _, e := range demoted {
		m.placeNew(e)
	}
	return m, nil
}

// placeNew adds e to the new table if its slot is free.
func (m *Manager) placeNew(e *entry) {
	b, s := m.newPos(e.addr, e.source)
	if m.newTable[b][s] != nil {
		return
	}
	m.track(e)
	m.place(e, false, b, s)
}

// toEntry validates one file entry.
func (fe *fileEntry) toEntry(nowU int64) (*entry, error) {
	ap, err := netip.ParseAddrPort(fe.Addr)
	if err != nil {
		return nil, fmt.Errorf("bad addr %q: %w", truncate(fe.Addr), err)
	}
	ap = normalize(ap)
	if !dialable(ap) {
		return nil, fmt.Errorf("addr %s cannot be dialled", ap)
	}
	var source netip.Addr
	if fe.Source != "" {
		source, err = netip.ParseAddr(fe.Source)
		if err != nil {
			return nil, fmt.Errorf("bad source %q: %w", truncate(fe.Source), err)
		}
		source = source.Unmap()
		if source.Zone() != "" {
			return nil, fmt.Errorf("source %s has a zone", source)
		}
	}
	if fe.Time < 0 || fe.LastAttempt < 0 || fe.LastSuccess < 0 {
		return nil, errors.New("negative time")
	}
	if fe.Failures < 0 {
		return nil, fmt.Errorf("negative failure count %d", fe.Failures)
	}
	e := &entry{
		addr:        ap,
		source:      source,
		services:    fe.Services,
		time:        fe.Time,
		lastAttempt: min(fe.LastAttempt, nowU),
		lastSuccess: min(fe.LastSuccess, nowU),
		failures:    int32(min(fe.Failures, maxStoredFails)),
		tried:       fe.Tried,
	}
	if e.time > nowU+int64(maxFutureSkew/time.Second) {
		e.time = nowU - int64(defaultAge/time.Second)
	}
	return e, nil
}

// truncate shortens attacker-sized strings before they go into an error.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Save writes the tables to path atomically: a temporary file in the same
// directory is written and fsynced, renamed over path, and the directory is
// fsynced, so a crash leaves either the old file or the new one, never a
// torn one. Entries are written tried table first, in bucket order, so the
// output depends only on the table contents.
func (m *Manager) Save(path string) error { return m.Snapshot().Save(path) }

// Snapshot is a copy of the tables, taken cheaply by the owner of a Manager
// (a copy of each entry's fields, tried table first, in bucket order) and
// encoded and saved later, on any goroutine: encoding a full table takes
// about 150 ms, which must not stall the owner.
type Snapshot struct {
	key     [32]byte
	entries []entry
}

// Snapshot copies the tables for Save.
func (m *Manager) Snapshot() *Snapshot {
	s := &Snapshot{key: m.key, entries: make([]entry, 0, len(m.all))}
	for b := range m.triedTable {
		for _, e := range m.triedTable[b] {
			if e != nil {
				s.entries = append(s.entries, *e)
			}
		}
	}
	for b := range m.newTable {
		for _, e := range m.newTable[b] {
			if e != nil {
				s.entries = append(s.entries, *e)
			}
		}
	}
	return s
}

// Len returns the number of addresses in the snapshot.
func (s *Snapshot) Len() int { return len(s.entries) }

// Save writes the snapshot to path atomically (see Manager.Save).
func (s *Snapshot) Save(path string) error {
	data, err := s.encode()
	if err != nil {
		return fmt.Errorf("addrman: save: %w", err)
	}
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("addrman: save: %w", err)
	}
	return nil
}

// encode is the file contents Save writes.
func (s *Snapshot) encode() ([]byte, error) {
	ff := fileFormat{
		Version: fileVersion,
		Key:     hex.EncodeToString(s.key[:]),
		Entries: make([]fileEntry, 0, len(s.entries)),
	}
	for i := range s.entries {
		ff.Entries = append(ff.Entries, s.entries[i].toFile())
	}
	return json.Marshal(&ff)
}

// toFile is the persisted form of e. Whether a dial is in flight is not
// stored: after a restart it is not.
func (e *entry) toFile() fileEntry {
	fe := fileEntry{
		Addr:        e.addr.String(),
		Services:    e.services,
		Time:        e.time,
		LastAttempt: e.lastAttempt,
		LastSuccess: e.lastSuccess,
		Failures:    int64(e.failures),
		Tried:       e.tried,
	}
	if e.source.IsValid() {
		fe.Source = e.source.String()
	}
	return fe
}
