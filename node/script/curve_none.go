//go:build !(cgo && libsecp256k1)

package script

// newFastCurve returns nil: this build does not link libsecp256k1 (it
// was built without the libsecp256k1 tag, or without cgo, as for
// js/wasm), so txscript verifies every signature with btcec.
func newFastCurve() curve { return nil }
