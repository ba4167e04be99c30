package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/protocol"
)

func TestRunWritesChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.hdr")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-n", "500", "-o", path, "-end", "2025-06-01T12:00:00Z", "-seed", "3"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	headers, err := chaingen.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(headers) != 500 {
		t.Fatalf("file has %d headers, want 500", len(headers))
	}
	if headers[0].PrevBlock != *protocol.Regtest.Params().GenesisHash {
		t.Error("first header does not follow the regtest genesis")
	}
	end := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	if last := headers[len(headers)-1].Timestamp; !last.Equal(end.Add(-time.Hour)) {
		t.Errorf("last timestamp %v, want an hour before -end", last)
	}
	want := chaingen.Generate(500, chaingen.Options{End: end, Seed: 3})
	if headers[499].BlockHash() != want[499].BlockHash() {
		t.Error("command output differs from the library's chain for the same options")
	}
	out := stdout.String()
	for _, s := range []string{"wrote 500 regtest headers", headers[0].BlockHash().String(), headers[499].BlockHash().String(), "elapsed"} {
		if !strings.Contains(out, s) {
			t.Errorf("stdout lacks %q:\n%s", s, out)
		}
	}
}

func TestRunBadFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", out}, "-n must be a positive"},
		{[]string{"-n", "-5", "-o", out}, "-n must be a positive"},
		{[]string{"-n", "10"}, "-o FILE is required"},
		{[]string{"-n", "ten", "-o", out}, "invalid value"},
		{[]string{"-n", "10", "-o", out, "-network", "moon"}, "unknown network"},
		{[]string{"-n", "10", "-o", out, "-end", "yesterday"}, "RFC3339"},
		{[]string{"-n", "10", "-o", out, "-end", "2000-01-01T00:00:00Z"}, "no room"},
		{[]string{"-n", "10", "-o", out, "-spacing", "500ms"}, "at least 1s"},
		{[]string{"-n", "10", "-o", out, "-bogus"}, "not defined"},
		{[]string{"-n", "10", "-o", out, "extra"}, "unexpected argument"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, stderr.String(), tc.want)
		}
	}
}

func TestRunHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
	if !strings.Contains(stderr.String(), "usage: chaingen") {
		t.Errorf("-h printed %q", stderr.String())
	}
}

func TestRunWriteFailure(t *testing.T) {
	var stdout, stderr bytes.Buffer
	path := filepath.Join(t.TempDir(), "missing", "chain.hdr")
	if code := run([]string{"-n", "3", "-o", path}, &stdout, &stderr); code != 1 {
		t.Errorf("exit %d, want 1; stderr %s", code, stderr.String())
	}
}
