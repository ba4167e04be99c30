package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// sizeCase is one payload to measure DecodedSize on.
type sizeCase struct {
	name    string
	command string
	payload []byte
}

// encodedCase encodes msg with Encode.
func encodedCase(tb testing.TB, name string, msg wire.Message) sizeCase {
	tb.Helper()
	payload, err := Encode(msg)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return sizeCase{name, msg.Command(), payload}
}

// measureKept decodes every payload of cases copies times, keeps the
// results, and returns the heap bytes they keep alive per copy, rounded
// down. The slice holding the results is allocated before the first
// reading, so it is not part of the difference. The garbage collector is
// off between the readings (runtime.GC still runs), so no cycle starts
// while a decode is half done.
//
// The race detector does not change what the allocator hands out (it
// shadows each allocation outside the heap), so the measurement holds
// under -race as it does without, and the tests need no build-tagged
// escape for it.
func measureKept(tb testing.TB, cases []sizeCase, copies int) int64 {
	tb.Helper()
	keep := make([]wire.Message, copies*len(cases))
	// Warm wire's pools (a transaction borrows a 4 MiB script slab, every
	// decoder 8-byte buffers): they are process-wide, not the message's.
	for _, c := range cases {
		if _, err := Decode(c.command, c.payload); err != nil {
			tb.Fatalf("%s: %v", c.name, err)
		}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	// Twice: the first cycle moves sync.Pools' contents (fmt's buffers,
	// say) to their victim caches, the second frees them (and see below).
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range copies {
		for j, c := range cases {
			keep[i*len(cases)+j], _ = Decode(c.command, c.payload)
		}
	}
	// Twice again: the garbage collector keeps each P's current tiny
	// block (where pointer-free objects under 16 bytes are packed) through
	// the cycle it runs in, whatever it holds; the next cycle frees it if
	// no decoded message lives there.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	delta := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if delta < 0 {
		return -((-delta + int64(copies) - 1) / int64(copies))
	}
	return delta / int64(copies)
}

// checkDecodedSize decodes the cases, adds up their DecodedSize, measures
// what the decoded messages really keep, and checks the estimate is an
// upper bound within 2x (plus 1 KiB for the smallest messages).
func checkDecodedSize(t *testing.T, name string, cases []sizeCase) {
	t.Helper()
	var est int64
	wireBytes := 0
	for _, c := range cases {
		msg, err := Decode(c.command, c.payload)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		n, known := decodedSize(msg)
		if !known {
			t.Errorf("%s: DecodedSize does not know %T", c.name, msg)
		}
		est += int64(n)
		wireBytes += len(c.payload)
	}
	// About 2 MB of decoded messages, but no more than 4,096 copies (the
	// smallest messages) nor 2 MB of payload to decode (addrv2's decoder is
	// slow, the more so under -race); at least 2. With the cycles
	// measureKept runs, the heap difference is exact to the byte, so this
	// is plenty; more copies would only slow the test.
	copies := int(max(2, min(1<<12, (2<<20)/max(est, 1), (2<<20)/int64(max(wireBytes, 1)))))
	// The least of up to three runs, should one fail: noise only adds.
	measured := measureKept(t, cases, copies)
	for range 2 {
		if measured <= est && est <= 2*measured+1024 {
			break
		}
		measured = min(measured, measureKept(t, cases, copies))
	}
	ratio := float64(est) / float64(max(measured, 1))
	t.Logf("%-52s wire %8d  estimate %9d  measured %9d  ratio %.3f (%d copies)",
		name, wireBytes, est, measured, ratio, copies)
	if measured > est {
		t.Errorf("%s: decoded messages keep %d bytes, DecodedSize says %d", name, measured, est)
	}
	if est > 2*measured+1024 {
		t.Errorf("%s: DecodedSize says %d, more than 2x the %d bytes kept (+1024)", name, est, measured)
	}
}

// invMsg adds n distinct witness-tx items to an inv, getdata or notfound.
func invMsg(msg interface{ AddInvVect(*wire.InvVect) error }, n int) {
	for i := range n {
		h := testHash(byte(i))
		binary.LittleEndian.PutUint32(h[:], uint32(i))
		if err := msg.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessTx, &h)); err != nil {
			panic(err)
		}
	}
}

