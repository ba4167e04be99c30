package mainnetdata

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/watchnode/watchnode/node/protocol"
)

// btcdModule is the btcd module whose test data holds the first 14,132
// mainnet blocks; go.mod requires the same version.
const btcdModule = "github.com/btcsuite/btcd@v0.26.2"

// BtcdBlockFileName is the path, inside btcd's module, of its Core-format
// block file of mainnet blocks 0 to 14,131.
const BtcdBlockFileName = "blockchain/testdata/blk_0_to_14131.dat"

// BtcdPath returns the path of name inside btcd's module, downloading the
// module into the module cache if it is not there yet. Without the module
// (no module proxy and nothing cached) tb skips, or fails under CI=true.
func BtcdPath(tb testing.TB, name string) string {
	tb.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", btcdModule).Output()
	var mod struct{ Dir, Error string }
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err != nil || mod.Dir == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("btcd's module %s is not available (CI=true: not skipping): %v %s", btcdModule, err, mod.Error)
		}
		tb.Skipf("btcd's module %s is not available; skipping: %v %s", btcdModule, err, mod.Error)
	}
	return filepath.Join(mod.Dir, name)
}

// BtcdBlocks returns the serialized blocks of btcd's mainnet block file, in
// file order (heights 0 to 14,131). The file is Core's framing (magic, size,
// block) followed by zero padding up to its preallocated 16 MiB; this
// reader trusts the file, which the module's checksum vouches for.
func BtcdBlocks(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(BtcdPath(tb, BtcdBlockFileName))
	if err != nil {
		tb.Fatal(err)
	}
	magic := uint32(protocol.Mainnet.Magic())
	var blocks [][]byte
	for len(data) >= 8 && binary.LittleEndian.Uint32(data) == magic {
		size := int(binary.LittleEndian.Uint32(data[4:]))
		if 8+size > len(data) {
			tb.Fatalf("btcd's block file: record %d is truncated", len(blocks))
		}
		blocks = append(blocks, data[8:8+size])
		data = data[8+size:]
	}
	for _, b := range data {
		if b != 0 {
			tb.Fatalf("btcd's block file: %d bytes after block %d are not padding", len(data), len(blocks)-1)
		}
	}
	return blocks
}
