package main

import (
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionText: the module version, the revision with "+dirty" when the
// tree was modified, the commit time and the Go version, each on its line;
// what the build did not record says "unknown".
func TestVersionText(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/watchnode/watchnode", Version: "v0.3.1-0.20250601120000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2025-06-01T12:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	want := "mynode version v0.3.1-0.20250601120000-0123456789ab+dirty\n" +
		"module github.com/watchnode/watchnode\n" +
		"revision 0123456789abcdef0123456789abcdef01234567+dirty\n" +
		"revision time 2025-06-01T12:00:00Z\n" +
		"go go1.26.0 " + platform + "\n"
	if got := versionText("mynode", info); got != want {
		t.Errorf("modified tree:\n%s\nwant:\n%s", got, want)
	}
	info.Settings[3].Value = "false"
	if got := versionText("mynode", info); !strings.Contains(got, "\nrevision 0123456789abcdef0123456789abcdef01234567\n") {
		t.Errorf("clean tree:\n%s", got)
	}
	bare := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/watchnode/watchnode", Version: "(devel)"}}
	want = "mynode version (devel)\nmodule github.com/watchnode/watchnode\nrevision unknown\nrevision time unknown\ngo go1.26.0 " + platform + "\n"
	if got := versionText("mynode", bare); got != want {
		t.Errorf("no VCS information:\n%s\nwant:\n%s", got, want)
	}
	if got := versionText("mynode", nil); !strings.HasPrefix(got, "mynode version unknown\n") || !strings.Contains(got, "go "+runtime.Version()+" ") {
		t.Errorf("no build information:\n%s", got)
	}
}

// TestVersionCommand: "version" and "-version" print the same, and the
// built binary's answer agrees with what the Go tool reads from it.
func TestVersionCommand(t *testing.T) {
	code, byCommand, errs := runCLI(t, "mynode", "version")
	if code != 0 || !strings.HasPrefix(byCommand, "mynode version ") || !strings.Contains(byCommand, "\ngo "+runtime.Version()+" ") {
		t.Fatalf("version: exit %d %q %q", code, byCommand, errs)
	}
	if code, byFlag, _ := runCLI(t, "mynode", "-version"); code != 0 || byFlag != byCommand {
		t.Errorf("-version: exit %d, %q; version said %q", code, byFlag, byCommand)
	}
	if code, byFlag, _ := runCLI(t, "mynode", "--version", "-network=regtest"); code != 0 || byFlag != byCommand {
		t.Errorf("--version with another flag: exit %d, %q", code, byFlag)
	}
	if code, _, errs := runCLI(t, "mynode", "version", "extra"); code != 2 || !strings.Contains(errs, "unexpected argument \"extra\"") {
		t.Errorf("version extra: exit %d, %q", code, errs)
	}

	out, err := exec.Command(serverBin, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", serverBin, err)
	}
	meta, err := exec.Command("go", "version", "-m", serverBin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	settings := map[string]string{}
	mainVersion := ""
	for _, line := range strings.Split(string(meta), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "build":
			k, v, _ := strings.Cut(f[1], "=")
			settings[k] = v
		case len(f) >= 3 && f[0] == "mod":
			mainVersion = f[2]
		}
	}
	wantRevision := "unknown"
	if r := settings["vcs.revision"]; r != "" {
		wantRevision = r
		if settings["vcs.modified"] == "true" {
			wantRevision += "+dirty"
		}
	}
	text := string(out)
	if !strings.HasPrefix(text, "server version "+mainVersion+"\n") || !strings.Contains(text, "\nrevision "+wantRevision+"\n") {
		t.Errorf("the binary says:\n%s\nthe Go tool reads version %s, revision %s from it:\n%s", text, mainVersion, wantRevision, meta)
	}
	t.Logf("%s", text)
}