// sizeTx builds a transaction of nIn inputs (script bytes each, and
// witness items of witLen bytes each when witItems > 0) and nOut outputs.
func sizeTx(nIn, script, witItems, witLen, nOut int) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	for i := range nIn {
		var wit wire.TxWitness
		if witItems > 0 {
			wit = make(wire.TxWitness, witItems)
			for j := range wit {
				wit[j] = bytes.Repeat([]byte{byte(j)}, witLen)
			}
		}
		tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(testHashPtr(byte(i)), uint32(i)), bytes.Repeat([]byte{0x51}, script), wit))
	}
	for i := range nOut {
		tx.AddTxOut(wire.NewTxOut(int64(i), append([]byte{0x00, 0x14}, bytes.Repeat([]byte{byte(i)}, 20)...)))
	}
	return tx
}

// addrV2Entry is one raw addrv2 entry (BIP155) of network netID.
func addrV2Entry(netID byte, addr []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(testTime.Unix()))
	b = append(b, byte(wire.SFNodeNetwork|wire.SFNodeWitness), netID)
	var n bytes.Buffer
	if err := wire.WriteVarInt(&n, 0, uint64(len(addr))); err != nil {
		panic(err)
	}
	b = append(b, n.Bytes()...)
	b = append(b, addr...)
	return append(b, 0x20, 0x8d)
}

// rawAddrV2 is an addrv2 payload of the given entries.
func rawAddrV2(entries ...[]byte) []byte {
	var b bytes.Buffer
	if err := wire.WriteVarInt(&b, 0, uint64(len(entries))); err != nil {
		panic(err)
	}
	for _, e := range entries {
		b.Write(e)
	}
	return b.Bytes()
}

func repeatEntry(n int, e []byte) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = e
	}
	return out
}

