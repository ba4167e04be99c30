package protocol

import (
	"bytes"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// checkSummary checks the promises Summary makes for any message: non-empty,
// valid UTF-8, at most summaryMaxRunes runes, one line, nothing that could
// hide or reorder the rest of the line.
func checkSummary(t *testing.T, s string) {
	t.Helper()
	if s == "" {
		t.Fatal("empty summary")
	}
	if !utf8.ValidString(s) {
		t.Fatalf("summary is not valid UTF-8: %q", s)
	}
	if n := utf8.RuneCountInString(s); n > summaryMaxRunes {
		t.Fatalf("summary has %d runes, cap %d: %q", n, summaryMaxRunes, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Cf) {
			t.Fatalf("summary contains %U: %q", r, s)
		}
	}
}

func TestShortHash(t *testing.T) {
	if got, want := ShortHash(*chaincfg.MainNetParams.GenesisHash), "00000000…0a8ce26f"; got != want {
		t.Errorf("ShortHash(genesis) = %q, want %q", got, want)
	}
	if got, want := ShortHash(chainhash.Hash{}), "00000000…00000000"; got != want {
		t.Errorf("ShortHash(zero) = %q, want %q", got, want)
	}
	// testHash(0) holds bytes 0x00..0x1f; the display order is reversed.
	if got, want := ShortHash(testHash(0)), "1f1e1d1c…03020100"; got != want {
		t.Errorf("ShortHash(testHash(0)) = %q, want %q", got, want)
	}
}

func TestSummary(t *testing.T) {
	ver := func(pver int32, ua string, height int32, services wire.ServiceFlag, noRelay bool) *wire.MsgVersion {
		m := wire.NewMsgVersion(testNetAddr("2001:db8::1", 18444), testNetAddr("203.0.113.7", 8333), 42, height)
		m.ProtocolVersion = pver
		m.UserAgent = ua
		m.Services = services
		m.DisableRelayTx = noRelay
		return m
	}

	addr := func(ips ...string) *wire.MsgAddr {
		m := wire.NewMsgAddr()
		for i, ip := range ips {
			if err := m.AddAddress(testNetAddr(ip, uint16(8333+i))); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	addrv2 := wire.NewMsgAddrV2()
	addrv2.AddrList = append(addrv2.AddrList,
		wire.NetAddressV2FromBytes(testTime, wire.SFNodeNetwork, []byte{192, 0, 2, 1}, 8333),
		wire.NetAddressV2FromBytes(testTime, wire.SFNodeNetwork, net.ParseIP("2001:db8::7"), 8334))
	torv2 := wire.NewMsgAddrV2()
	torv2.AddrList = append(torv2.AddrList,
		wire.NetAddressV2FromBytes(testTime, 0, bytes.Repeat([]byte{0x5a}, wire.TorV3Size), 9050))
	onion := torv2.AddrList[0].Addr.String()

	locator := func(getheaders bool, n byte, stop chainhash.Hash) wire.Message {
		gb, gh := wire.NewMsgGetBlocks(&stop), wire.NewMsgGetHeaders()
		gh.HashStop = stop
		for i := range n {
			if err := gb.AddBlockLocatorHash(testHashPtr(i)); err != nil {
				t.Fatal(err)
			}
			if err := gh.AddBlockLocatorHash(testHashPtr(i)); err != nil {
				t.Fatal(err)
			}
		}
		if getheaders {
			return gh
		}
		return gb
	}

	headers := func(n byte) *wire.MsgHeaders {
		m := wire.NewMsgHeaders()
		for i := range n {
			if err := m.AddBlockHeader(testBlockHeader(i)); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}

	inv := func(m interface{ AddInvVect(*wire.InvVect) error }, types ...wire.InvType) wire.Message {
		for i, typ := range types {
			if err := m.AddInvVect(wire.NewInvVect(typ, testHashPtr(byte(i)))); err != nil {
				t.Fatal(err)
			}
		}
		return m.(wire.Message)
	}

	block := wire.NewMsgBlock(testBlockHeader(3))
	for _, tx := range []*wire.MsgTx{testTx(), testLegacyTx()} {
		if err := block.AddTransaction(tx); err != nil {
			t.Fatal(err)
		}
	}
	oneTxBlock := wire.NewMsgBlock(testBlockHeader(4))
	if err := oneTxBlock.AddTransaction(testLegacyTx()); err != nil {
		t.Fatal(err)
	}

	hostileTx := testLegacyTx()
	hostileTx.AddTxOut(wire.NewTxOut(math.MaxInt64, nil))
	negativeTx := testLegacyTx()
	negativeTx.TxOut[0].Value = -1

	merkle := wire.NewMsgMerkleBlock(testBlockHeader(9))
	merkle.Transactions = 7
	for i := range byte(3) {
		if err := merkle.AddTxHash(testHashPtr(50 + i)); err != nil {
			t.Fatal(err)
		}
	}
	merkle.Flags = []byte{0x1d, 0x01}

	rejectTx := wire.NewMsgReject(wire.CmdTx, wire.RejectInsufficientFee, "min relay fee not met")
	rejectTx.Hash = testHash(0)
	rejectBlockNoHash := wire.NewMsgReject(wire.CmdBlock, wire.RejectInvalid, "")

	cfheaders := wire.NewMsgCFHeaders()
	cfheaders.StopHash = testHash(0)
	cfheaders.PrevFilterHeader = testHash(1)
	for i := range byte(6) {
		if err := cfheaders.AddCFHash(testHashPtr(60 + i)); err != nil {
			t.Fatal(err)
		}
	}
	cfcheckpt := wire.NewMsgCFCheckpt(wire.GCSFilterRegular, testHashPtr(0), 3)
	for i := range byte(3) {
		if err := cfcheckpt.AddCFHeader(testHashPtr(90 + i)); err != nil {
			t.Fatal(err)
		}
	}
	cfilterOther := wire.NewMsgCFilter(7, testHashPtr(0), nil)

	h0, h1, h3 := ShortHash(testHash(0)), ShortHash(testHash(1)), ShortHash(testHash(3))
	tests := []struct {
		name string
		msg  wire.Message
		want string
	}{
		{"version", ver(70016, "/Satoshi:27.0.0/", 850_000, wire.SFNodeNetwork|wire.SFNodeWitness, false),
			"v70016 /Satoshi:27.0.0/ height 850000 services NETWORK|WITNESS relay"},
		{"version no relay, no agent, no services", ver(70015, "", 0, 0, true),
			`v70015 "" height 0 services NONE no relay`},
		{"version every named service and two unknown", ver(70016, "/btcwire:0.5.0/", 1,
			wire.SFNodeNetwork|wire.SFNodeGetUTXO|wire.SFNodeBloom|wire.SFNodeWitness|wire.SFNodeCF|
				wire.SFNodeNetworkLimited|wire.SFNodeP2PV2|1<<24, false),
			"v70016 /btcwire:0.5.0/ height 1 services " +
				"NETWORK|UNKNOWN[2^1]|BLOOM|WITNESS|COMPACT_FILTERS|NETWORK_LIMITED|P2P_V2|UNKNOWN[2^24] relay"},
		{"version many unknown services", ver(70016, "/x/", 1, 1<<1|1<<4|1<<5|1<<40|1<<63, false),
			"v70016 /x/ height 1 services UNKNOWN[2^1]|UNKNOWN[2^4]|+3 UNKNOWN relay"},
		{"verack", wire.NewMsgVerAck(), "handshake acknowledged"},
		{"sendaddrv2", wire.NewMsgSendAddrV2(), "prefers addrv2 addresses"},
		{"wtxidrelay", wire.NewMsgWTxIdRelay(), "relays transactions by wtxid"},
		{"sendheaders", wire.NewMsgSendHeaders(), "announce blocks with headers"},
		{"getaddr", wire.NewMsgGetAddr(), "requests addresses"},
		{"mempool", wire.NewMsgMemPool(), "requests mempool contents"},
		{"filterclear", wire.NewMsgFilterClear(), "clears bloom filter"},
		{"sendcmpct", &MsgSendCmpct{Announce: true, Version: 2}, "compact blocks v2, announce"},
		{"sendcmpct quiet", &MsgSendCmpct{Version: 1}, "compact blocks v1, no announce"},
		{"ping", wire.NewMsgPing(0x1a2b3c4d5e6f7081), "nonce 0x1a2b3c4d5e6f7081"},
		{"pong", wire.NewMsgPong(7), "nonce 0x0000000000000007"},
		{"feefilter", wire.NewMsgFeeFilter(1000), "min fee 1000 sat/kvB"},
		{"addr", addr("198.51.100.1", "198.51.100.2", "2001:db8::42"), "3 addresses, first 198.51.100.1:8333"},
		{"addr one ipv6", addr("2001:db8::42"), "1 address: [2001:db8::42]:8333"},
		{"addr empty", addr(), "0 addresses"},
		{"addrv2", addrv2, "2 addresses, first 192.0.2.1:8333"},
		{"addrv2 tor", torv2, "1 address: " + onion + ":9050"},
		{"addrv2 empty", wire.NewMsgAddrV2(), "0 addresses"},
		{"getheaders", locator(true, 31, chainhash.Hash{}), "locator 31 hashes from " + h0 + ", stop none"},
		{"getheaders stop", locator(true, 1, testHash(1)), "locator 1 hash from " + h0 + ", stop " + h1},
		{"getheaders empty", locator(true, 0, chainhash.Hash{}), "locator empty, stop none"},
		{"getblocks", locator(false, 2, testHash(1)), "locator 2 hashes from " + h0 + ", stop " + h1},
		{"headers", headers(4), "4 headers, " + ShortHash(testBlockHeader(0).BlockHash()) +
			" .. " + ShortHash(testBlockHeader(3).BlockHash())},
		{"headers one", headers(1), "1 header, " + ShortHash(testBlockHeader(0).BlockHash())},
		{"headers none", headers(0), "0 headers"},
		{"inv", inv(wire.NewMsgInv(), wire.InvTypeTx, wire.InvTypeBlock, wire.InvTypeTx), "3 items: 2 tx, 1 block"},
		{"inv one", inv(wire.NewMsgInv(), wire.InvTypeWitnessBlock), "1 item: witness block " + h0},
		{"inv none", wire.NewMsgInv(), "0 items"},
		{"inv every type", inv(wire.NewMsgInv(), wire.InvTypeFilteredWitnessBlock, wire.InvTypeFilteredBlock,
			wire.InvTypeFilteredBlock, 4, 5, 5, wire.InvTypeWitnessTx, wire.InvTypeError, 0x99),
			"9 items: 1 filtered witness block, 2 filtered blocks, 1 compact block, 2 wtx, 3 other"},
		{"inv unknown types", inv(wire.NewMsgInv(), wire.InvTypeError, wire.InvTypeError, 0x99, 0x40000009),
			"4 items: 2 errors, 1 unknown 0x99, 1 unknown 0x40000009"},
		{"getdata", inv(wire.NewMsgGetData(), wire.InvTypeWitnessTx, wire.InvTypeWitnessTx),
			"2 items: 2 witness tx"},
		{"notfound", inv(wire.NewMsgNotFound(), wire.InvTypeTx), "1 item: tx " + h0},
		{"block", block, "block " + ShortHash(block.BlockHash()) + ", 2 txs"},
		{"block one tx", oneTxBlock, "block " + ShortHash(oneTxBlock.BlockHash()) + ", 1 tx"},
		{"tx", testTx(), "tx " + ShortHash(testTx().TxHash()) + ", 2 in, 2 out, 1.23456789 BTC, segwit"},
		{"tx legacy", testLegacyTx(), "tx " + ShortHash(testLegacyTx().TxHash()) + ", 1 in, 1 out, 50.00000000 BTC"},
		{"tx overflowing value", hostileTx, "tx " + ShortHash(hostileTx.TxHash()) + ", 1 in, 2 out"},
		{"tx negative value", negativeTx, "tx " + ShortHash(negativeTx.TxHash()) + ", 1 in, 1 out"},
		{"tx empty", wire.NewMsgTx(1), "tx " + ShortHash(wire.NewMsgTx(1).TxHash()) + ", 0 in, 0 out"},
		{"merkleblock", merkle, "block " + ShortHash(merkle.Header.BlockHash()) + ", 7 txs, 3 hashes, 2 flag bytes"},
		{"filterload", wire.NewMsgFilterLoad(make([]byte, 100), 11, 0xabcdef01, wire.BloomUpdateP2PubkeyOnly),
			"bloom filter 100 bytes, 11 hash funcs, tweak 0xabcdef01, update p2pubkey only"},
		{"filterload odd", wire.NewMsgFilterLoad(nil, 1, 0, 9), "bloom filter 0 bytes, 1 hash func, tweak 0x00000000, update mode 9"},
		{"filteradd", wire.NewMsgFilterAdd(make([]byte, 33)), "adds 33-byte element to bloom filter"},
		{"reject tx", rejectTx, `rejected tx ` + h0 + `: insufficientfee "min relay fee not met"`},
		{"reject version", wire.NewMsgReject(wire.CmdVersion, wire.RejectObsolete, "version too old"),
			`rejected version: obsolete "version too old"`},
		{"reject block no reason", rejectBlockNoHash, "rejected block: invalid"},
		{"reject unknown code", wire.NewMsgReject("", 0x99, "?"), `rejected "": code 0x99 "?"`},
		{"getcfilters", wire.NewMsgGetCFilters(wire.GCSFilterRegular, 800_000, testHashPtr(0)),
			"basic filters from height 800000 to " + h0},
		{"getcfheaders", wire.NewMsgGetCFHeaders(wire.GCSFilterRegular, 799_000, testHashPtr(0)),
			"basic filter headers from height 799000 to " + h0},
		{"getcfcheckpt", wire.NewMsgGetCFCheckpt(wire.GCSFilterRegular, testHashPtr(3)), "basic filter checkpoints to " + h3},
		{"cfilter", wire.NewMsgCFilter(wire.GCSFilterRegular, testHashPtr(0), make([]byte, 120)),
			"basic filter for " + h0 + ", 120 bytes"},
		{"cfilter other type", cfilterOther, "type 7 filter for " + h0 + ", 0 bytes"},
		{"cfheaders", cfheaders, "6 basic filter hashes to " + h0 + ", prev " + h1},
		{"cfcheckpt", cfcheckpt, "3 basic filter checkpoints to " + h0},
		{"unknown", &MsgUnknown{Cmd: "futurecmd", Payload: make([]byte, 12)}, `unknown command "futurecmd", 12 bytes`},
		{"unknown one byte", &MsgUnknown{Cmd: "x", Payload: []byte{1}}, `unknown command "x", 1 byte`},
		{"unknown hostile name", &MsgUnknown{Cmd: "bad\x1b[2J\xffname"}, `unknown command "bad�[2J�name", 0 bytes`},
		{"unknown long name", &MsgUnknown{Cmd: strings.Repeat("a", 40)}, `unknown command "aaaaaaaaaaa…", 0 bytes`},
		{"nil", nil, "no message"},
		{"typed nil", (*wire.MsgPing)(nil), "nil message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summary(tt.msg)
			if got != tt.want {
				t.Errorf("Summary =\n %q\nwant\n %q", got, tt.want)
			}
			checkSummary(t, got)
		})
	}
}

// TestSummaryCoversEveryCommand checks that every type the codec decodes has
// its own summary, even with zero field values, and that every round-trip
// vector gives a well-formed one.
func TestSummaryCoversEveryCommand(t *testing.T) {
	for _, cmd := range append(append([]string(nil), knownCommands...), "futurecmd") {
		msg := newMessage(cmd)
		got := Summary(msg)
		checkSummary(t, got)
		if fallback := cmd + " message"; got == fallback {
			t.Errorf("%s: no summary of its own (%q)", cmd, got)
		}
	}
	for _, v := range roundTripVectors() {
		payload, err := Encode(v.msg)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		decoded, err := Decode(v.msg.Command(), payload)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		want := Summary(v.msg)
		checkSummary(t, want)
		if got := Summary(decoded); got != want {
			t.Errorf("%s: decoded message summarised as %q, built one as %q", v.name, got, want)
		}
	}
}

// summaryOtherMessage is a wire.Message type the codec never returns.
type summaryOtherMessage struct{ wire.MsgVerAck }

func (summaryOtherMessage) Command() string { return "other\nthing" }

func TestSummaryFallback(t *testing.T) {
	got := Summary(&summaryOtherMessage{})
	if want := "other�thing message"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

func TestSummarySanitizesPeerStrings(t *testing.T) {
	t.Run("user agent", func(t *testing.T) {
		m := wire.NewMsgVersion(testNetAddr("::1", 1), testNetAddr("::1", 1), 1, 5)
		m.ProtocolVersion = 70016
		m.Services = wire.SFNodeNetwork
		m.UserAgent = "/evil:1.0/\n\r\t\x00\x1b[31m\x7f\u0085\u2028\u202e\u200b\xff\xfe" + "ok"
		got := Summary(m)
		want := "v70016 /evil:1.0/" + strings.Repeat("\ufffd", 5) + "[31m" + strings.Repeat("\ufffd", 7) +
			"ok height 5 services NETWORK relay"
		if got != want {
			t.Errorf("Summary =\n %q\nwant\n %q", got, want)
		}
		checkSummary(t, got)
	})
	t.Run("long user agent", func(t *testing.T) {
		m := wire.NewMsgVersion(testNetAddr("::1", 1), testNetAddr("::1", 1), 1, 5)
		m.ProtocolVersion = 70016
		m.Services = wire.SFNodeNetwork
		m.UserAgent = "/" + strings.Repeat("é", 100) + "/"
		got := Summary(m)
		want := "v70016 /" + strings.Repeat("é", maxUserAgentRunes-2) + "… height 5 services NETWORK relay"
		if got != want {
			t.Errorf("Summary =\n %q\nwant\n %q", got, want)
		}
		checkSummary(t, got)
	})
	t.Run("reject reason", func(t *testing.T) {
		m := wire.NewMsgReject("tx\n", wire.RejectDust, "dust\r\nFAKE LINE\x00\xc3\x28 \u2029end")
		got := Summary(m)
		want := "rejected tx\ufffd: dust \"dust\ufffd\ufffdFAKE LINE\ufffd\ufffd( \ufffdend\""
		if got != want {
			t.Errorf("Summary =\n %q\nwant\n %q", got, want)
		}
		checkSummary(t, got)
	})
	t.Run("long reject reason", func(t *testing.T) {
		m := wire.NewMsgReject(strings.Repeat("c", 20), wire.RejectDust, strings.Repeat("r", 500))
		got := Summary(m)
		want := "rejected " + strings.Repeat("c", CommandSize-1) + "…: dust \"" +
			strings.Repeat("r", maxReasonRunes-1) + "…\""
		if got != want {
			t.Errorf("Summary =\n %q\nwant\n %q", got, want)
		}
		checkSummary(t, got)
	})
}

func TestSummaryCap(t *testing.T) {
	m := wire.NewMsgVersion(testNetAddr("::1", 1), testNetAddr("::1", 1), 1, math.MinInt32)
	m.ProtocolVersion = math.MinInt32
	m.UserAgent = strings.Repeat("界", 200)
	m.Services = math.MaxUint64
	got := Summary(m)
	checkSummary(t, got)
	if n := utf8.RuneCountInString(got); n != summaryMaxRunes || !strings.HasSuffix(got, "…") {
		t.Errorf("Summary has %d runes, want the cap %d ending in …: %q", n, summaryMaxRunes, got)
	}
	if want := "v-2147483648 " + strings.Repeat("界", maxUserAgentRunes-1) + "… height -2147483648 services NETWORK|"; !strings.HasPrefix(got, want) {
		t.Errorf("Summary = %q, want prefix %q", got, want)
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"", 5, ""},
		{"plain", 5, "plain"},
		{"plain!", 5, "plai…"},
		{"héllo", 5, "héllo"},
		{"héllo!", 5, "héll…"},
		{"a\tb", 5, "a\ufffdb"},
		{"\xff\xfe\xfd\xfc\xfb\xfa", 5, "\ufffd\ufffd\ufffd\ufffd…"},
		{"\ufffd", 1, "\ufffd"},
		{"ab", 1, "…"},
		{"x\u2066y\u2069z", 10, "x\ufffdy\ufffdz"}, // bidi isolates
	}
	for _, tt := range tests {
		if got := OneLine(tt.in, tt.max); got != tt.want {
			t.Errorf("OneLine(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// FuzzSummary decodes arbitrary payloads under a command chosen by the input
// (every known command, or an arbitrary one for MsgUnknown) and checks that
// Summary of whatever decodes is a well-formed line.
func FuzzSummary(f *testing.F) {
	commands := knownCommands
	for _, v := range roundTripVectors() {
		payload, err := Encode(v.msg)
		if err != nil {
			f.Fatalf("%s: %v", v.name, err)
		}
		index := len(commands)
		for i, c := range commands {
			if c == v.msg.Command() {
				index = i
			}
		}
		f.Add(byte(index), v.msg.Command(), payload)
	}
	// A version with a hostile user agent, and a reject with a hostile reason.
	hostile := wire.NewMsgVersion(testNetAddr("::1", 1), testNetAddr("::1", 1), 1, 1)
	hostile.UserAgent = "/a\nb\x00\xff\u202e/" + strings.Repeat("x", 200)
	reject := wire.NewMsgReject("tx", wire.RejectDust, "\r\n\xc3\x28"+strings.Repeat("y", 300))
	for _, m := range []wire.Message{hostile, reject} {
		payload, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := Decode(m.Command(), payload); err != nil {
			f.Fatalf("hostile %s seed does not decode: %v", m.Command(), err)
		}
		for i, c := range commands {
			if c == m.Command() {
				f.Add(byte(i), "", payload)
			}
		}
	}
	f.Add(byte(len(commands)), "bad\x1b\xff", []byte("opaque"))

	f.Fuzz(func(t *testing.T, index byte, unknown string, payload []byte) {
		command := unknown
		if i := int(index) % (len(commands) + 1); i < len(commands) {
			command = commands[i]
		}
		msg, err := Decode(command, payload)
		if err != nil {
			return
		}
		checkSummary(t, Summary(msg))
	})
}

func TestServiceNames(t *testing.T) {
	got := ServiceNames(wire.SFNodeNetwork | wire.SFNodeNetworkLimited | wire.SFNodeP2PV2 | 1<<40)
	want := []string{"NETWORK", "NETWORK_LIMITED", "P2P_V2", "UNKNOWN[2^40]"}
	if !slices.Equal(got, want) {
		t.Errorf("ServiceNames = %v, want %v", got, want)
	}
	if got := ServiceNames(0); got == nil || len(got) != 0 {
		t.Errorf("ServiceNames(0) = %#v, want empty", got)
	}
}
