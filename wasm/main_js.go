//go:build js && wasm

package main

import (
	"fmt"
	"syscall/js"

	"github.com/watchnode/watchnode/node/inspect"
)

// Names of the globals the page calls; prefixed so they cannot collide with
// the page's own globals.
const (
	jsOpen         = "watchnodeOpen"
	jsMessage      = "watchnodeMessage"
	jsMessageBytes = "watchnodeMessageBytes"
	jsExport       = "watchnodeExport"
)

// main registers the decoder and then blocks forever: a Go wasm program that
// returns from main is torn down, and every later call from JavaScript into a
// registered function would fail.
func main() {
	warmUp()
	register(&session{})
	select {}
}

// register installs the JavaScript functions on the global object. It is
// separate from main so the js/wasm tests install exactly what the page gets.
// The js.Funcs are never released because the page may call them for as long
// as it is open.
func register(s *session) {
	g := js.Global()
	g.Set(jsOpen, js.FuncOf(guard(func(args []js.Value) any { return openJS(s, args) })))
	g.Set(jsMessage, js.FuncOf(guard(func(args []js.Value) any {
		i, err := indexArg(jsMessage, args)
		if err != nil {
			return errorJSON(err.Error())
		}
		return s.message(i)
	})))
	g.Set(jsMessageBytes, js.FuncOf(guard(func(args []js.Value) any {
		i, err := indexArg(jsMessageBytes, args)
		if err != nil {
			return js.Null()
		}
		b := s.raw(i)
		u8 := js.Global().Get("Uint8Array").New(len(b))
		js.CopyBytesToJS(u8, b)
		return u8
	})))
	g.Set(jsExport, js.FuncOf(guard(func([]js.Value) any { return s.export() })))
}

// guard turns a panic in a callback into an error result: a panic would kill
// the whole Go program, after which every call from the page fails; one bad
// input must cost only that call.
func guard(fn func(args []js.Value) any) func(js.Value, []js.Value) any {
	return func(_ js.Value, args []js.Value) (result any) {
		defer func() {
			if r := recover(); r != nil {
				result = errorJSON(fmt.Sprintf("decoder panicked: %v", r))
			}
		}()
		return fn(args)
	}
}

// openJS is watchnodeOpen(inputs, options): inputs is an Array of
// {name: string, data: Uint8Array} with, optionally, what the page knows
// of the input's messages (time, direction, peer, connection: see
// parseMeta); options is {format, command, keylog}, optional (keylog: the
// text of a BIP324 key log; one among the inputs is found by its content).
func openJS(s *session, args []js.Value) any {
	if len(args) < 1 || len(args) > 2 {
		return errorJSON(fmt.Sprintf("%s takes (inputs, options), got %d arguments", jsOpen, len(args)))
	}
	list := args[0]
	if !list.InstanceOf(js.Global().Get("Array")) {
		return errorJSON(fmt.Sprintf("%s wants an Array of {name, data: Uint8Array}, got %s", jsOpen, describe(list)))
	}
	u8Type := js.Global().Get("Uint8Array")
	inputs := make([]inspect.Input, list.Length())
	for i := range inputs {
		item := list.Index(i)
		if item.Type() != js.TypeObject {
			return errorJSON(fmt.Sprintf("input %d is %s, want {name, data: Uint8Array}", i, describeAsNoun(item)))
		}
		data := item.Get("data")
		// CopyBytesToGo panics on anything but a Uint8Array, so check first
		// and say what was expected.
		if !data.InstanceOf(u8Type) {
			return errorJSON(fmt.Sprintf("input %d's data is %s, want a Uint8Array", i, describeAsNoun(data)))
		}
		inputs[i].Data = make([]byte, data.Length())
		js.CopyBytesToGo(inputs[i].Data, data)
		if name := item.Get("name"); name.Type() == js.TypeString {
			inputs[i].Name = name.String()
		}
		meta, err := parseMeta(stringField(item, "time"), stringField(item, "direction"), stringField(item, "peer"), stringField(item, "connection"))
		if err != nil {
			return errorJSON(fmt.Sprintf("input %d: %v", i, err))
		}
		inputs[i].Meta = meta
	}
	var opt inspect.Options
	if len(args) == 2 && args[1].Type() == js.TypeObject {
		var err error
		if opt, err = parseOptions(stringField(args[1], "format"), stringField(args[1], "command"), stringField(args[1], "keylog")); err != nil {
			return errorJSON(err.Error())
		}
	}
	return s.open(inputs, opt)
}

// indexArg reads a single entry index argument.
func indexArg(name string, args []js.Value) (int, error) {
	if len(args) != 1 || args[0].Type() != js.TypeNumber {
		return 0, fmt.Errorf("%s takes one entry index (a number)", name)
	}
	return args[0].Int(), nil
}

// stringField returns obj[key] if it is a string, else "".
func stringField(obj js.Value, key string) string {
	if v := obj.Get(key); v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}

// describeAsNoun is describe with its article ("an Array", "a string"),
// or "undefined" or "null" alone, for sentences "... is X".
func describeAsNoun(v js.Value) string {
	if v.IsUndefined() || v.IsNull() {
		return v.Type().String()
	}
	return inspect.WithArticle(describe(v))
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
