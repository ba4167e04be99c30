package protocol

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// mainnetData reads a file from the shared real-mainnet test data (see its
// README). Tests skip when it is absent, except under CI=true, where they
// must run.
func mainnetData(tb testing.TB, name string) []byte {
	tb.Helper()
	path := filepath.Join("..", "..", "..", "shared", "testdata", "mainnet", name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("mainnet test data %s is missing (CI=true: not skipping)", path)
		}
		tb.Skipf("mainnet test data %s is absent; skipping", path)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestMainnetBlock830000 frames and decodes a real 1.7 MB segwit block and
// checks its hash and transactions survive the round trip.
func TestMainnetBlock830000(t *testing.T) {
	raw := mainnetData(t, "blocks/830000.bin")
	frame, err := AppendFrame(nil, Mainnet.Magic(), wire.CmdBlock, raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFrame(bytes.NewReader(frame), Mainnet.Magic())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := Decode(f.Command, f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	block := msg.(*wire.MsgBlock)
	if got := block.BlockHash().String(); got != "000000000000000000011d55599ed27d7efca05f5849b755319c89eb2cffbc1f" {
		t.Errorf("block hash %s", got)
	}
	if len(block.Transactions) < 1000 || !block.Transactions[1].HasWitness() {
		t.Errorf("%d transactions; segwit data lost?", len(block.Transactions))
	}
	again, err := Encode(block)
	if err != nil || string(again) != string(raw) {
		t.Errorf("re-encoding the block does not give the original bytes (err %v)", err)
	}
}

// BenchmarkDecodeMainnetBlock measures framing plus decoding of a real
// 1.7 MB block, the biggest message a peer normally sends.
func BenchmarkDecodeMainnetBlock(b *testing.B) {
	raw := mainnetData(b, "blocks/830000.bin")
	frame, err := AppendFrame(nil, Mainnet.Magic(), wire.CmdBlock, raw)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := ReadFrame(bytes.NewReader(frame), Mainnet.Magic())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(f.Command, f.Payload); err != nil {
			b.Fatal(err)
		}
	}
}