// decodedSizeCases are realistic and extreme instances of every message
// Decode returns.
func decodedSizeCases(tb testing.TB) []sizeCase {
	var cs []sizeCase
	add := func(name string, m wire.Message) { cs = append(cs, encodedCase(tb, name, m)) }
	raw := func(name, command string, payload []byte) { cs = append(cs, sizeCase{name, command, payload}) }

	for _, v := range roundTripVectors() {
		add("vector "+v.name, v.msg)
	}

	// version: a 256-byte user agent, and an old short version with only
	// the receiver's address.
	ver := wire.NewMsgVersion(testNetAddr("2001:db8::1", 8333), testNetAddr("203.0.113.7", 8333), 7, 850_000)
	ver.UserAgent = "/" + string(bytes.Repeat([]byte{'x'}, wire.MaxUserAgentLen-2)) + "/"
	add("version 256-byte user agent", ver)
	short, err := Encode(ver)
	if err != nil {
		tb.Fatal(err)
	}
	raw("version 46 bytes (no AddrMe)", wire.CmdVersion, short[:46])

	for _, n := range []int{0, 1, 1000, wire.MaxInvPerMsg} {
		inv := wire.NewMsgInvSizeHint(uint(n))
		invMsg(inv, n)
		add(fmt.Sprintf("inv %d", n), inv)
	}
	getdata := wire.NewMsgGetData()
	invMsg(getdata, wire.MaxInvPerMsg)
	add("getdata 50000", getdata)
	notfound := wire.NewMsgNotFound()
	invMsg(notfound, 17)
	add("notfound 17", notfound)

	for _, n := range []int{0, 1, wire.MaxAddrPerMsg} {
		addr := wire.NewMsgAddr()
		for i := range n {
			ip := net.IPv4(10, byte(i>>8), byte(i), 1)
			if i%2 == 1 {
				ip = net.ParseIP(fmt.Sprintf("2001:db8::%x", i))
			}
			if err := addr.AddAddress(testNetAddr(ip.String(), 8333)); err != nil {
				tb.Fatal(err)
			}
		}
		add(fmt.Sprintf("addr %d", n), addr)
	}

	// addrv2 through wire's encoder (the networks it writes), then raw
	// payloads with what it cannot write: networks wire skips, unknown
	// networks with 512-byte addresses.
	ipv4 := []byte{192, 0, 2, 1}
	ipv6 := net.ParseIP("2001:db8::7")
	torv2 := bytes.Repeat([]byte{0x3c}, 10)
	torv3 := bytes.Repeat([]byte{0x5a}, wire.TorV3Size)
	for _, tc := range []struct {
		name  string
		addrs [][]byte
	}{
		{"addrv2 0", nil},
		{"addrv2 1 ipv4", [][]byte{ipv4}},
		{"addrv2 1000 ipv4", repeatEntry(1000, ipv4)},
		{"addrv2 1000 ipv6", repeatEntry(1000, ipv6)},
		{"addrv2 1000 torv2", repeatEntry(1000, torv2)},
		{"addrv2 1000 torv3", repeatEntry(1000, torv3)},
	} {
		m := wire.NewMsgAddrV2()
		for i, a := range tc.addrs {
			m.AddrList = append(m.AddrList, wire.NetAddressV2FromBytes(testTime, wire.SFNodeNetwork, a, uint16(i)))
		}
		add(tc.name, m)
	}
	const (
		netIPv4  = 1
		netIPv6  = 2
		netTorV3 = 4
		netI2P   = 5
		netCJDNS = 6
	)
	onionCat := append([]byte{0xfd, 0x87, 0xd8, 0x7e, 0xeb, 0x43}, torv2...)
	mapped := append(bytes.Repeat([]byte{0}, 10), 0xff, 0xff, 10, 0, 0, 1)
	v4 := addrV2Entry(netIPv4, ipv4)
	raw("addrv2 999 unknown-network 512-byte + 1 ipv4", wire.CmdAddrV2,
		rawAddrV2(append(repeatEntry(999, addrV2Entry(42, bytes.Repeat([]byte{0xee}, 512))), v4)...))
	raw("addrv2 1000 i2p (all skipped)", wire.CmdAddrV2,
		rawAddrV2(repeatEntry(1000, addrV2Entry(netI2P, bytes.Repeat([]byte{0x12}, 32)))...))
	raw("addrv2 500 skipped ipv6 (onioncat) + 500 ipv4", wire.CmdAddrV2,
		rawAddrV2(append(repeatEntry(500, addrV2Entry(netIPv6, onionCat)), repeatEntry(500, v4)...)...))
	raw("addrv2 1 ipv4 + 999 skipped ipv4-mapped", wire.CmdAddrV2,
		rawAddrV2(append([][]byte{v4}, repeatEntry(999, addrV2Entry(netIPv6, mapped))...)...))
	raw("addrv2 1 torv3 + 999 cjdns", wire.CmdAddrV2,
		rawAddrV2(append([][]byte{addrV2Entry(netTorV3, torv3)}, repeatEntry(999, addrV2Entry(netCJDNS, ipv6))...)...))

	// Transactions.
	add("tx 1 input, no outputs", sizeTx(1, 0, 0, 0, 0))
	add("tx 1 in 1 out legacy", sizeTx(1, 107, 0, 0, 1))
	add("tx 2 in 2 out p2wpkh", sizeTx(2, 0, 2, 72, 2))
	add("tx 2500 in 2500 out legacy", sizeTx(2500, 107, 0, 0, 2500))
	add("tx 1000 in 1000 out segwit 3 items", sizeTx(1000, 0, 3, 71, 1000))
	add("tx 10000 in 1 out 1 witness byte each", sizeTx(10000, 0, 1, 1, 1))
	add("tx 1 in 100000 empty witness items", sizeTx(1, 0, 100_000, 0, 1))
	add("tx 2 in, 500 KB witness items", sizeTx(2, 0, 1, 500_000, 1))
	add("tx 1 in 30000 out", sizeTx(1, 107, 0, 0, 30_000))

	// Blocks.
	add("block empty", &wire.MsgBlock{Header: *testBlockHeader(1)})
	block := &wire.MsgBlock{Header: *testBlockHeader(2)}
	if err := block.AddTransaction(sizeTx(1, 40, 1, 32, 2)); err != nil {
		tb.Fatal(err)
	}
	add("block coinbase only", block)
	block = &wire.MsgBlock{Header: *testBlockHeader(3)}
	for i := range 3000 {
		if err := block.AddTransaction(sizeTx(1+i%3, 0, 2, 72, 2)); err != nil {
			tb.Fatal(err)
		}
	}
	add("block 3000 segwit txs", block)

	// Headers and locators.
	for _, n := range []int{0, 1, wire.MaxBlockHeadersPerMsg} {
		h := wire.NewMsgHeaders()
		for i := range n {
			if err := h.AddBlockHeader(testBlockHeader(byte(i))); err != nil {
				tb.Fatal(err)
			}
		}
		add(fmt.Sprintf("headers %d", n), h)
	}
	for _, n := range []int{0, 1, 30, wire.MaxBlockLocatorsPerMsg} {
		gh := wire.NewMsgGetHeaders()
		gb := wire.NewMsgGetBlocks(testHashPtr(1))
		for i := range n {
			if err := gh.AddBlockLocatorHash(testHashPtr(byte(i))); err != nil {
				tb.Fatal(err)
			}
			if err := gb.AddBlockLocatorHash(testHashPtr(byte(i))); err != nil {
				tb.Fatal(err)
			}
		}
		add(fmt.Sprintf("getheaders %d", n), gh)
		add(fmt.Sprintf("getblocks %d", n), gb)
	}

	// Bloom filters and merkle blocks.
	add("filterload empty", wire.NewMsgFilterLoad(nil, 1, 2, wire.BloomUpdateNone))
	add("filterload 36000", wire.NewMsgFilterLoad(bytes.Repeat([]byte{0x81}, wire.MaxFilterLoadFilterSize), 50, 2, wire.BloomUpdateAll))
	add("filteradd empty", wire.NewMsgFilterAdd(nil))
	add("filteradd 520", wire.NewMsgFilterAdd(bytes.Repeat([]byte{1}, wire.MaxFilterAddDataSize)))
	add("merkleblock 0 hashes", wire.NewMsgMerkleBlock(testBlockHeader(4)))
	mb := wire.NewMsgMerkleBlock(testBlockHeader(5))
	mb.Transactions = 4000
	for i := range 2000 {
		if err := mb.AddTxHash(testHashPtr(byte(i))); err != nil {
			tb.Fatal(err)
		}
	}
	mb.Flags = bytes.Repeat([]byte{0xa5}, 500)
	add("merkleblock 2000 hashes", mb)

	// Reject.
	add("reject empty", wire.NewMsgReject("", wire.RejectMalformed, ""))
	add("reject block 100 KB reason", wire.NewMsgReject(wire.CmdBlock, wire.RejectInvalid, string(bytes.Repeat([]byte{'r'}, 100_000))))

	// Compact filters.
	add("cfilter empty", wire.NewMsgCFilter(wire.GCSFilterRegular, testHashPtr(1), nil))
	add("cfilter 256 KiB", wire.NewMsgCFilter(wire.GCSFilterRegular, testHashPtr(1), bytes.Repeat([]byte{7}, wire.MaxCFilterDataSize)))
	for _, n := range []int{0, 1, wire.MaxCFHeadersPerMsg} {
		m := wire.NewMsgCFHeaders()
		m.StopHash = testHash(3)
		for i := range n {
			if err := m.AddCFHash(testHashPtr(byte(i))); err != nil {
				tb.Fatal(err)
			}
		}
		add(fmt.Sprintf("cfheaders %d", n), m)
	}
	for _, n := range []int{0, 1, 100_000} {
		m := wire.NewMsgCFCheckpt(wire.GCSFilterRegular, testHashPtr(1), n)
		for i := range n {
			if err := m.AddCFHeader(testHashPtr(byte(i))); err != nil {
				tb.Fatal(err)
			}
		}
		add(fmt.Sprintf("cfcheckpt %d", n), m)
	}

	// Unknown commands: io.ReadAll's buffers.
	for _, n := range []int{0, 20, 511, 600, 100_000, MaxPayload} {
		raw(fmt.Sprintf("unknown %d bytes", n), CmdSendTxRcncl, bytes.Repeat([]byte{0xab}, n))
	}
	return cs
}

