package engine

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

// The key log is private (0600, even when it existed with another mode)
// and stops at its bound: what peers make the node write is counted.
func TestKeyLogModeAndBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.log")
	if err := os.WriteFile(path, []byte("# earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := openKeyLog(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e := protocol.V2KeyLogEntry{Magic: wire.MainNet}
	line := int64(len(e.String()) + 1)
	k.limit = k.size + 3*line + line/2 // room for three lines and a half
	for range 5 {
		k.add(e)
	}
	if err := k.close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if got := strings.Count(string(data), protocol.V2KeyLogLabel+" "); got != 3 || !strings.HasPrefix(string(data), "# earlier\n") {
		t.Errorf("%d lines after five connections with room for three; file %q", got, data)
	}
}
