package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// unknownBuildInfo stands for what a binary does not record: the Go tool
// records no revision when built with -buildvcs=false, outside a
// repository, or in a git worktree (golang.org/issue/58218).
const unknownBuildInfo = "unknown"

// runVersionCommand runs "version" (and -version): what was built, from
// which commit, with which Go, as "bitcoind -version" names its release.
func runVersionCommand(prog string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog+" version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s version\n\n"+
			"Prints the program's module version, the revision and commit time it was built from\n"+
			"(\"+dirty\" when the working tree had changes) and the Go version.\n", prog)
	}
	rest, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "%s version: unexpected argument %q\n", prog, rest[0])
		return 2
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(prog, info))
	return 0
}

// versionText describes the build in info (nil: the binary carries none):
//
//	server version v0.0.0-20250601120000-0123456789ab+dirty
//	module github.com/watchnode/watchnode
//	revision 0123456789abcdef0123456789abcdef01234567+dirty
//	revision time 2025-06-01T12:00:00Z
//	go go1.26.0 linux/amd64
func versionText(prog string, info *debug.BuildInfo) string {
	version, module, goVersion := unknownBuildInfo, unknownBuildInfo, runtime.Version()
	settings := map[string]string{}
	if info != nil {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		if info.Main.Path != "" {
			module = info.Main.Path
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
	}
	revision, revTime := unknownBuildInfo, unknownBuildInfo
	if r := settings["vcs.revision"]; r != "" {
		revision = r
		if settings["vcs.modified"] == "true" {
			revision += "+dirty"
		}
	}
	if t := settings["vcs.time"]; t != "" {
		revTime = t
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s version %s\n", prog, version)
	fmt.Fprintf(&b, "module %s\n", module)
	fmt.Fprintf(&b, "revision %s\n", revision)
	fmt.Fprintf(&b, "revision time %s\n", revTime)
	fmt.Fprintf(&b, "go %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