// TestDecodedSize measures, for every message type, what the decoded
// message keeps alive and checks DecodedSize bounds it from above within 2x.
func TestDecodedSize(t *testing.T) {
	cases := decodedSizeCases(t)
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.command] = true
		checkDecodedSize(t, c.name, []sizeCase{c})
	}
	for _, cmd := range append(slices.Clone(knownCommands), CmdSendTxRcncl) {
		if !seen[cmd] {
			t.Errorf("no case for %q", cmd)
		}
	}
}

// TestDecodedSizeMainnet measures the real block 830,000, and its 1,851
// transactions as tx messages.
func TestDecodedSizeMainnet(t *testing.T) {
	raw := mainnetData(t, "blocks/830000.bin")
	checkDecodedSize(t, "mainnet block 830000", []sizeCase{{"block 830000", wire.CmdBlock, raw}})

	var block wire.MsgBlock
	if err := block.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	txs := make([]sizeCase, len(block.Transactions))
	for i, tx := range block.Transactions {
		txs[i] = encodedCase(t, fmt.Sprintf("tx %d", i), tx)
	}
	checkDecodedSize(t, fmt.Sprintf("mainnet block 830000's %d txs as tx messages", len(txs)), txs)
}

// TestDecodedSizeKnowsEveryType: every type Decode returns has its own
// formula, not the fallback.
func TestDecodedSizeKnowsEveryType(t *testing.T) {
	for _, cmd := range append(slices.Clone(knownCommands), CmdSendTxRcncl, "futurecmd") {
		if _, known := decodedSize(newMessage(cmd)); !known {
			t.Errorf("DecodedSize has no formula for %q (%T)", cmd, newMessage(cmd))
		}
	}
	if n := DecodedSize(nil); n != 0 {
		t.Errorf("DecodedSize(nil) = %d", n)
	}
}

