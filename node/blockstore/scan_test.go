package blockstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/mainnetdata"
)

func recordT(magic wire.BitcoinNet, raw []byte) []byte {
	b := magicBytes(magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(raw)))
	return append(b, raw...)
}

func TestScanBlockFileErrors(t *testing.T) {
	m := wire.MainNet
	good := recordT(m, []byte("abc"))
	big := binary.LittleEndian.AppendUint32(magicBytes(m), wire.MaxBlockPayload+1)
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"wrong magic", "wrong magic at offset 11: found 0b110907", append(append([]byte{}, good...), recordT(wire.TestNet3, []byte("x"))...)},
		{"size zero", "size 0", recordT(m, nil)},
		{"too big", "size 4000001", big},
		{"truncated header", "record header at offset 0 is truncated", good[:5]},
		{"truncated block", "truncated: 2 of 3", good[:10]},
	}
	for _, c := range cases {
		err := ScanBlockFile(bytes.NewReader(c.data), m, func(int64, []byte) error { return nil })
		if !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an ErrBadRecord containing %q", c.name, err, c.want)
		}
	}
	stop := errors.New("stop")
	if err := ScanBlockFile(bytes.NewReader(good), m, func(int64, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("fn's error: got %v", err)
	}
}

func TestScanBlockFilePadding(t *testing.T) {
	m := wire.MainNet
	var data []byte
	data = append(data, 0, 0, 0)
	data = append(data, recordT(m, []byte("one"))...)
	data = append(data, make([]byte, 5)...)
	data = append(data, recordT(m, []byte("two"))...)
	data = append(data, make([]byte, 100)...)
	var got []string
	var offs []int64
	err := ScanBlockFile(bytes.NewReader(data), m, func(off int64, raw []byte) error {
		got = append(got, string(raw))
		offs = append(offs, off)
		return nil
	})
	if err != nil || strings.Join(got, ",") != "one,two" || offs[0] != 11 || offs[1] != 11+3+5+8 {
		t.Fatalf("got %v %v %v", got, offs, err)
	}
}

// TestScanBtcdBlockFile reads btcd's real Core-format file of mainnet
// blocks 0 to 14,131 (zero-padded to 16 MiB, as Core leaves its files).
func TestScanBtcdBlockFile(t *testing.T) {
	f, err := os.Open(mainnetdata.BtcdPath(t, mainnetdata.BtcdBlockFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	err = ScanBlockFile(f, wire.MainNet, func(off int64, raw []byte) error {
		if n == 0 {
			if h := chainhash.DoubleHashH(raw[:80]); h != *chaincfg.MainNetParams.GenesisHash {
				t.Errorf("block 0 hashes to %s, want the genesis hash", h)
			}
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 14132 {
		t.Fatalf("got %d blocks, want 14132", n)
	}
}

func FuzzScanBlockFile(f *testing.F) {
	m := wire.MainNet
	f.Add(recordT(m, []byte("block")))
	f.Add(append(append([]byte{0, 0}, recordT(m, []byte{1, 2})...), 0, 0, 0))
	f.Add(recordT(wire.TestNet3, []byte("x")))
	f.Add(recordT(m, nil))
	f.Add(recordT(m, []byte("abc"))[:9])
	f.Add(binary.LittleEndian.AppendUint32(magicBytes(m), 0xffffffff))
	f.Fuzz(func(t *testing.T, data []byte) {
		end := int64(0)
		err := ScanBlockFile(bytes.NewReader(data), m, func(off int64, raw []byte) error {
			if off < end+recordHeaderSize || len(raw) == 0 || len(raw) > wire.MaxBlockPayload {
				t.Fatalf("record at %d (after %d) of %d bytes", off, end, len(raw))
			}
			for _, b := range data[end : off-recordHeaderSize] {
				if b != 0 {
					t.Fatalf("skipped a non-zero byte before %d", off)
				}
			}
			if !bytes.Equal(data[off-recordHeaderSize:off+int64(len(raw))], recordT(m, raw)) {
				t.Fatalf("record at %d does not match the input", off)
			}
			end = off + int64(len(raw))
			return nil
		})
		if err == nil {
			for _, b := range data[end:] {
				if b != 0 {
					t.Fatalf("accepted a non-zero tail after %d", end)
				}
			}
		}
	})
}
