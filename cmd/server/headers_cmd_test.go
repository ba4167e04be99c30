package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// headersFile writes headers to a new file and returns its path.
func headersFile(t *testing.T, headers []wire.BlockHeader) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "headers.bin")
	if err := chaingen.WriteFile(path, headers); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHeaderCountsInEnglish: one header is "1 header", one byte "1 byte".
func TestHeaderCountsInEnglish(t *testing.T) {
	root := t.TempDir()
	one := headersFile(t, chaingen.Generate(1, chaingen.Options{Seed: 71}))
	if code, out, errs := runCLI(t, "server", "import-headers", "-network=regtest", "-datadir="+root, one); code != 0 || !strings.HasPrefix(out, "imported 1 new header (0 already known) in ") {
		t.Errorf("importing one header: %d %q %q", code, out, errs)
	}
	genesisOnly := t.TempDir()
	if code, _, errs := runCLI(t, "server", "import-headers", "-network=regtest", "-datadir="+genesisOnly, headersFile(t, nil)); code != 0 {
		t.Fatalf("importing an empty file: %d %q", code, errs)
	}
	out := filepath.Join(t.TempDir(), "out.bin")
	if code, stdout, errs := runCLI(t, "server", "export-headers", "-network=regtest", "-datadir="+genesisOnly, out); code != 0 || !strings.HasPrefix(stdout, "exported 1 header to ") {
		t.Errorf("exporting the genesis: %d %q %q", code, stdout, errs)
	}
	odd := filepath.Join(t.TempDir(), "odd.bin")
	os.WriteFile(odd, make([]byte, 1), 0o600)
	if code, _, errs := runCLI(t, "server", "import-headers", "-network=regtest", "-datadir="+root, odd); code != 1 || !strings.Contains(errs, "is 1 byte, not a whole number of 80-byte headers (1 byte left over at the end)") {
		t.Errorf("a 1-byte file: %d %q", code, errs)
	}
}

// TestImportNamesTheFilesNetwork: a file of another network's headers
// imported into the default mainnet says which network it is, whether it
// starts with that network's genesis (an export), right after it, or after
// a header of that network's chain in the same data folder; a file that
// matches nothing known gets no guess.
func TestImportNamesTheFilesNetwork(t *testing.T) {
	root := t.TempDir()
	headers := chaingen.Generate(30, chaingen.Options{Seed: 72})
	if code, _, errs := runCLI(t, "server", "import-headers", "-network=regtest", "-datadir="+root, headersFile(t, headers[:20])); code != 0 {
		t.Fatalf("import into regtest: %d %q", code, errs)
	}
	export := filepath.Join(t.TempDir(), "regtest.bin")
	if code, _, errs := runCLI(t, "server", "export-headers", "-network=regtest", "-datadir="+root, export); code != 0 {
		t.Fatalf("export: %d %q", code, errs)
	}
	fresh := t.TempDir()
	cases := []struct {
		what, datadir, file, want string
	}{
		{"an export (the regtest genesis first)", fresh, export, "the file starts with the regtest genesis: did you mean -network=regtest?"},
		{"a chaingen file (after the regtest genesis)", fresh, headersFile(t, headers), "its first header follows the regtest genesis: did you mean -network=regtest?"},
		{"headers after regtest's 20th", root, headersFile(t, headers[20:]),
			"its first header follows header 20 of the regtest chain in " + filepath.Join(root, "regtest") + ": did you mean -network=regtest?"},
	}
	for _, tc := range cases {
		code, _, errs := runCLI(t, "server", "import-headers", "-datadir="+tc.datadir, tc.file)
		if code != 1 || !strings.Contains(errs, "headers do not connect to any known header") || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, %q; want it to say %q", tc.what, code, errs, tc.want)
		}
	}
	// Headers 21.. into a data folder without the regtest chain: no guess.
	code, _, errs := runCLI(t, "server", "import-headers", "-datadir="+fresh, headersFile(t, headers[20:]))
	if code != 1 || !strings.Contains(errs, "headers do not connect") || strings.Contains(errs, "did you mean") {
		t.Errorf("an unknown parent: exit %d, %q", code, errs)
	}
	// Any network for any other: testnet4's genesis on regtest.
	t4 := filepath.Join(t.TempDir(), "testnet4.bin")
	os.WriteFile(t4, consensus.ParamsFor(protocol.Testnet4).Genesis.Serialize(nil), 0o600)
	if code, _, errs := runCLI(t, "server", "import-headers", "-network=regtest", "-datadir="+fresh, t4); code != 1 || !strings.Contains(errs, "the file starts with the testnet4 genesis: did you mean -network=testnet4?") {
		t.Errorf("a testnet4 file on regtest: exit %d, %q", code, errs)
	}
}

