package static

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSequenceJSSyntax has Node parse sequence.js, as TestAppJSSyntax does
// app.js.
func TestSequenceJSSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is needed to check sequence.js and was not found")
		}
		t.Skip("node not found: sequence.js syntax not checked")
	}
	if out, err := exec.Command(node, "--check", "sequence.js").CombinedOutput(); err != nil {
		t.Fatalf("node --check sequence.js: %v\n%s", err, out)
	}
}

// TestSequenceJSNoMarkupSinks keeps sequence.js, which shows peers'
// summaries, away from the APIs that parse text as markup or code.
func TestSequenceJSNoMarkupSinks(t *testing.T) {
	b, err := os.ReadFile("sequence.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc", "createContextualFragment", "DOMParser"} {
		if strings.Contains(src, bad) {
			t.Errorf("sequence.js uses %s: build the DOM with createElement and textContent", bad)
		}
	}
	if !strings.Contains(src, `"use strict"`) {
		t.Error(`sequence.js is not in strict mode ("use strict")`)
	}
}
