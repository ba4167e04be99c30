package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"net"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// testHash returns a hash whose bytes count up from seed.
func testHash(seed byte) chainhash.Hash {
	var h chainhash.Hash
	for i := range h {
		h[i] = seed + byte(i)
	}
	return h
}

func testHashPtr(seed byte) *chainhash.Hash {
	h := testHash(seed)
	return &h
}

// testTime is a second-precision time, as the wire carries.
var testTime = time.Unix(1_700_000_123, 0)

func testBlockHeader(seed byte) *wire.BlockHeader {
	return &wire.BlockHeader{
		Version:    0x20000000 | int32(seed),
		PrevBlock:  testHash(seed),
		MerkleRoot: testHash(seed + 100),
		Timestamp:  testTime.Add(time.Duration(seed) * time.Minute),
		Bits:       0x1d00ffff,
		Nonce:      0xdeadbeef ^ uint32(seed),
	}
}

// testTx is a segwit transaction with two inputs (one with a witness) and two
// outputs.
func testTx() *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(testHashPtr(1), 0), []byte{0x16, 0x00, 0x14, 0xaa}, [][]byte{
		bytes.Repeat([]byte{0x30}, 72),
		bytes.Repeat([]byte{0x02}, 33),
	}))
	// In a segwit transaction every input carries a (possibly empty) witness
	// stack on the wire, so the decoded form is an empty, non-nil stack.
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(testHashPtr(2), 7), []byte{0x51}, wire.TxWitness{}))
	tx.TxIn[1].Sequence = 0xfffffffd
	tx.AddTxOut(wire.NewTxOut(123_456_789, append([]byte{0x00, 0x14}, bytes.Repeat([]byte{0xab}, 20)...)))
	tx.AddTxOut(wire.NewTxOut(0, []byte{0x6a, 0x04, 'w', 'a', 't', 'c'}))
	tx.LockTime = 850_000
	return tx
}

// testLegacyTx has no witness at all.
func testLegacyTx() *wire.MsgTx {
	tx := wire.NewMsgTx(1)
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(testHashPtr(9), 1), bytes.Repeat([]byte{0x47}, 107), nil))
	tx.AddTxOut(wire.NewTxOut(5_000_000_000, append([]byte{0x76, 0xa9, 0x14}, bytes.Repeat([]byte{0xcd}, 20)...)))
	return tx
}

func testNetAddr(ip string, port uint16) *wire.NetAddress {
	return wire.NewNetAddressTimestamp(testTime, wire.SFNodeNetwork|wire.SFNodeWitness, net.ParseIP(ip), port)
}

// roundTripVector is a message built with wire's constructors with
// non-trivial field values.
type roundTripVector struct {
	name string
	msg  wire.Message
}

