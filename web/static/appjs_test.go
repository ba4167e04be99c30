package static

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAppJSSyntax has Node parse app.js: the script has no build step, so
// this is its compile check. Node is on the project's machines; a
// developer without it skips, CI fails.
func TestAppJSSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is needed to check app.js and was not found")
		}
		t.Skip("node not found: app.js syntax not checked")
	}
	if out, err := exec.Command(node, "--check", "app.js").CombinedOutput(); err != nil {
		t.Fatalf("node --check app.js: %v\n%s", err, out)
	}
}

// TestAppJSNoMarkupSinks keeps app.js away from the APIs that parse text as
// markup or code: everything it shows comes from the feed, which carries
// text from remote peers (user agents, reasons, summaries).
func TestAppJSNoMarkupSinks(t *testing.T) {
	b, err := os.ReadFile("app.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc", "createContextualFragment", "DOMParser"} {
		if strings.Contains(src, bad) {
			t.Errorf("app.js uses %s: build the DOM with createElement and textContent", bad)
		}
	}
	if !strings.Contains(src, `"use strict"`) {
		t.Error(`app.js is not in strict mode ("use strict")`)
	}
}

// TestVendoredUPlotPinned checks that the vendored uPlot is the version
// that vendor/README.md names, and that its license came with it.
func TestVendoredUPlotPinned(t *testing.T) {
	const version = "1.6.32"
	js, err := os.ReadFile("vendor/uPlot.iife.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(js), "/*! https://github.com/leeoniya/uPlot (v"+version+") */") {
		t.Errorf("vendor/uPlot.iife.min.js is not uPlot v%s: %.60q", version, js)
	}
	readme, err := os.ReadFile("vendor/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "uplot@"+version) {
		t.Errorf("vendor/README.md does not name uplot@%s", version)
	}
	for _, f := range []string{"vendor/uPlot.min.css", "vendor/LICENSE"} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("%s is missing or empty", f)
		}
	}
}
