package engine

import "strings"

// CaptureFolderName is the folder Bitcoin Core's layout uses for a peer's
// capture below the capture directory: the address with ":" as "_" (and,
// here, IPv6 brackets left out so the name is a plain path element).
func CaptureFolderName(addr string) string {
	return strings.NewReplacer(":", "_", "[", "", "]", "").Replace(addr)
}