// roundTripVectors returns one or more messages for every command newMessage
// knows. It builds fresh values on every call.
func roundTripVectors() []roundTripVector {
	var vs []roundTripVector
	add := func(name string, m wire.Message) { vs = append(vs, roundTripVector{name, m}) }

	// version: the addresses in a version message carry no timestamp.
	you := testNetAddr("203.0.113.7", 8333)
	you.Timestamp = time.Time{}
	me := testNetAddr("2001:db8::1", 18444)
	me.Timestamp = time.Time{}
	ver := wire.NewMsgVersion(me, you, 0x0123456789abcdef, 850_123)
	ver.ProtocolVersion = int32(ProtocolVersion)
	ver.Services = wire.SFNodeNetwork | wire.SFNodeWitness | wire.SFNodeNetworkLimited
	ver.Timestamp = testTime
	ver.UserAgent = "/watchnode:0.1.0/"
	ver.DisableRelayTx = true
	add("version", ver)
	ver2 := wire.NewMsgVersion(me, you, 42, 0)
	ver2.Timestamp = testTime
	ver2.UserAgent = ""
	add("version relay empty agent", ver2)

	add("verack", wire.NewMsgVerAck())
	add("sendaddrv2", wire.NewMsgSendAddrV2())
	add("wtxidrelay", wire.NewMsgWTxIdRelay())
	add("sendcmpct", &MsgSendCmpct{Announce: true, Version: 2})
	add("sendcmpct v1 quiet", &MsgSendCmpct{Announce: false, Version: 1})
	add("getaddr", wire.NewMsgGetAddr())

	addr := wire.NewMsgAddr()
	for i, a := range []string{"198.51.100.1", "198.51.100.2", "2001:db8::42"} {
		na := testNetAddr(a, uint16(8333+i))
		na.Timestamp = testTime.Add(-time.Duration(i) * time.Hour)
		if err := addr.AddAddress(na); err != nil {
			panic(err)
		}
	}
	add("addr", addr)

	addrv2 := wire.NewMsgAddrV2()
	addrv2.AddrList = append(addrv2.AddrList,
		wire.NetAddressV2FromBytes(testTime, wire.SFNodeNetwork, []byte{192, 0, 2, 1}, 8333),
		wire.NetAddressV2FromBytes(testTime.Add(-time.Hour), wire.SFNodeNetwork|wire.SFNodeWitness,
			net.ParseIP("2001:db8::7"), 8334),
		wire.NetAddressV2FromBytes(testTime.Add(-2*time.Hour), wire.SFNodeNetworkLimited,
			bytes.Repeat([]byte{0x5a}, wire.TorV3Size), 9050),
	)
	add("addrv2", addrv2)

	getblocks := wire.NewMsgGetBlocks(testHashPtr(200))
	getblocks.ProtocolVersion = ProtocolVersion
	for i := range byte(5) {
		if err := getblocks.AddBlockLocatorHash(testHashPtr(10 * i)); err != nil {
			panic(err)
		}
	}
	add("getblocks", getblocks)

	block := wire.NewMsgBlock(testBlockHeader(3))
	if err := block.AddTransaction(testTx()); err != nil {
		panic(err)
	}
	if err := block.AddTransaction(testLegacyTx()); err != nil {
		panic(err)
	}
	add("block", block)

	invTypes := []wire.InvType{wire.InvTypeTx, wire.InvTypeBlock, wire.InvTypeWitnessTx, wire.InvTypeWitnessBlock, wire.InvTypeFilteredBlock}
	inv, getdata, notfound := wire.NewMsgInv(), wire.NewMsgGetData(), wire.NewMsgNotFound()
	for i, typ := range invTypes {
		iv := wire.NewInvVect(typ, testHashPtr(byte(i*7)))
		if err := inv.AddInvVect(iv); err != nil {
			panic(err)
		}
		if err := getdata.AddInvVect(iv); err != nil {
			panic(err)
		}
		if err := notfound.AddInvVect(iv); err != nil {
			panic(err)
		}
	}
	add("inv", inv)
	add("getdata", getdata)
	add("notfound", notfound)

	add("tx", testTx())
	add("tx legacy", testLegacyTx())
	add("ping", wire.NewMsgPing(0xfeedfacecafebeef))
	add("pong", wire.NewMsgPong(0x0102030405060708))

	getheaders := wire.NewMsgGetHeaders()
	getheaders.ProtocolVersion = ProtocolVersion
	getheaders.HashStop = testHash(250)
	for i := range byte(10) {
		if err := getheaders.AddBlockLocatorHash(testHashPtr(i * 3)); err != nil {
			panic(err)
		}
	}
	add("getheaders", getheaders)

	headers := wire.NewMsgHeaders()
	for i := range byte(4) {
		if err := headers.AddBlockHeader(testBlockHeader(i)); err != nil {
			panic(err)
		}
	}
	add("headers", headers)

	add("mempool", wire.NewMsgMemPool())
	add("filteradd", wire.NewMsgFilterAdd(bytes.Repeat([]byte{0x42}, 33)))
	add("filterclear", wire.NewMsgFilterClear())
	add("filterload", wire.NewMsgFilterLoad(bytes.Repeat([]byte{0x81, 0x18}, 50), 11, 0xabcdef01, wire.BloomUpdateP2PubkeyOnly))

	merkle := wire.NewMsgMerkleBlock(testBlockHeader(9))
	merkle.Transactions = 7
	for i := range byte(3) {
		if err := merkle.AddTxHash(testHashPtr(50 + i)); err != nil {
			panic(err)
		}
	}
	merkle.Flags = []byte{0x1d, 0x01}
	add("merkleblock", merkle)

	rejectTx := wire.NewMsgReject(wire.CmdTx, wire.RejectInsufficientFee, "min relay fee not met")
	rejectTx.Hash = testHash(77)
	add("reject tx", rejectTx)
	add("reject version", wire.NewMsgReject(wire.CmdVersion, wire.RejectObsolete, "version too old"))

	add("sendheaders", wire.NewMsgSendHeaders())
	add("feefilter", wire.NewMsgFeeFilter(1_000))
	add("getcfilters", wire.NewMsgGetCFilters(wire.GCSFilterRegular, 800_000, testHashPtr(31)))
	add("getcfheaders", wire.NewMsgGetCFHeaders(wire.GCSFilterRegular, 799_000, testHashPtr(32)))
	add("getcfcheckpt", wire.NewMsgGetCFCheckpt(wire.GCSFilterRegular, testHashPtr(33)))
	add("cfilter", wire.NewMsgCFilter(wire.GCSFilterRegular, testHashPtr(34), bytes.Repeat([]byte{0x9c, 0x01, 0x77}, 40)))

	cfheaders := wire.NewMsgCFHeaders()
	cfheaders.FilterType = wire.GCSFilterRegular
	cfheaders.StopHash = testHash(35)
	cfheaders.PrevFilterHeader = testHash(36)
	for i := range byte(6) {
		if err := cfheaders.AddCFHash(testHashPtr(60 + i)); err != nil {
			panic(err)
		}
	}
	add("cfheaders", cfheaders)

	cfcheckpt := wire.NewMsgCFCheckpt(wire.GCSFilterRegular, testHashPtr(37), 3)
	for i := range byte(3) {
		if err := cfcheckpt.AddCFHeader(testHashPtr(90 + i)); err != nil {
			panic(err)
		}
	}
	add("cfcheckpt", cfcheckpt)

	add("unknown", &MsgUnknown{Cmd: "futurecmd", Payload: []byte("opaque bytes \x00\x01\x02")})
	return vs
}

