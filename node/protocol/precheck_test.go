package protocol

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// precheckHole is a payload declaring a count or length its bytes cannot
// hold, which wire's decoder would allocate for before finding out.
type precheckHole struct {
	name    string
	command string
	payload []byte
	wire    string // what wire allocates for it unchecked
}

// precheckHoles are the counts and lengths precheck once let through: for
// each, a payload of a few dozen bytes at most made wire allocate up to
// megabytes before failing.
func precheckHoles() []precheckHole {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	zeros := func(n int) []byte { return make([]byte, n) }
	return []precheckHole{
		{"cfcheckpt declaring 100,000 headers", wire.CmdCFCheckpt,
			cat(zeros(1+32), []byte{0xfe, 0xa0, 0x86, 0x01, 0x00}, zeros(2)), "3.2 MB of hashes, 800 KB of pointers"},
		{"cfheaders declaring 2,000 hashes", wire.CmdCFHeaders,
			cat(zeros(1+32+32), []byte{0xfd, 0xd0, 0x07}), "16 KB of pointers"},
		{"cfilter declaring 256 KiB of data", wire.CmdCFilter,
			cat(zeros(1+32), []byte{0xfe, 0x00, 0x00, 0x04, 0x00}), "256 KiB"},
		{"filterload declaring a 36,000-byte filter", wire.CmdFilterLoad,
			[]byte{0xfd, 0xa0, 0x8c}, "36 KB"},
		{"filteradd declaring 520 bytes", wire.CmdFilterAdd,
			[]byte{0xfd, 0x08, 0x02}, "520 bytes"},
		{"merkleblock declaring 50,000 flag bytes", wire.CmdMerkleBlock,
			cat(zeros(80+4), []byte{0x00, 0xfd, 0x50, 0xc3}), "50 KB"},
		{"merkleblock whose hashes leave no room for its flags", wire.CmdMerkleBlock,
			cat(zeros(80+4), []byte{0x01}, zeros(32), []byte{0xfd, 0x50, 0xc3}), "50 KB"},
		{"addrv2 declaring 1,000 addresses", wire.CmdAddrV2,
			[]byte{0xfd, 0xe8, 0x03}, "56 KB of entries, 8 KB of pointers"},
		{"addrv2 with a 512-byte address of an unknown network missing", wire.CmdAddrV2,
			[]byte{0x01, 0, 0, 0, 0, 0x01, 42, 0xfd, 0x00, 0x02}, "514 bytes"},
	}
}

// TestPrecheckCountHoles: every count or length wire allocates by is
// checked against the bytes present, so none of these payloads makes
// Decode allocate more than its own error message.
func TestPrecheckCountHoles(t *testing.T) {
	holes := precheckHoles()
	// Warm wire's pools and fmt's.
	for _, h := range holes {
		_, _ = Decode(h.command, h.payload)
	}
	for _, h := range holes {
		if err := precheck(h.command, h.payload); !errors.Is(err, errShort) {
			t.Errorf("%s: precheck = %v, want errShort (wire would allocate %s)", h.name, err, h.wire)
		}
		// TotalAlloc counts every goroutine's allocations (the race
		// detector's and the runtime's too), so the least of three
		// measurements is taken: one once came out at 1,046 bytes a run.
		const runs = 20
		perRun := uint64(math.MaxUint64)
		var err error
		for range 3 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range runs {
				_, err = Decode(h.command, h.payload)
			}
			runtime.ReadMemStats(&after)
			perRun = min(perRun, (after.TotalAlloc-before.TotalAlloc)/runs)
		}
		if err == nil {
			t.Errorf("%s: decoded", h.name)
		}
		// A failed Decode allocates its error message, a few hundred
		// bytes; wire's allocations for these counts are more, most far
		// more.
		t.Logf("%-64s %3d bytes: Decode allocates %5d bytes (%v)", h.name, len(h.payload), perRun, err)
		if perRun > 1024 {
			t.Errorf("%s: a %d-byte payload made Decode allocate %d bytes (wire would allocate %s)",
				h.name, len(h.payload), perRun, h.wire)
		}
	}
}

