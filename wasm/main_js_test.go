//go:build js && wasm

package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"syscall/js"
	"testing"

	"github.com/watchnode/watchnode/node/protocol"
)

// registerOnce installs the page's functions once per test binary: register
// allocates a js.Func on every call and main calls it only once.
var registerOnce sync.Once

// decodeFunc returns the registered global, failing if register did not
// install it where the page looks.
func decodeFunc(t *testing.T) js.Value {
	t.Helper()
	registerOnce.Do(register)
	fn := js.Global().Get(jsFuncName)
	if fn.Type() != js.TypeFunction {
		t.Fatalf("%s is a %s after register, want a function", jsFuncName, fn.Type())
	}
	return fn
}

// toUint8Array copies b into a new JS Uint8Array, as the page hands over a
// file or pasted hex.
func toUint8Array(b []byte) js.Value {
	u8 := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u8, b)
	return u8
}

// TestJSDecodeFrames calls the function through JavaScript and checks the
// JSON it returns is the same list decodeFrames gives natively.
func TestJSDecodeFrames(t *testing.T) {
	fn := decodeFunc(t)
	data, want := testFrames(t, protocol.Mainnet)
	res := fn.Invoke(toUint8Array(data))
	if res.Type() != js.TypeString {
		t.Fatalf("result is a %s, want a string", res.Type())
	}
	var got []FrameSummary
	if err := json.Unmarshal([]byte(res.String()), &got); err != nil {
		t.Fatalf("result %q is not a JSON list of summaries: %v", res.String(), err)
	}
	if got = withoutTrees(t, got); !reflect.DeepEqual(got, want) {
		t.Fatalf("JS result:\n got %+v\nwant %+v", got, want)
	}

	// The page parses with JSON.parse, so check the keys as JavaScript sees them.
	parsed := js.Global().Get("JSON").Call("parse", res)
	if n := parsed.Length(); n != len(want) {
		t.Fatalf("JSON.parse gives %d entries, want %d", n, len(want))
	}
	first := parsed.Index(0)
	if c := first.Get("command").String(); c != "version" {
		t.Errorf("entry 0 command = %q, want version", c)
	}
	if mt := first.Get("message_type").String(); mt != "*wire.MsgVersion" {
		t.Errorf("entry 0 message_type = %q", mt)
	}
	if k := parsed.Index(3).Get("known"); k.Type() != js.TypeBoolean || k.Bool() {
		t.Errorf("entry 3 known = %v, want false", k)
	}

	if s := fn.Invoke(toUint8Array(nil)).String(); s != "[]" {
		t.Errorf("empty Uint8Array gives %s, want []", s)
	}
	var bad []FrameSummary
	if err := json.Unmarshal([]byte(fn.Invoke(toUint8Array(data[:30])).String()), &bad); err != nil ||
		len(bad) != 1 || bad[0].Offset != 0 || !strings.Contains(bad[0].Error, "unexpected EOF") {
		t.Errorf("truncated input gives %+v (err %v), want the version frame cut short", bad, err)
	}
}

// TestJSDecodeFramesWrongArgument checks that every wrong call returns an
// {"error": ...} object instead of panicking, and that the function still
// works afterwards (a panic would have killed the Go program).
func TestJSDecodeFramesWrongArgument(t *testing.T) {
	fn := decodeFunc(t)
	cases := map[string][]any{
		"string":      {"f9beb4d9"},
		"number":      {42},
		"null":        {js.Null()},
		"undefined":   {js.Undefined()},
		"array":       {js.Global().Get("Array").New(1, 2, 3)},
		"ArrayBuffer": {js.Global().Get("ArrayBuffer").New(8)},
		"no argument": {},
		"two":         {toUint8Array([]byte{1}), toUint8Array([]byte{2})},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			res := fn.Invoke(args...)
			if res.Type() != js.TypeString {
				t.Fatalf("result is a %s, want a string", res.Type())
			}
			var obj map[string]any
			if err := json.Unmarshal([]byte(res.String()), &obj); err != nil {
				t.Fatalf("result %q is not a JSON object: %v", res.String(), err)
			}
			msg, _ := obj["error"].(string)
			if msg == "" || len(obj) != 1 {
				t.Fatalf("result %s, want only a non-empty \"error\"", res.String())
			}
			t.Logf("%s", msg)
		})
	}
	data, want := testFrames(t, protocol.Regtest)
	var got []FrameSummary
	err := json.Unmarshal([]byte(fn.Invoke(toUint8Array(data)).String()), &got)
	if got = withoutTrees(t, got); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after wrong calls: got %+v (err %v), want %+v", got, err, want)
	}
}