// TestExportRefusesToOverwrite: an existing FILE is left alone unless
// -force, which replaces it whole; an export that fails leaves neither FILE
// nor a temporary file.
func TestExportRefusesToOverwrite(t *testing.T) {
	root := t.TempDir()
	if code, _, errs := runCLI(t, "server", "import-headers", "-network=regtest", "-datadir="+root, headersFile(t, chaingen.Generate(10, chaingen.Options{Seed: 74}))); code != 0 {
		t.Fatalf("import: %d %q", code, errs)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out.bin")
	mine := []byte("something the user keeps")
	os.WriteFile(out, mine, 0o600)
	code, _, errs := runCLI(t, "server", "export-headers", "-network=regtest", "-datadir="+root, out)
	if code != 1 || !strings.Contains(errs, out+" exists; -force replaces it") {
		t.Errorf("export over an existing file: exit %d, %q", code, errs)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, mine) {
		t.Fatalf("the existing file was changed: %q", got)
	}
	if code, _, errs := runCLI(t, "server", "export-headers", "-network=regtest", "-datadir="+root, "-force", out); code != 0 {
		t.Fatalf("export -force: exit %d, %q", code, errs)
	}
	if got, _ := os.ReadFile(out); len(got) != 11*80 {
		t.Errorf("after export -force the file holds %d bytes, want 11 headers", len(got))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left beside the export: %v", entries)
	}
	// Into a folder that does not exist: nothing is made.
	missing := filepath.Join(dir, "no", "out.bin")
	if code, _, _ := runCLI(t, "server", "export-headers", "-network=regtest", "-datadir="+root, missing); code != 1 {
		t.Errorf("export into a missing folder: exit %d", code)
	}
	// A data folder without the chain: refused, and nothing created there.
	empty := t.TempDir()
	if code, _, errs := runCLI(t, "server", "export-headers", "-network=regtest", "-datadir="+empty, filepath.Join(dir, "none.bin")); code != 1 || !strings.Contains(errs, "no regtest chain in "+filepath.Join(empty, "regtest")) {
		t.Errorf("export of a missing chain: exit %d, %q", code, errs)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("export created %v in the data folder", entries)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("failed exports left files: %v", entries)
	}
}

// TestExportWhileTheStoreIsOpenForWriting: with the header store open for
// writing (and locked, as a running node holds it), export-headers reads
// it and writes exactly the headers written so far, while import-headers,
// which writes, is refused.
func TestExportWhileTheStoreIsOpenForWriting(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "regtest")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	c, store, err := chain.Open(dir, consensus.ParamsFor(protocol.Regtest), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	headers := chaingen.Generate(3000, chaingen.Options{Seed: 75})
	accept := func(hs []wire.BlockHeader) {
		batch := make([]consensus.Header, len(hs))
		for i := range hs {
			batch[i] = consensus.FromWire(&hs[i])
		}
		res, err := c.Accept(batch, nil, time.Now().Unix())
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range res.Writes {
			store.Write(w)
		}
		if err := store.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	written := 0
	for _, n := range []int{1000, 3000} {
		accept(headers[written:n])
		written = n
		out := filepath.Join(t.TempDir(), "out.bin")
		code, stdout, errs := runCLI(t, "server", "export-headers", "-network=regtest", "-datadir="+root, out)
		if code != 0 {
			t.Fatalf("export while the store is open for writing: exit %d, %q", code, errs)
		}
		got, err := chaingen.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n+1 || got[0].BlockHash() != consensus.ParamsFor(protocol.Regtest).GenesisHash {
			t.Fatalf("exported %d headers (%q), want the genesis and %d", len(got), stdout, n)
		}
		for i := range n {
			if got[i+1].BlockHash() != headers[i].BlockHash() {
				t.Fatalf("exported header %d differs from the one written", i+1)
			}
		}
	}
	code, _, errs := runCLI(t, "server", "import-headers", "-network=regtest", "-datadir="+root, headersFile(t, headers[:10]))
	if code != 1 || !strings.Contains(errs, "in use by another process") {
		t.Errorf("import while the store is open for writing: exit %d, %q", code, errs)
	}
}
