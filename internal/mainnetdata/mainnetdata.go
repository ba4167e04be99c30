// Package mainnetdata reads the shared real-mainnet test data (blocks and
// headers, see its README) for tests and benchmarks, and builds the
// captures of real traffic the decoder is measured on. When the data is
// absent, callers skip, except under CI=true, where they fail.
package mainnetdata

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// Path returns the path of name in the shared data, which sits beside the
// repository.
func Path(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "testdata", "mainnet", name)
}

// Read returns the file name of the shared data, skipping tb when the data
// is absent unless CI is "true".
func Read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(Path(name))
	if errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("mainnet test data %s is missing (CI=true: not skipping)", Path(name))
		}
		tb.Skipf("mainnet test data %s is absent; skipping", Path(name))
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BlocksAndTxs frames the real block 830,000 and then each of its 1,851
// transactions as a tx message, copies times over, on mainnet: a capture
// of blocks and transactions (about 3.5 MB per copy).
func BlocksAndTxs(tb testing.TB, copies int) []byte {
	tb.Helper()
	raw := Read(tb, "blocks/830000.bin")
	var block wire.MsgBlock
	if err := block.Deserialize(bytes.NewReader(raw)); err != nil {
		tb.Fatal(err)
	}
	var out []byte
	var err error
	for range copies {
		if out, err = protocol.AppendFrame(out, protocol.Mainnet.Magic(), wire.CmdBlock, raw); err != nil {
			tb.Fatal(err)
		}
		for _, tx := range block.Transactions {
			var b bytes.Buffer
			if err := tx.Serialize(&b); err != nil {
				tb.Fatal(err)
			}
			if out, err = protocol.AppendFrame(out, protocol.Mainnet.Magic(), wire.CmdTx, b.Bytes()); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return out
}