// knownCommands lists every command newMessage decodes to a typed message.
var knownCommands = []string{
	wire.CmdVersion, wire.CmdVerAck, wire.CmdSendAddrV2, wire.CmdWTxIdRelay, CmdSendCmpct,
	wire.CmdGetAddr, wire.CmdAddr, wire.CmdAddrV2, wire.CmdGetBlocks, wire.CmdBlock,
	wire.CmdInv, wire.CmdGetData, wire.CmdNotFound, wire.CmdTx, wire.CmdPing, wire.CmdPong,
	wire.CmdGetHeaders, wire.CmdHeaders, wire.CmdMemPool, wire.CmdFilterAdd, wire.CmdFilterClear,
	wire.CmdFilterLoad, wire.CmdMerkleBlock, wire.CmdReject, wire.CmdSendHeaders, wire.CmdFeeFilter,
	wire.CmdGetCFilters, wire.CmdGetCFHeaders, wire.CmdGetCFCheckpt, wire.CmdCFilter,
	wire.CmdCFHeaders, wire.CmdCFCheckpt,
}

func TestNewMessageKnowsCommands(t *testing.T) {
	for _, cmd := range knownCommands {
		m := newMessage(cmd)
		if _, unknown := m.(*MsgUnknown); unknown {
			t.Errorf("newMessage(%q) is MsgUnknown", cmd)
			continue
		}
		if m.Command() != cmd {
			t.Errorf("newMessage(%q).Command() = %q", cmd, m.Command())
		}
	}
	for _, cmd := range []string{"sendtxrcncl", "alert", "Version", "cmpctblock", "x"} {
		m, ok := newMessage(cmd).(*MsgUnknown)
		if !ok || m.Command() != cmd {
			t.Errorf("newMessage(%q) = %#v, want MsgUnknown", cmd, newMessage(cmd))
		}
	}
}

