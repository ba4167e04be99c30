//go:build js && wasm

package protocol

// sha256Sum is SHA-256 of the concatenation of parts: the unrolled code in
// WebAssembly (see sha256.go).
func sha256Sum(parts ...[]byte) [32]byte { return sha256Unrolled(parts...) }