// sizeOtherMessage is a message type Decode never returns.
type sizeOtherMessage struct{ wire.MsgVerAck }

func (sizeOtherMessage) MaxPayloadLength(uint32) uint32 { return 1000 }

type sizeHugeMessage struct{ wire.MsgVerAck }

func (sizeHugeMessage) MaxPayloadLength(uint32) uint32 { return 1 << 31 }

func TestDecodedSizeFallback(t *testing.T) {
	if n, known := decodedSize(&sizeOtherMessage{}); known || n != maxAmplification*1000+64<<10 {
		t.Errorf("foreign type with 1000-byte payloads: %d (known %v)", n, known)
	}
	if n := DecodedSize(&sizeHugeMessage{}); n != maxAmplification*MaxPayload+64<<10 {
		t.Errorf("foreign type with 2 GiB payloads: %d, want the MaxPayload cap", n)
	}
}

// TestAllocSizeMatchesRuntime pins allocSize's size classes and page
// rounding to the running runtime: append growing a nil slice allocates
// exactly the rounded-up size and reports it as the capacity (less the
// malloc header, for pointerful objects that have one).
func TestAllocSizeMatchesRuntime(t *testing.T) {
	sizes := []int{}
	for n := 1; n <= 2048; n++ {
		sizes = append(sizes, n)
	}
	for _, c := range sizeClasses {
		sizes = append(sizes, int(c)-9, int(c)-8, int(c)-1, int(c), int(c)+1, int(c)+8)
	}
	for p := 1; p <= 12; p++ {
		sizes = append(sizes, p*pageSize-1, p*pageSize, p*pageSize+1)
	}
	for _, n := range sizes {
		if n <= 0 {
			continue
		}
		got := cap(append([]byte(nil), make([]byte, n)...))
		want := allocSize(n, false)
		if n < tinySize {
			// The tiny allocator: the slot is up to the whole block.
			if got > want {
				t.Errorf("%d pointer-free bytes: runtime %d, allocSize %d", n, got, want)
			}
		} else if got != want {
			t.Errorf("%d pointer-free bytes: runtime %d, allocSize %d", n, got, want)
		}
		if n%ptrSize != 0 {
			continue
		}
		got = ptrSize * cap(append([]*byte(nil), make([]*byte, n/ptrSize)...))
		if n > minSizeForMallocHeader && n <= maxSmallSize-mallocHeaderSize {
			got += mallocHeaderSize
		}
		if want := allocSize(n, true); got != want {
			t.Errorf("%d pointerful bytes: runtime %d (with header), allocSize %d", n, got, want)
		}
	}
}

// BenchmarkDecodedSize: DecodedSize walks items, so it costs a little
// per input, output, witness item or address, nothing per inv item.
func BenchmarkDecodedSize(b *testing.B) {
	inv := wire.NewMsgInv()
	invMsg(inv, wire.MaxInvPerMsg)
	msgs := []struct {
		name string
		msg  wire.Message
	}{
		{"inv 50000", inv},
		{"tx 2500 in 2500 out", sizeTx(2500, 107, 0, 0, 2500)},
		{"tx 1000 in segwit", sizeTx(1000, 0, 3, 71, 1000)},
	}
	for _, m := range msgs {
		decoded, err := Decode(m.msg.Command(), encodedCase(b, m.name, m.msg).payload)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				_ = DecodedSize(decoded)
			}
		})
	}
	b.Run("mainnet block 830000", func(b *testing.B) {
		decoded, err := Decode(wire.CmdBlock, mainnetData(b, "blocks/830000.bin"))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			_ = DecodedSize(decoded)
		}
	})
}