func TestRoundTripCoversEveryCommand(t *testing.T) {
	have := map[string]bool{}
	for _, v := range roundTripVectors() {
		have[v.msg.Command()] = true
	}
	var missing []string
	for _, cmd := range knownCommands {
		if !have[cmd] {
			missing = append(missing, cmd)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("no round-trip vector for %s", strings.Join(missing, ", "))
	}
}

func TestRoundTrip(t *testing.T) {
	for _, v := range roundTripVectors() {
		t.Run(v.name, func(t *testing.T) {
			payload, err := Encode(v.msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if max := v.msg.MaxPayloadLength(ProtocolVersion); uint32(len(payload)) > max {
				t.Fatalf("payload %d bytes exceeds the message's own max %d", len(payload), max)
			}

			// Encode -> Decode.
			got, err := Decode(v.msg.Command(), payload)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkSame(t, v.msg, got, payload)

			// EncodeFrame -> ReadFrame -> Decode, on every network.
			for _, n := range Networks {
				frame, err := EncodeFrame(n.Magic(), v.msg)
				if err != nil {
					t.Fatalf("EncodeFrame: %v", err)
				}
				if len(frame) != HeaderSize+len(payload) || !bytes.Equal(frame[HeaderSize:], payload) {
					t.Fatalf("%s: frame does not carry the Encode payload", n)
				}
				f, err := ReadFrame(bytes.NewReader(frame), n.Magic())
				if err != nil {
					t.Fatalf("%s: ReadFrame: %v", n, err)
				}
				if f.Command != v.msg.Command() {
					t.Fatalf("%s: frame command %q, want %q", n, f.Command, v.msg.Command())
				}
				got, err := Decode(f.Command, f.Payload)
				if err != nil {
					t.Fatalf("%s: Decode: %v", n, err)
				}
				checkSame(t, v.msg, got, payload)
			}
		})
	}
}

// checkSame compares a decoded message with the original, structurally and
// by re-encoding.
func checkSame(t *testing.T, want, got wire.Message, payload []byte) {
	t.Helper()
	if reflect.TypeOf(got) != reflect.TypeOf(want) {
		t.Fatalf("decoded %T, want %T", got, want)
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("decoded message differs\n got %+v\nwant %+v", got, want)
	}
	again, err := Encode(got)
	if err != nil {
		t.Fatalf("re-Encode: %v", err)
	}
	if !bytes.Equal(again, payload) {
		t.Fatalf("re-encoded payload differs\n got %x\nwant %x", again, payload)
	}
}

// TestDecodeDoesNotAliasPayload checks that decoded messages do not keep
// pointers into the payload buffer, which the reader may reuse.
func TestDecodeDoesNotAliasPayload(t *testing.T) {
	for _, v := range roundTripVectors() {
		payload, err := Encode(v.msg)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Clone(payload)
		m, err := Decode(v.msg.Command(), payload)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		for i := range payload {
			payload[i] ^= 0xff
		}
		got, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: decoded message changed when the payload buffer was overwritten", v.name)
		}
	}
}

func TestSendCmpctVectors(t *testing.T) {
	tests := []struct {
		payload string
		want    MsgSendCmpct
	}{
		{"010200000000000000", MsgSendCmpct{Announce: true, Version: 2}},
		{"000100000000000000", MsgSendCmpct{Announce: false, Version: 1}},
		{"020200000000000000", MsgSendCmpct{Announce: true, Version: 2}}, // any non-zero byte is true
		{"ff0807060504030201", MsgSendCmpct{Announce: true, Version: 0x0102030405060708}},
		{"01020000000000000099", MsgSendCmpct{Announce: true, Version: 2}}, // trailing byte tolerated
	}
	for _, tc := range tests {
		payload, _ := hex.DecodeString(tc.payload)
		m, err := Decode(CmdSendCmpct, payload)
		if err != nil {
			t.Fatalf("%s: %v", tc.payload, err)
		}
		got, ok := m.(*MsgSendCmpct)
		if !ok || *got != tc.want {
			t.Fatalf("%s: decoded %#v, want %#v", tc.payload, m, tc.want)
		}
	}

	enc, err := Encode(&MsgSendCmpct{Announce: true, Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	if h := hex.EncodeToString(enc); h != "010200000000000000" {
		t.Fatalf("Encode(sendcmpct 1, 2) = %s", h)
	}
	m := &MsgSendCmpct{}
	if m.Command() != "sendcmpct" || m.MaxPayloadLength(ProtocolVersion) != 9 {
		t.Fatalf("sendcmpct: command %q max %d", m.Command(), m.MaxPayloadLength(ProtocolVersion))
	}
}

func TestUnknownCommand(t *testing.T) {
	payload := []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}
	for _, cmd := range []string{"sendtxrcncl", "cmpctblock", "zz"} {
		m, err := Decode(cmd, payload)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		u, ok := m.(*MsgUnknown)
		if !ok {
			t.Fatalf("%s: decoded %T, want *MsgUnknown", cmd, m)
		}
		if u.Cmd != cmd || u.Command() != cmd || !bytes.Equal(u.Payload, payload) {
			t.Fatalf("%s: got %#v", cmd, u)
		}
		if u.MaxPayloadLength(ProtocolVersion) != MaxPayload {
			t.Fatalf("MsgUnknown max %d", u.MaxPayloadLength(ProtocolVersion))
		}
		enc, err := Encode(u)
		if err != nil || !bytes.Equal(enc, payload) {
			t.Fatalf("%s: re-encoded %x, %v", cmd, enc, err)
		}
		// Framing keeps the command.
		frame, err := EncodeFrame(testMagic, u)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ReadFrame(bytes.NewReader(frame), testMagic)
		if err != nil || f.Command != cmd || !bytes.Equal(f.Payload, payload) {
			t.Fatalf("%s: frame %q %x %v", cmd, f.Command, f.Payload, err)
		}
	}
	m, err := Decode("nothing", nil)
	if err != nil || len(m.(*MsgUnknown).Payload) != 0 {
		t.Fatalf("empty unknown: %#v %v", m, err)
	}
}

func TestDecodeMalformed(t *testing.T) {
	version, err := Encode(roundTripVectors()[0].msg)
	if err != nil {
		t.Fatal(err)
	}
	headersCount2001 := []byte{0xfd, 0xd1, 0x07} // varint 2001
	headersCount2001 = append(headersCount2001, make([]byte, 81)...)
	tests := []struct {
		name    string
		command string
		payload []byte
	}{
		{"version truncated in the fixed part", wire.CmdVersion, version[:20]},
		{"version truncated in the user agent", wire.CmdVersion, version[:85]},
		{"version empty", wire.CmdVersion, nil},
		{"version user agent too long", wire.CmdVersion, versionWithUserAgent(t, strings.Repeat("a", wire.MaxUserAgentLen+1))},
		{"headers count 2001", wire.CmdHeaders, headersCount2001},
		{"headers with a transaction count", wire.CmdHeaders, append(append([]byte{0x01}, make([]byte, 80)...), 0x01)},
		{"inv count 50001 without items", wire.CmdInv, []byte{0xfd, 0x51, 0xc3}},
		{"inv count 70000 without items", wire.CmdInv, []byte{0xfe, 0x70, 0x11, 0x01, 0x00}},
		{"inv count 2^64-1", wire.CmdInv, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"inv count 2 with one item", wire.CmdInv, append([]byte{0x02, 0x01, 0x00, 0x00, 0x00}, make([]byte, 32)...)},
		{"getdata non-canonical varint", wire.CmdGetData, []byte{0xfd, 0x01, 0x00}},
		{"sendcmpct 8 bytes", CmdSendCmpct, []byte{1, 2, 0, 0, 0, 0, 0, 0}},
		{"sendcmpct empty", CmdSendCmpct, nil},
		{"ping short", wire.CmdPing, []byte{1, 2, 3}},
		{"tx empty", wire.CmdTx, nil},
		{"tx witness flag without witness", wire.CmdTx, superfluousWitnessTx(t)},
		{"block header only, no count", wire.CmdBlock, make([]byte, 80)},
		{"addr count 1001", wire.CmdAddr, []byte{0xfd, 0xe9, 0x03}},
		{"feefilter short", wire.CmdFeeFilter, []byte{1}},
		{"filteradd too big", wire.CmdFilterAdd, append([]byte{0xfd, 0x09, 0x02}, make([]byte, 521)...)},
		{"cfheaders truncated", wire.CmdCFHeaders, []byte{0}},
		{"getcfilters truncated", wire.CmdGetCFilters, []byte{0, 1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.command, tc.payload)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %#v, %v; want error wrapping ErrMalformed", m, err)
			}
			if m != nil {
				t.Fatalf("message returned with error: %#v", m)
			}
			if !strings.Contains(err.Error(), tc.command) {
				t.Fatalf("error %q does not name the command", err)
			}
			t.Log(err)
		})
	}
}

