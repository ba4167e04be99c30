//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// main exists so the package builds natively: `go build ./...` and
// `go vet ./...` then cover the decoding code on every platform. Run natively
// it can do nothing useful, so it says how to build it and exits 2, the usage
// error status the server uses too.
func main() {
	fmt.Fprintln(os.Stderr, "this program is the browser decoder: build it with GOOS=js GOARCH=wasm (make wasm)")
	os.Exit(2)
}
