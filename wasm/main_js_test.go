//go:build js && wasm

package main

import (
	"encoding/json"
	"strings"
	"sync"
	"syscall/js"
	"testing"

	"github.com/watchnode/watchnode/node/inspect"
	"github.com/watchnode/watchnode/node/protocol"
)

// registerOnce installs the page's functions once per test binary, on one
// session, as main does.
var registerOnce sync.Once

// global returns the registered global name, failing if register did not
// install a function there.
func global(t *testing.T, name string) js.Value {
	t.Helper()
	registerOnce.Do(func() { register(&session{}) })
	fn := js.Global().Get(name)
	if fn.Type() != js.TypeFunction {
		t.Fatalf("%s is a %s after register, want a function", name, fn.Type())
	}
	return fn
}

// jsInputs builds the page's argument: [{name, data: Uint8Array}].
func jsInputs(inputs ...inspect.Input) js.Value {
	arr := js.Global().Get("Array").New()
	for _, in := range inputs {
		u8 := js.Global().Get("Uint8Array").New(len(in.Data))
		js.CopyBytesToJS(u8, in.Data)
		obj := js.Global().Get("Object").New()
		obj.Set("name", in.Name)
		obj.Set("data", u8)
		arr.Call("push", obj)
	}
	return arr
}

// TestJSOpenMessageExport drives the four functions the way the page does and
// checks they give what the native session gives.
func TestJSOpenMessageExport(t *testing.T) {
	in := testInput(t, protocol.Testnet4)
	opts := js.Global().Get("Object").New()
	opts.Set("format", "auto")
	res := global(t, jsOpen).Invoke(jsInputs(in), opts)
	if res.Type() != js.TypeString {
		t.Fatalf("watchnodeOpen returned a %s, want a string", res.Type())
	}
	native := &session{}
	if want := native.open([]inspect.Input{in}, inspect.Options{}); res.String() != want {
		t.Fatalf("JS list differs from the native one:\n got %s\nwant %s", res.String(), want)
	}
	// The page parses with JSON.parse: check the keys as JavaScript sees them.
	parsed := js.Global().Get("JSON").Call("parse", res)
	if c := parsed.Get("entries").Index(1).Get("command").String(); c != "headers" {
		t.Errorf("entries[1].command = %q", c)
	}
	if got, want := global(t, jsMessage).Invoke(1).String(), native.message(1); got != want {
		t.Errorf("watchnodeMessage(1):\n got %s\nwant %s", got, want)
	}
	b := global(t, jsMessageBytes).Invoke(0)
	if !b.InstanceOf(js.Global().Get("Uint8Array")) || b.Length() != protocol.HeaderSize+8 {
		t.Errorf("watchnodeMessageBytes(0) = %s of length %d", describe(b), b.Length())
	}
	if got, want := global(t, jsExport).Invoke().String(), native.export(); got != want {
		t.Errorf("watchnodeExport differs from the native export")
	}
}

// TestJSOpenWithMeta passes what the page knows of a logged message along
// with its bytes, as the page does for a message opened from the node's
// log, and checks every entry carries it.
func TestJSOpenWithMeta(t *testing.T) {
	arr := jsInputs(testInput(t, protocol.Regtest))
	item := arr.Index(0)
	item.Set("time", "2026-03-01T12:34:56.789Z")
	item.Set("direction", "sent")
	item.Set("peer", "12")
	item.Set("connection", "[::1]:18444")
	res := js.Global().Get("JSON").Call("parse", global(t, jsOpen).Invoke(arr))
	if res.Get("error").Truthy() {
		t.Fatalf("watchnodeOpen: %s", res.Get("error").String())
	}
	e := res.Get("entries").Index(1)
	if e.Get("time").String() != "2026-03-01T12:34:56.789Z" || e.Get("direction").String() != "sent" ||
		e.Get("peer").String() != "12" || e.Get("connection").String() != "[::1]:18444" {
		t.Errorf("entry 1: %s", js.Global().Get("JSON").Call("stringify", e).String())
	}
	item.Set("direction", "in")
	if msg := js.Global().Get("JSON").Call("parse", global(t, jsOpen).Invoke(arr)).Get("error"); !msg.Truthy() {
		t.Error(`direction "in" was accepted`)
	}
}

// TestJSWrongArguments checks that every wrong call returns an {"error": ...}
// object instead of panicking, and that the functions still work afterwards
// (a panic would have killed the Go program).
func TestJSWrongArguments(t *testing.T) {
	open := global(t, jsOpen)
	bad := js.Global().Get("Object").New()
	bad.Set("data", "f9beb4d9")
	cases := map[string][]any{
		"string":         {"f9beb4d9"},
		"number":         {42},
		"null":           {js.Null()},
		"no argument":    {},
		"Uint8Array":     {js.Global().Get("Uint8Array").New(8)},
		"string data":    {js.Global().Get("Array").New(bad)},
		"number item":    {js.Global().Get("Array").New(1)},
		"unknown format": {jsInputs(), js.ValueOf(map[string]any{"format": "xml"})},
	}
	// What each wrong call is told, where the wording matters: the
	// article before the kind of value.
	says := map[string]string{
		"string data": "input 0's data is a string,",
		"number item": "input 0 is undefined,",
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			res := open.Invoke(args...)
			var obj map[string]any
			if err := json.Unmarshal([]byte(res.String()), &obj); err != nil {
				t.Fatalf("result %q is not a JSON object: %v", res.String(), err)
			}
			msg, _ := obj["error"].(string)
			if msg == "" || len(obj) != 1 {
				t.Fatalf("result %s, want only a non-empty \"error\"", res.String())
			}
			if want := says[name]; want != "" && !strings.Contains(msg, want) {
				t.Errorf("error %q does not say %q", msg, want)
			}
		})
	}
	buffer := js.Global().Get("Object").New()
	buffer.Set("data", js.Global().Get("ArrayBuffer").New(8))
	if msg := open.Invoke(js.Global().Get("Array").New(buffer)).String(); !strings.Contains(msg, "input 0's data is an ArrayBuffer,") {
		t.Errorf("an ArrayBuffer for the data: %s", msg)
	}
	if got := global(t, jsMessage).Invoke("one").String(); got == "" || got[0] != '{' {
		t.Errorf("watchnodeMessage(\"one\") = %s", got)
	}
	res := open.Invoke(jsInputs(testInput(t, protocol.Regtest)))
	if n := js.Global().Get("JSON").Call("parse", res).Get("messages").Int(); n != 2 {
		t.Errorf("after wrong calls: %d messages, want 2", n)
	}
}
