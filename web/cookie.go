package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// CookieFile is the name of the token file in the data folder, after
// bitcoind's .cookie convention.
const CookieFile = ".cookie"

// WriteCookie writes a fresh random token to path with mode 0600 and returns
// it. Whoever can read the file may call the API's mutating endpoints.
func WriteCookie(path string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating API token: %w", err)
	}
	token := hex.EncodeToString(b[:])
	// Remove first so an existing file with looser permissions is not reused.
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("removing old cookie %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating cookie %s: %w", path, err)
	}
	if _, err := f.WriteString(token); err != nil {
		f.Close()
		return "", fmt.Errorf("writing cookie %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("closing cookie %s: %w", path, err)
	}
	return token, nil
}
