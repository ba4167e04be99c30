package chain

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenStore: whatever bytes the header store holds (a crash, a bad
// disk, a hand edit), Open never panics and keeps only a prefix of intact
// records that starts at genesis, or refuses the store.
func FuzzOpenStore(f *testing.F) {
	params := regtest()
	good := appendRecord(nil, &params.Genesis, 0)
	for i, h := range gen(3, 1) {
		good = appendRecord(good, &h, int32(i+1))
	}
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add(append(append([]byte(nil), good...), 1, 2, 3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, StoreFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, s, err := Open(dir, params, nil)
		if err != nil {
			return // e.g. a store of another network: refused, not used
		}
		defer s.Close()
		if c.HashAt(0) != params.GenesisHash {
			t.Fatalf("chain does not start at genesis")
		}
		if int(c.Height()+1)*recordSize > max(len(data), recordSize) {
			t.Fatalf("height %d from %d bytes", c.Height(), len(data))
		}
	})
}
