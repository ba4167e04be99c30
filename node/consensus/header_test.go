package consensus

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// genesisHex is the mainnet genesis header.
const genesisHex = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"

func TestHeaderRoundTrip(t *testing.T) {
	raw, _ := hex.DecodeString(genesisHex)
	h, err := ParseHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	if h != ParamsFor("mainnet").Genesis {
		t.Errorf("parsed genesis %+v differs from Params.Genesis", h)
	}
	if got := h.Hash().String(); got != "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f" {
		t.Errorf("genesis hash %s", got)
	}
	prefix := []byte("xy")
	out := h.Serialize(prefix)
	if !bytes.Equal(out[:2], prefix) || !bytes.Equal(out[2:], raw) {
		t.Errorf("Serialize = %x", out)
	}
	for _, n := range []int{0, 79, 81, 160} {
		if _, err := ParseHeader(make([]byte, n)); err == nil {
			t.Errorf("ParseHeader accepted %d bytes", n)
		}
	}
	// wire agrees on the fields and the hash.
	var w wire.BlockHeader
	if err := w.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if FromWire(&w) != h {
		t.Errorf("FromWire = %+v, want %+v", FromWire(&w), h)
	}
	back := h.ToWire()
	if back.BlockHash() != h.Hash() || FromWire(&back) != h {
		t.Error("ToWire does not round trip")
	}
	// A negative version survives the trip.
	h.Version = -2
	if again, _ := ParseHeader(h.Serialize(nil)); again != h {
		t.Errorf("version -2 round trip: %+v", again)
	}
}

func TestHashDoesNotAllocate(t *testing.T) {
	h := ParamsFor("mainnet").Genesis
	if n := testing.AllocsPerRun(100, func() { _ = h.Hash() }); n != 0 {
		t.Errorf("Header.Hash allocates %v times", n)
	}
}

func FuzzParseHeader(f *testing.F) {
	raw, _ := hex.DecodeString(genesisHex)
	f.Add(raw)
	f.Add(make([]byte, 80))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if len(b) != HeaderSize {
			if err == nil {
				t.Fatalf("accepted %d bytes", len(b))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if out := h.Serialize(nil); !bytes.Equal(out, b) {
			t.Fatalf("round trip: %x -> %x", b, out)
		}
		var w wire.BlockHeader
		if err := w.Deserialize(bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		if w.BlockHash() != h.Hash() || FromWire(&w) != h {
			t.Fatal("disagrees with wire")
		}
		_ = Work(h.Bits)
	})
}

func FuzzCompact(f *testing.F) {
	for _, bits := range []uint32{0, 0x1d00ffff, 0x207fffff, 0x01fedcba, 0xff123456, 0x22000001, 0x21010000, 0x04923456} {
		f.Add(bits, []byte{0xff, 0x12})
	}
	f.Fuzz(func(t *testing.T, bits uint32, raw []byte) {
		var b [32]byte
		copy(b[:], raw)
		var a U256
		for i := 0; i < 32; i++ {
			a = a.lsh(8)
			a[0] |= uint64(b[i])
		}
		// Shift by a fuzzed amount so short inputs still reach every size.
		a = a.rsh(uint(bits>>24) % 256)
		checkCompact(t, bits, a)
	})
}
