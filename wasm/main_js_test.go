//go:build js && wasm

package main

import (
	"encoding/json"
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
	if !b.InstanceOf(js.Global().Get("Uint8Array")) || b.Length() != 8 {
		t.Errorf("watchnodeMessageBytes(0) = %s of length %d", describe(b), b.Length())
	}
	if got, want := global(t, jsExport).Invoke().String(), native.export(); got != want {
		t.Errorf("watchnodeExport differs from the native export")
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
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			res := open.Invoke(args...)
			var obj map[string]any
			if err := json.Unmarshal([]byte(res.String()), &obj); err != nil {
				t.Fatalf("result %q is not a JSON object: %v", res.String(), err)
			}
			if msg, _ := obj["error"].(string); msg == "" || len(obj) != 1 {
				t.Fatalf("result %s, want only a non-empty \"error\"", res.String())
			}
		})
	}
	if got := global(t, jsMessage).Invoke("one").String(); got == "" || got[0] != '{' {
		t.Errorf("watchnodeMessage(\"one\") = %s", got)
	}
	res := open.Invoke(jsInputs(testInput(t, protocol.Regtest)))
	if n := js.Global().Get("JSON").Call("parse", res).Get("messages").Int(); n != 2 {
		t.Errorf("after wrong calls: %d messages, want 2", n)
	}
}
