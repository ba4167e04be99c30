//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"syscall/js"
)

// jsFuncName is the global the page calls; prefixed so it cannot collide with
// the page's own globals.
const jsFuncName = "watchnodeDecodeFrames"

// main registers the decoder and then blocks forever: a Go wasm program that
// returns from main is torn down, and every later call from JavaScript into a
// registered function would fail.
func main() {
	register()
	select {}
}

// register installs the JavaScript functions on the global object. It is
// separate from main so the js/wasm tests install exactly what the page gets.
// The js.Func is never released because the page may call it for as long as
// it is open.
func register() {
	js.Global().Set(jsFuncName, js.FuncOf(decodeFramesJS))
}

// decodeFramesJS is watchnodeDecodeFrames(u8 Uint8Array) string: it returns
// the JSON list of decodeFrames, or a JSON object {"error": "..."} when called
// wrongly. It returns a string rather than a JS object so the JSON shape is
// defined once, by the Go struct tags, and the page simply JSON.parses it.
func decodeFramesJS(_ js.Value, args []js.Value) (result any) {
	// A panic in a callback kills the whole Go program, after which every call
	// from the page fails; one bad input must cost only that call.
	defer func() {
		if r := recover(); r != nil {
			result = errorJSON(fmt.Sprintf("decoder panicked: %v", r))
		}
	}()
	if len(args) != 1 {
		return errorJSON(fmt.Sprintf("%s takes 1 argument (a Uint8Array), got %d", jsFuncName, len(args)))
	}
	u8 := args[0]
	// CopyBytesToGo panics on anything but a Uint8Array (or
	// Uint8ClampedArray), so check first and say what was expected.
	if !u8.InstanceOf(js.Global().Get("Uint8Array")) {
		return errorJSON(fmt.Sprintf("%s wants a Uint8Array, got %s", jsFuncName, describe(u8)))
	}
	data := make([]byte, u8.Length())
	js.CopyBytesToGo(data, u8)
	b, err := json.Marshal(decodeFrames(data))
	if err != nil {
		return errorJSON("encoding the result: " + err.Error())
	}
	return string(b)
}

// describe names a JS value's kind for error messages: its constructor for
// objects (e.g. "Array", "ArrayBuffer"), else its JS type.
func describe(v js.Value) string {
	if v.Type() == js.TypeObject {
		if c := v.Get("constructor"); c.Type() == js.TypeFunction {
			return c.Get("name").String()
		}
	}
	return v.Type().String()
}

// errorJSON returns {"error": msg} as JSON, the shape the page checks for
// before treating the result as a list.
func errorJSON(msg string) string {
	b, err := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	if err != nil {
		// Marshalling one string field cannot fail; this keeps the promise
		// of always returning JSON even so.
		return `{"error":"internal error"}`
	}
	return string(b)
}
