package static

import (
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDecoderJSSyntax has Node parse decoder.js, the /decoder page's
// script, which like app.js has no build step. A developer without Node
// skips, CI fails.
func TestDecoderJSSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is needed to check decoder.js and was not found")
		}
		t.Skip("node not found: decoder.js syntax not checked")
	}
	if out, err := exec.Command(node, "--check", "decoder.js").CombinedOutput(); err != nil {
		t.Fatalf("node --check decoder.js: %v\n%s", err, out)
	}
}

// TestDecoderJSNoMarkupSinks keeps decoder.js away from the APIs that parse
// text as markup or code: it shows what the decoder makes of files, pastes
// and captures of remote peers, all of it hostile text.
func TestDecoderJSNoMarkupSinks(t *testing.T) {
	b, err := os.ReadFile("decoder.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc", "createContextualFragment", "DOMParser", "setTimeout(\"", "setTimeout('", "setTimeout(`"} {
		if strings.Contains(src, bad) {
			t.Errorf("decoder.js uses %s: build the DOM with createElement and textContent", bad)
		}
	}
	if !strings.Contains(src, `"use strict"`) {
		t.Error(`decoder.js is not in strict mode ("use strict")`)
	}
}

// TestDecoderAssetsEmbedded checks that the page's script and stylesheet
// are in the embedded FS, which the server serves under /static/.
func TestDecoderAssetsEmbedded(t *testing.T) {
	for _, name := range []string{"decoder.js", "decoder.css"} {
		b, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Errorf("%s is not embedded: %v", name, err)
		} else if len(b) == 0 {
			t.Errorf("%s is embedded empty", name)
		}
	}
}
