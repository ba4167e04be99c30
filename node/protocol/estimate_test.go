package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// checkEstimate decodes c, and checks EstimateDecodedSize accepts the
// payload and bounds DecodedSize of the result from above, within 2x plus
// 1 KiB. It returns both figures.
func checkEstimate(t *testing.T, c sizeCase) (est, decoded int) {
	t.Helper()
	msg, err := Decode(c.command, c.payload)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	decoded = DecodedSize(msg)
	est, err = EstimateDecodedSize(c.command, c.payload)
	if err != nil {
		t.Errorf("%s: EstimateDecodedSize: %v", c.name, err)
	}
	if est < decoded {
		t.Errorf("%s: EstimateDecodedSize %d below DecodedSize %d", c.name, est, decoded)
	}
	if est > 2*decoded+1024 {
		t.Errorf("%s: EstimateDecodedSize %d above 2x DecodedSize %d (+1024)", c.name, est, decoded)
	}
	return est, decoded
}

// TestEstimateDecodedSize: for every payload of DecodedSize's table (every
// message type, realistic and extreme), the estimate from the bytes bounds
// DecodedSize of the decoded message (and is in fact equal to it).
func TestEstimateDecodedSize(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range decodedSizeCases(t) {
		seen[c.command] = true
		est, decoded := checkEstimate(t, c)
		t.Logf("%-52s wire %8d  estimate %9d  DecodedSize %9d  ratio %.3f",
			c.name, len(c.payload), est, decoded, float64(est)/float64(max(decoded, 1)))
	}
	for _, cmd := range append(slices.Clone(knownCommands), CmdSendTxRcncl) {
		if !seen[cmd] {
			t.Errorf("no case for %q", cmd)
		}
	}
}

// TestEstimateDecodedSizeMainnet: the real block 830,000, and its 1,851
// transactions as tx messages.
func TestEstimateDecodedSizeMainnet(t *testing.T) {
	raw := mainnetData(t, "blocks/830000.bin")
	est, decoded := checkEstimate(t, sizeCase{"block 830000", wire.CmdBlock, raw})
	t.Logf("mainnet block 830000: wire %d, estimate %d, DecodedSize %d, ratio %.4f",
		len(raw), est, decoded, float64(est)/float64(decoded))

	var block wire.MsgBlock
	if err := block.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	var sumEst, sumDecoded int
	for i, tx := range block.Transactions {
		e, d := checkEstimate(t, encodedCase(t, fmt.Sprintf("tx %d", i), tx))
		sumEst += e
		sumDecoded += d
	}
	t.Logf("its %d txs as tx messages: estimate %d, DecodedSize %d, ratio %.4f",
		len(block.Transactions), sumEst, sumDecoded, float64(sumEst)/float64(sumDecoded))
}

