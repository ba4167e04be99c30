//go:build !(js && wasm)

package protocol

import "crypto/sha256"

// sha256Sum is SHA-256 of the concatenation of parts: crypto/sha256, with
// its assembly, outside WebAssembly (see sha256.go).
func sha256Sum(parts ...[]byte) [32]byte {
	if len(parts) == 1 {
		return sha256.Sum256(parts[0])
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return [32]byte(h.Sum(nil))
}
