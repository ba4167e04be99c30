// Command wasm is the browser side of watchnode's message decoder: built with
// GOOS=js GOARCH=wasm, it registers JavaScript functions that decode raw
// Bitcoin P2P bytes the user pastes or drops into the page.
//
// It holds no protocol logic of its own. The pure decoding code lives in
// node/protocol (framing, checksums, the wire codec) and, later, node/inspect
// (field-by-field breakdowns); this package only moves bytes in from
// JavaScript and JSON out, so the browser and the node decode with exactly
// the same code. Everything runs locally in the page: nothing is uploaded.
//
// Built natively, the program only explains that it must be built for
// js/wasm; that build exists so `go build ./...` and `go vet ./...` cover the
// package on every platform.
package main