// TestEstimateDecodedSizeAllocatesNothing: the estimate of a payload
// Decode accepts allocates nothing, whatever its type.
func TestEstimateDecodedSizeAllocatesNothing(t *testing.T) {
	for _, c := range decodedSizeCases(t) {
		if len(c.payload) > 1<<20 {
			continue // the smaller cases cover every type; keep -race quick
		}
		allocs := testing.AllocsPerRun(3, func() {
			if _, err := EstimateDecodedSize(c.command, c.payload); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: EstimateDecodedSize allocates %.0f times", c.name, allocs)
		}
	}
}

// TestEstimateKnowsEveryCommand: every command Decode decodes to a typed
// message has its own case in the walk, not the *MsgUnknown formula,
// which would not bound it.
func TestEstimateKnowsEveryCommand(t *testing.T) {
	for _, cmd := range knownCommands {
		if _, known, _ := walkPayload(cmd, nil); !known {
			t.Errorf("walkPayload has no case for %q", cmd)
		}
	}
	for _, cmd := range []string{CmdSendTxRcncl, fuzzUnknownCommand, ""} {
		if _, known, _ := walkPayload(cmd, nil); known {
			t.Errorf("walkPayload takes %q for a known command", cmd)
		}
	}
}

// TestEstimateDecodedSizeRejects: payloads whose declared counts the
// bytes cannot hold are refused by the estimate, with an error that wraps
// ErrMalformed, as by Decode.
func TestEstimateDecodedSizeRejects(t *testing.T) {
	for _, tc := range precheckHoles() {
		n, err := EstimateDecodedSize(tc.command, tc.payload)
		if err == nil || !errors.Is(err, ErrMalformed) || !errors.Is(err, errShort) {
			t.Errorf("%s: EstimateDecodedSize = %d, %v; want an ErrMalformed, errShort error", tc.name, n, err)
		}
		if _, derr := Decode(tc.command, tc.payload); derr == nil {
			t.Errorf("%s: Decode accepted it", tc.name)
		}
	}
}

// FuzzEstimateDecodedSize: for any payload under any command that Decode
// accepts, EstimateDecodedSize returns no error and a bound of DecodedSize
// of the message. The walk mirrors wire's decoding count for count, so the
// bound is exact; a mismatch either way means the walk and wire disagree
// about the payload's structure, and is reported (were the estimate ever
// made deliberately loose, only the lower side would be a bug). And the
// walk refuses nothing wire accepts: it is Decode's precheck too, so a
// payload it wrongly refused would never reach wire, and no other test
// would see it.
func FuzzEstimateDecodedSize(f *testing.F) {
	for _, c := range decodedSizeCases(f) {
		if len(c.payload) <= 4096 {
			f.Add(fuzzCommandIndex(c.command), c.payload)
		}
	}
	for _, h := range precheckHoles() {
		f.Add(fuzzCommandIndex(h.command), h.payload)
	}
	for i := range fuzzCommands {
		f.Add(byte(i), []byte{})
	}
	f.Fuzz(func(t *testing.T, index byte, payload []byte) {
		command := fuzzCommands[int(index)%len(fuzzCommands)]
		est, estErr := EstimateDecodedSize(command, payload)
		msg, err := Decode(command, payload)
		if err != nil {
			// Decode's precheck is the estimate's walk, so Decode fails
			// whenever the estimate does; wire itself must fail too, or
			// the walk refused a payload wire accepts.
			if estErr != nil && wireAccepts(command, payload) {
				t.Fatalf("%q payload %x: EstimateDecodedSize and precheck refuse it (%v), wire decodes it", command, payload, estErr)
			}
			return
		}
		if estErr != nil {
			t.Fatalf("Decode(%q) accepts payload %x, EstimateDecodedSize refuses it: %v", command, payload, estErr)
		}
		decoded := DecodedSize(msg)
		if est < decoded {
			t.Fatalf("%q payload %x: EstimateDecodedSize %d below DecodedSize %d", command, payload, est, decoded)
		}
		if est != decoded {
			t.Fatalf("%q payload %x: EstimateDecodedSize %d, DecodedSize %d: the walk and wire disagree", command, payload, est, decoded)
		}
	})
}

// wireAccepts reports whether wire's decoder, without precheck, accepts
// the payload (it may allocate what the payload declares).
func wireAccepts(command string, payload []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return newMessage(command).BtcDecode(bytes.NewBuffer(payload), ProtocolVersion, wire.LatestEncoding) == nil
}

// BenchmarkEstimateDecodedSize: the estimate against decoding, for the
// biggest message a peer normally sends (a real 1.6 MB block), a full
// headers message, and the worst amplification (a 100 KB transaction of
// empty witness items, decoding to 2.4 MB).
func BenchmarkEstimateDecodedSize(b *testing.B) {
	headers := wire.NewMsgHeaders()
	for i := range wire.MaxBlockHeadersPerMsg {
		h := testBlockHeader(byte(i))
		h.Nonce = uint32(i)
		if err := headers.AddBlockHeader(h); err != nil {
			b.Fatal(err)
		}
	}
	run := func(b *testing.B, c sizeCase) {
		b.Run("estimate", func(b *testing.B) {
			b.SetBytes(int64(len(c.payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := EstimateDecodedSize(c.command, c.payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("decode", func(b *testing.B) {
			b.SetBytes(int64(len(c.payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(c.command, c.payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("block 830000", func(b *testing.B) {
		run(b, sizeCase{"block 830000", wire.CmdBlock, mainnetData(b, "blocks/830000.bin")})
	})
	for _, c := range []sizeCase{
		encodedCase(b, "headers 2000", headers),
		encodedCase(b, "tx 100000 empty witness items", sizeTx(1, 0, 100_000, 0, 1)),
		encodedCase(b, "tx 2500 in 2500 out", sizeTx(2500, 107, 0, 0, 2500)),
	} {
		b.Run(c.name, func(b *testing.B) { run(b, c) })
	}
}
