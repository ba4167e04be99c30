package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/watchnode/watchnode/internal/chaingen"
)

// runCLI runs the program in-process as prog with args and returns its
// exit status, standard output and standard error.
func runCLI(t *testing.T, prog string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := run(t.Context(), prog, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestParseArgs: flags are taken before, after and between positional
// arguments; a flag keeps its value even when the value looks like a file
// or like "--"; "--" ends the flags and "-" is a file.
func TestParseArgs(t *testing.T) {
	cases := []struct {
		args             []string
		files            []string
		format, command  string
		indent           bool
		wantErr          bool
		wantErrSubstring string
	}{
		{args: []string{"a.bin"}, files: []string{"a.bin"}, format: "auto"},
		{args: []string{"a.bin", "-format", "core"}, files: []string{"a.bin"}, format: "core"},
		{args: []string{"a.bin", "-format=core", "b.bin"}, files: []string{"a.bin", "b.bin"}, format: "core"},
		{args: []string{"-indent", "a.bin", "--format", "hex", "b.bin", "-indent=false"}, files: []string{"a.bin", "b.bin"}, format: "hex"},
		{args: []string{"a.bin", "-indent", "b.bin"}, files: []string{"a.bin", "b.bin"}, format: "auto", indent: true},
		{args: []string{"-", "-command", "tx"}, files: []string{"-"}, format: "auto", command: "tx"},
		{args: []string{"-command", "--", "a.bin"}, files: []string{"a.bin"}, format: "auto", command: "--"},
		{args: []string{"-format", "core", "--", "-indent", "--", "-x"}, files: []string{"-indent", "--", "-x"}, format: "core"},
		{args: []string{"a.bin", "-format"}, wantErr: true, wantErrSubstring: "flag needs an argument: -format"},
		{args: []string{"a.bin", "-nosuch", "b.bin"}, wantErr: true, wantErrSubstring: "flag provided but not defined: -nosuch"},
	}
	for _, tc := range cases {
		fs := flag.NewFlagSet("decode", flag.ContinueOnError)
		var errs strings.Builder
		fs.SetOutput(&errs)
		format := fs.String("format", "auto", "")
		command := fs.String("command", "", "")
		indent := fs.Bool("indent", false, "")
		files, err := parseArgs(fs, tc.args)
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), tc.wantErrSubstring) {
				t.Errorf("%q: error %v, want one saying %q", tc.args, err, tc.wantErrSubstring)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !slices.Equal(files, tc.files) || *format != tc.format || *command != tc.command || *indent != tc.indent {
			t.Errorf("%q: files %q format %q command %q indent %v; want %q %q %q %v",
				tc.args, files, *format, *command, *indent, tc.files, tc.format, tc.command, tc.indent)
		}
	}
}

// pingFrame is a regtest ping with nonce 7, as on the wire.
func pingFrame(t *testing.T) []byte {
	t.Helper()
	return regtestFrame(t, "ping", binary.LittleEndian.AppendUint64(nil, 7))
}

// TestFlagsAfterFiles: every subcommand takes its flags after its FILE
// arguments too, as a user types them.
func TestFlagsAfterFiles(t *testing.T) {
	root := t.TempDir()
	chainFile := filepath.Join(t.TempDir(), "chain.bin")
	if err := chaingen.WriteFile(chainFile, chaingen.Generate(20, chaingen.Options{Seed: 70})); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI(t, "server", "import-headers", chainFile, "-network=regtest", "-datadir", root); code != 0 || !strings.Contains(out, "imported 20 new headers") {
		t.Fatalf("import-headers FILE -network=regtest -datadir DIR: %d %q %q", code, out, errs)
	}
	exported := filepath.Join(t.TempDir(), "out.bin")
	if code, out, errs := runCLI(t, "server", "export-headers", exported, "-network=regtest", "-datadir="+root); code != 0 || !strings.Contains(out, "exported 21 headers") {
		t.Fatalf("export-headers FILE -network=regtest: %d %q %q", code, out, errs)
	}
	if code, out, errs := runCLI(t, "server", "export-headers", "-datadir="+root, exported+"2", "-network", "regtest"); code != 0 || !strings.Contains(out, "exported 21 headers") {
		t.Fatalf("export-headers -datadir DIR FILE -network regtest: %d %q %q", code, out, errs)
	}

	frames := filepath.Join(t.TempDir(), "ping.bin")
	if err := os.WriteFile(frames, pingFrame(t), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "server", "decode", frames, "-format", "frames", "-indent")
	if code != 0 {
		t.Fatalf("decode FILE -format frames -indent: %d %q", code, errs)
	}
	var res struct {
		Format   string `json:"format"`
		Messages int    `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Format != "frames" || res.Messages != 1 || !strings.Contains(out, "\n  ") {
		t.Fatalf("decode FILE -format frames -indent: %v %+v\n%s", err, res, out)
	}
	// A file named like a flag, after "--".
	dashed := filepath.Join(t.TempDir(), "-ping.bin")
	if err := os.WriteFile(dashed, pingFrame(t), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Dir(dashed))
	if code, out, errs := runCLI(t, "server", "decode", "-format=frames", "--", "-ping.bin"); code != 0 || !strings.Contains(out, `"messages":1`) {
		t.Fatalf("decode -format=frames -- -ping.bin: %d %q %q", code, out, errs)
	}
}

// TestUsageNamesTheProgram: every usage text names the program as it was
// started and the top one lists every subcommand; an unknown command says
// which there are.
func TestUsageNamesTheProgram(t *testing.T) {
	const prog = "watchnode-7"
	code, _, usage := runCLI(t, prog, "-help")
	if code != 0 {
		t.Fatalf("-help: exit %d", code)
	}
	for _, c := range subcommands() {
		if !strings.Contains(usage, "\n  "+prog+" "+c.name) {
			t.Errorf("-help does not list %q as %q:\n%s", c.name, prog+" "+c.name, usage)
		}
	}
	if !strings.Contains(usage, "-network") || strings.Contains(usage, "server import-headers") {
		t.Errorf("-help lacks the node's flags or names the program \"server\":\n%s", usage)
	}
	if code, out, _ := runCLI(t, prog, "help"); code != 0 || out != usage {
		t.Errorf("help: exit %d, and not the -help text on standard output:\n%s", code, out)
	}
	for _, c := range subcommands() {
		if c.name == "help" {
			continue
		}
		code, _, text := runCLI(t, prog, c.name, "-help")
		if code != 0 || !strings.HasPrefix(text, "Usage: "+prog+" "+c.name) {
			t.Errorf("%s -help: exit %d, text:\n%s", c.name, code, text)
		}
		if code, out, _ := runCLI(t, prog, "help", c.name); code != 0 || out != text {
			t.Errorf("help %s: exit %d, and not the %s -help text:\n%s", c.name, code, c.name, out)
		}
	}
	code, _, errs := runCLI(t, prog, "exprot-headers", "x.bin")
	if code != 2 || !strings.Contains(errs, prog+": unknown command \"exprot-headers\"") || !strings.Contains(errs, "export-headers") {
		t.Errorf("an unknown command: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI(t, prog, "decode"); code != 2 || !strings.HasPrefix(errs, prog+" decode: want at least one FILE") {
		t.Errorf("decode without a file: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI(t, prog, "-nosuchflag"); code != 2 || !strings.Contains(errs, prog+" runs the watchnode") {
		t.Errorf("a bad flag: exit %d, %q", code, errs)
	}
}

// TestProgName: the name is the one the program was started by, without
// its folder.
func TestProgName(t *testing.T) {
	for in, want := range map[string]string{"/usr/local/bin/watchnode": "watchnode", "./bin/server": "server", "server": "server", "": "server"} {
		if got := progName([]string{in, "-help"}); got != want {
			t.Errorf("progName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := progName(nil); got != "server" {
		t.Errorf("progName(nil) = %q", got)
	}
}

// TestPlural: counts read as English.
func TestPlural(t *testing.T) {
	for n, want := range map[int64]string{0: "0 headers", 1: "1 header", 2: "2 headers", 2001: "2001 headers"} {
		if got := plural(n, "header", "headers"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}
