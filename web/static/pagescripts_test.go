package static

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// pageScripts are the scripts of one page each, which follow the feed
// app.js holds (its "watchnode:feed" events).
var pageScripts = []string{"sequence.js", "sync.js"}

// TestPageScriptsSyntax has Node parse each page script, as
// TestAppJSSyntax does app.js.
func TestPageScriptsSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is needed to check the page scripts and was not found")
		}
		t.Skip("node not found: page scripts' syntax not checked")
	}
	for _, name := range pageScripts {
		if out, err := exec.Command(node, "--check", name).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", name, err, out)
		}
	}
}

// TestPageScriptsNoMarkupSinks keeps the page scripts, which show what
// peers sent (summaries, addresses), away from the APIs that parse text as
// markup or code.
func TestPageScriptsNoMarkupSinks(t *testing.T) {
	for _, name := range pageScripts {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc", "createContextualFragment", "DOMParser"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s: build the DOM with createElement and textContent", name, bad)
			}
		}
		if !strings.Contains(src, `"use strict"`) {
			t.Errorf(`%s is not in strict mode ("use strict")`, name)
		}
	}
}

// TestSyncJSInNode runs sync.js in Node, outside a page: its cell titles
// and peer hues are the server's (web/views/sync.templ: cellTitle,
// peerHue, which keeps hues from 190 to 329, off the state colours).
func TestSyncJSInNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is needed to run sync.js and was not found")
		}
		t.Skip("node not found: sync.js not run")
	}
	script := `require("./sync.js"); const s = globalThis.watchnodeSync;
const hues = []; for (let id = 1; id <= 300; id++) hues.push(Number(s.peerHue(id)));
console.log(JSON.stringify({ title: s.cellTitle("7", "stored", 0, 0), min: Math.min(...hues), max: Math.max(...hues), h1: s.peerHue(1) }));`
	out, err := exec.Command(node, "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("running sync.js: %v\n%s", err, out)
	}
	got := strings.TrimSpace(string(out))
	if want := `{"title":"block 7: stored","min":190,"max":329,"h1":"243"}`; got != want {
		t.Errorf("sync.js in Node: %s, want %s", got, want)
	}
}