// TestPrecheckAcceptsWhatFits: the same counts and lengths, with the bytes
// behind them present, decode.
func TestPrecheckAcceptsWhatFits(t *testing.T) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	zeros := func(n int) []byte { return make([]byte, n) }
	header := make([]byte, 80)
	header[0] = 1
	addrV2Unknown := cat([]byte{0x01, 0, 0, 0, 0, 0x01, 42, 0xfd, 0x00, 0x02}, zeros(512+2))
	addrV2I2P := cat([]byte{0, 0, 0, 0, 0x01, 5, 32}, zeros(32+2))
	tests := []struct {
		name    string
		command string
		payload []byte
	}{
		{"cfcheckpt of 3 headers", wire.CmdCFCheckpt, cat(zeros(1+32), []byte{3}, zeros(3*32))},
		{"cfcheckpt of 0 headers", wire.CmdCFCheckpt, zeros(1 + 32 + 1)},
		{"cfheaders of 2 hashes", wire.CmdCFHeaders, cat(zeros(1+32+32), []byte{2}, zeros(2*32))},
		{"cfilter of 5 bytes", wire.CmdCFilter, cat(zeros(1+32), []byte{5}, zeros(5))},
		{"filterload of 10 bytes", wire.CmdFilterLoad, cat([]byte{10}, zeros(10), zeros(4+4+1))},
		{"filteradd of 520 bytes", wire.CmdFilterAdd, cat([]byte{0xfd, 0x08, 0x02}, zeros(520))},
		{"merkleblock of 2 hashes and 1 flag byte", wire.CmdMerkleBlock, cat(header, zeros(4), []byte{2}, zeros(64), []byte{1, 0xff})},
		{"addrv2 of an unknown network's 512-byte address", wire.CmdAddrV2, addrV2Unknown},
		{"addrv2 of 3 i2p addresses", wire.CmdAddrV2, cat([]byte{3}, addrV2I2P, addrV2I2P, addrV2I2P)},
	}
	for _, tc := range tests {
		if err := precheck(tc.command, tc.payload); err != nil {
			t.Errorf("%s: precheck: %v", tc.name, err)
		}
		if _, err := Decode(tc.command, tc.payload); err != nil {
			t.Errorf("%s: Decode: %v", tc.name, err)
		}
		checkEstimate(t, sizeCase{tc.name, tc.command, tc.payload})
	}
}

// TestPrecheckSmallestTransaction: wire decodes a block whose transaction
// has no outputs (51 bytes; consensus wants an output, which makes 60),
// so precheck must not refuse it as too short. FuzzEstimateDecodedSize
// found the precheck did, counting 60 bytes a transaction.
func TestPrecheckSmallestTransaction(t *testing.T) {
	tx := []byte{1, 0, 0, 0, 1}                            // version, one input
	tx = append(tx, make([]byte, 36)...)                   // outpoint
	tx = append(tx, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00)    // empty script, sequence, no outputs
	tx = append(tx, 0, 0, 0, 0)                            // lock time
	block := append(append(make([]byte, 80), 0x01), tx...) // header, one transaction
	if len(tx) != minTxSize {
		t.Fatalf("transaction of %d bytes, want %d", len(tx), minTxSize)
	}
	if !wireAccepts(wire.CmdBlock, block) {
		t.Fatal("wire refuses the block")
	}
	if _, err := Decode(wire.CmdBlock, block); err != nil {
		t.Errorf("Decode: %v", err)
	}
	checkEstimate(t, sizeCase{"block of a 51-byte transaction", wire.CmdBlock, block})
	// One byte less and the count no longer fits.
	if err := precheck(wire.CmdBlock, block[:len(block)-1]); !errors.Is(err, errShort) {
		t.Errorf("precheck of the block one byte short = %v, want errShort", err)
	}
}