func versionWithUserAgent(t *testing.T, ua string) []byte {
	t.Helper()
	// wire refuses to encode an over-long user agent, so encode a one-byte
	// agent and splice the long one in.
	v := roundTripVectors()[0].msg.(*wire.MsgVersion)
	v.UserAgent = "x"
	b, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	// The user agent follows version(4) services(8) time(8) addrYou(26)
	// addrMe(26) nonce(8) = 80 bytes.
	if b[80] != 1 || b[81] != 'x' {
		t.Fatalf("unexpected version layout: %x", b[78:84])
	}
	var out bytes.Buffer
	out.Write(b[:80])
	if err := wire.WriteVarInt(&out, ProtocolVersion, uint64(len(ua))); err != nil {
		t.Fatal(err)
	}
	out.WriteString(ua)
	out.Write(b[82:])
	return out.Bytes()
}

// superfluousWitnessTx is a transaction with the segwit marker and flag but
// an empty witness for its only input, which wire rejects.
func superfluousWitnessTx(t *testing.T) []byte {
	t.Helper()
	var b []byte
	b = append(b, 2, 0, 0, 0) // version
	b = append(b, 0x00, 0x01) // marker, flag
	b = append(b, 0x01)       // one input
	b = append(b, make([]byte, 36)...)
	b = append(b, 0x00)                   // empty script
	b = append(b, 0xff, 0xff, 0xff, 0xff) // sequence
	b = append(b, 0x01)                   // one output
	b = append(b, make([]byte, 8)...)
	b = append(b, 0x01, 0x51) // pkscript OP_TRUE
	b = append(b, 0x00)       // empty witness
	b = append(b, 0, 0, 0, 0) // locktime
	return b
}

func TestDecodeToleratesTrailingBytes(t *testing.T) {
	for _, v := range roundTripVectors() {
		payload, err := Encode(v.msg)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := v.msg.(*MsgUnknown); ok {
			continue
		}
		m, err := Decode(v.msg.Command(), append(bytes.Clone(payload), 0x00, 0x11, 0x22))
		if err != nil {
			t.Errorf("%s: trailing bytes rejected: %v", v.name, err)
			continue
		}
		again, err := Encode(m)
		if err != nil || !bytes.Equal(again, payload) {
			t.Errorf("%s: trailing bytes changed the message: %v", v.name, err)
		}
	}
}

func TestParseNetwork(t *testing.T) {
	for _, n := range Networks {
		got, err := ParseNetwork(string(n))
		if err != nil || got != n {
			t.Errorf("ParseNetwork(%q) = %q, %v", n, got, err)
		}
	}
	for _, name := range []string{"", "Mainnet", "main", "testnet", "mainnet ", "simnet", "regtest\x00"} {
		got, err := ParseNetwork(name)
		if err == nil || got != "" {
			t.Errorf("ParseNetwork(%q) = %q, %v; want error", name, got, err)
			continue
		}
		for _, n := range Networks {
			if !strings.Contains(err.Error(), string(n)) {
				t.Errorf("ParseNetwork(%q) error %q does not list %s", name, err, n)
			}
		}
	}
}

func TestNetworkParams(t *testing.T) {
	ports := map[Network]string{
		Mainnet: "8333", Testnet3: "18333", Testnet4: "48333", Signet: "38333", Regtest: "18444",
	}
	seen := map[wire.BitcoinNet]Network{}
	for _, n := range Networks {
		if got := n.DefaultPort(); got != ports[n] {
			t.Errorf("%s DefaultPort = %s, want %s", n, got, ports[n])
		}
		if other, dup := seen[n.Magic()]; dup {
			t.Errorf("%s and %s share magic %08x", n, other, uint32(n.Magic()))
		}
		seen[n.Magic()] = n
		got, ok := NetworkByMagic(n.Magic())
		if !ok || got != n {
			t.Errorf("NetworkByMagic(%s magic %08x) = %q, %v", n, uint32(n.Magic()), got, ok)
		}
	}
	if n, ok := NetworkByMagic(0x12345678); ok || n != "" {
		t.Errorf("NetworkByMagic(unknown) = %q, %v", n, ok)
	}
	if Mainnet.Magic() != wire.MainNet || Regtest.Magic() != wire.TestNet || Testnet3.Magic() != wire.TestNet3 {
		t.Errorf("magics disagree with wire's constants")
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Params of an unknown network did not panic")
		}
	}()
	Network("simnet").Params()
}

func TestProtocolVersions(t *testing.T) {
	if ProtocolVersion != 70016 {
		t.Errorf("ProtocolVersion = %d", ProtocolVersion)
	}
	if MinPeerProtocolVersion > ProtocolVersion {
		t.Errorf("MinPeerProtocolVersion %d above ProtocolVersion %d", MinPeerProtocolVersion, ProtocolVersion)
	}
}

// TestDecodeAllocationBound: wire sizes its allocations from the counts a
// message declares, before the bytes behind them are read; Decode's precheck
// must stop a few bytes of payload from making it allocate megabytes.
func TestDecodeAllocationBound(t *testing.T) {
	witnessTx := []byte{2, 0, 0, 0, 0x00, 0x01, 0x01} // version, marker, flag, one input
	witnessTx = append(witnessTx, make([]byte, 36)...)
	witnessTx = append(witnessTx, 0x00, 0xff, 0xff, 0xff, 0xff) // empty script, sequence
	witnessTx = append(witnessTx, 0x00)                         // no outputs
	witnessTx = append(witnessTx, 0xfe, 0x00, 0x09, 0x3d, 0x00) // 4,000,000 witness items
	tests := []struct {
		name    string
		command string
		payload []byte
	}{
		{"reject with a 32 MiB command string", wire.CmdReject, []byte{0xfe, 0x00, 0x00, 0x00, 0x02}},
		{"version with a 32 MiB user agent", wire.CmdVersion, append(make([]byte, 80), 0xfe, 0x00, 0x00, 0x00, 0x02)},
		{"tx with 818,000 inputs", wire.CmdTx, []byte{1, 0, 0, 0, 0xfe, 0x50, 0x7b, 0x0c, 0x00}},
		{"tx with 4,000,000 witness items", wire.CmdTx, witnessTx},
	}
	// Warm wire's pools (a tx decode borrows a 4 MiB script slab).
	_, _ = Decode(wire.CmdTx, []byte{1, 0, 0, 0, 1})
	for _, tc := range tests {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Decode(tc.command, tc.payload)
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		if err == nil {
			t.Errorf("%s: decoded", tc.name)
		}
		// Allow 1,000x the payload plus 1 MiB; wire allocates far more.
		if limit := uint64(1000*len(tc.payload) + 1<<20); allocated > limit {
			t.Errorf("%s: %d-byte payload made Decode allocate %d bytes (limit %d)", tc.name, len(tc.payload), allocated, limit)
		}
	}
}

func TestAppendCompactSizeAgreesWithWire(t *testing.T) {
	for _, n := range []uint64{0, 1, 0xfc, 0xfd, 0xffff, 0x10000, 0xffffffff, 0x100000000, math.MaxUint64} {
		var buf bytes.Buffer
		if err := wire.WriteVarInt(&buf, 0, n); err != nil {
			t.Fatal(err)
		}
		if got := AppendCompactSize(nil, n); !bytes.Equal(got, buf.Bytes()) {
			t.Errorf("%d: %x, wire %x", n, got, buf.Bytes())
		}
	}
}
