package inspect

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

func encode(t testing.TB, msg wire.Message) []byte {
	t.Helper()
	b, err := protocol.Encode(msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkTiling checks that the read (non-computed) fields in fs cover
// [start, end) exactly, in order, and recursively that every group's read
// children cover the group; computed fields must point inside the payload.
func checkTiling(t testing.TB, fs []Field, start, end, payloadLen int, path string) {
	t.Helper()
	at := start
	for _, f := range fs {
		p := path + "/" + f.Name
		if f.Offset < 0 || f.Length < 0 || f.Offset+f.Length > payloadLen {
			t.Errorf("%s: [%d,+%d) outside payload of %d", p, f.Offset, f.Length, payloadLen)
		}
		if f.Computed {
			continue
		}
		if f.Offset != at {
			t.Errorf("%s at offset %d, want %d", p, f.Offset, at)
		}
		at = f.Offset + f.Length
		if hasRead(f.Children) {
			checkTiling(t, f.Children, f.Offset, f.Offset+f.Length, payloadLen, p)
		}
	}
	if at != end {
		t.Errorf("%s: fields end at %d, want %d", path, at, end)
	}
}

func hasRead(fs []Field) bool {
	for _, f := range fs {
		if !f.Computed {
			return true
		}
	}
	return false
}

// find returns the field at a "/"-separated path of names.
func find(fs []Field, path string) (Field, bool) {
	parts := strings.Split(path, "/")
	var cur Field
	for _, name := range parts {
		found := false
		for _, f := range fs {
			if f.Name == name {
				cur, fs, found = f, f.Children, true
				break
			}
		}
		if !found {
			return Field{}, false
		}
	}
	return cur, true
}

func mustFind(t testing.TB, m Message, path string) Field {
	t.Helper()
	f, ok := find(m.Fields, path)
	if !ok {
		t.Fatalf("%s: no field %q", m.Command, path)
	}
	return f
}

func hashOf(s string) *chainhash.Hash {
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		panic(err)
	}
	return h
}

const (
	hashA = "000000000000000000011d55599ed27d7efca05f5849b755319c89eb2cffbc1f"
	hashB = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
)

func sampleTx(segwit bool) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	in := wire.NewTxIn(wire.NewOutPoint(hashOf(hashA), 3), []byte{0x51}, nil)
	in.Sequence = 0xfffffffd
	if segwit {
		in.Witness = wire.TxWitness{bytes.Repeat([]byte{0x30}, 71), bytes.Repeat([]byte{0x02}, 33)}
	}
	tx.AddTxIn(in)
	p2wpkh := append([]byte{0x00, 0x14}, bytes.Repeat([]byte{0xab}, 20)...)
	tx.AddTxOut(wire.NewTxOut(123456789, p2wpkh))
	tx.AddTxOut(wire.NewTxOut(0, []byte{0x6a, 0x04, 0xde, 0xad, 0xbe, 0xef}))
	tx.LockTime = 830000
	return tx
}

func sampleHeader() *wire.BlockHeader {
	// Mainnet genesis: its hash meets its target.
	return &wire.BlockHeader{
		Version:    1,
		MerkleRoot: *hashOf("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"),
		Timestamp:  time.Unix(1231006505, 0),
		Bits:       0x1d00ffff,
		Nonce:      2083236893,
	}
}

func TestDecodeMessages(t *testing.T) {
	me := wire.NewNetAddressIPPort(net.ParseIP("203.0.113.7"), 8333, wire.SFNodeNetwork|wire.SFNodeWitness)
	you := wire.NewNetAddressIPPort(net.ParseIP("2001:db8::1"), 18333, 0)
	version := wire.NewMsgVersion(me, you, 0x1122334455667788, 830000)
	version.UserAgent = "/watchnode:0.1/"
	version.Timestamp = time.Unix(1700000000, 0)
	version.Services = wire.SFNodeNetwork | wire.SFNodeWitness | wire.SFNodeNetworkLimited

	addr := wire.NewMsgAddr()
	na := wire.NewNetAddressTimestamp(time.Unix(1700000000, 0), wire.SFNodeNetwork, net.ParseIP("198.51.100.1"), 8333)
	_ = addr.AddAddress(na)

	inv := wire.NewMsgInv()
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessTx, hashOf(hashA)))
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, hashOf(hashB)))
	_ = inv.AddInvVect(wire.NewInvVect(4, hashOf(hashB)))
	getdata := wire.NewMsgGetData()
	_ = getdata.AddInvVect(wire.NewInvVect(wire.InvTypeFilteredWitnessBlock, hashOf(hashA)))
	notfound := wire.NewMsgNotFound()
	_ = notfound.AddInvVect(wire.NewInvVect(5, hashOf(hashA)))

	gh := wire.NewMsgGetHeaders()
	gh.ProtocolVersion = 70016
	_ = gh.AddBlockLocatorHash(hashOf(hashA))
	_ = gh.AddBlockLocatorHash(hashOf(hashB))
	gb := wire.NewMsgGetBlocks(hashOf(hashA))
	gb.ProtocolVersion = 70016

	headers := wire.NewMsgHeaders()
	_ = headers.AddBlockHeader(sampleHeader())

	block := wire.NewMsgBlock(sampleHeader())
	_ = block.AddTransaction(sampleTx(false))
	_ = block.AddTransaction(sampleTx(true))

	reject := wire.NewMsgReject("tx", wire.RejectDust, "dust")
	reject.Hash = *hashOf(hashA)

	merkle := wire.NewMsgMerkleBlock(sampleHeader())
	merkle.Transactions = 7
	_ = merkle.AddTxHash(hashOf(hashA))
	merkle.Flags = []byte{0x1d}

	cfh := wire.NewMsgCFHeaders()
	cfh.FilterType = wire.GCSFilterRegular
	cfh.StopHash = *hashOf(hashA)
	_ = cfh.AddCFHash(hashOf(hashB))
	cfc := wire.NewMsgCFCheckpt(wire.GCSFilterRegular, hashOf(hashA), 2)
	_ = cfc.AddCFHeader(hashOf(hashB))

	segwitTxid := sampleTx(true).TxHash().String()
	segwitWtxid := sampleTx(true).WitnessHash().String()

	tests := []struct {
		name    string
		command string
		payload []byte
		want    map[string]string // path -> value
		types   map[string]string // path -> type
	}{
		{name: "version", command: "version", payload: encode(t, version), want: map[string]string{
			"version":            "70016",
			"services":           "0x409 NETWORK|WITNESS|NETWORK_LIMITED",
			"timestamp":          "1700000000 (2023-11-14 22:13:20 UTC)",
			"addr_recv":          "[2001:db8::1]:18333",
			"addr_from":          "203.0.113.7:8333",
			"addr_from/services": "0x9 NETWORK|WITNESS",
			"nonce":              "0x1122334455667788",
			"user_agent":         `"/watchnode:0.1/"`,
			"start_height":       "830000",
			"relay":              "true",
		}, types: map[string]string{"addr_recv": "netaddr", "user_agent": "string", "user_agent/length": "compactsize"}},
		{name: "verack", command: "verack", payload: nil},
		{name: "sendheaders", command: "sendheaders", payload: encode(t, wire.NewMsgSendHeaders())},
		{name: "sendaddrv2", command: "sendaddrv2", payload: encode(t, wire.NewMsgSendAddrV2())},
		{name: "wtxidrelay", command: "wtxidrelay", payload: encode(t, wire.NewMsgWTxIdRelay())},
		{name: "getaddr", command: "getaddr", payload: encode(t, wire.NewMsgGetAddr())},
		{name: "mempool", command: "mempool", payload: encode(t, wire.NewMsgMemPool())},
		{name: "filterclear", command: "filterclear", payload: encode(t, wire.NewMsgFilterClear())},
		{name: "ping", command: "ping", payload: encode(t, wire.NewMsgPing(42)), want: map[string]string{"nonce": "0x000000000000002a"}},
		{name: "pong", command: "pong", payload: encode(t, wire.NewMsgPong(7)), want: map[string]string{"nonce": "0x0000000000000007"}},
		{name: "feefilter", command: "feefilter", payload: encode(t, wire.NewMsgFeeFilter(1000)), want: map[string]string{"feerate": "1000 sat/kvB"}},
		{name: "sendcmpct", command: "sendcmpct", payload: encode(t, &protocol.MsgSendCmpct{Announce: true, Version: 2}),
			want: map[string]string{"announce": "true", "version": "2"}},
		{name: "addr", command: "addr", payload: encode(t, addr), want: map[string]string{
			"addresses":                       "1 address",
			"addresses/count":                 "1",
			"addresses/addresses[0]":          "198.51.100.1:8333",
			"addresses/addresses[0]/time":     "1700000000 (2023-11-14 22:13:20 UTC)",
			"addresses/addresses[0]/ip":       "198.51.100.1",
			"addresses/addresses[0]/port":     "8333",
			"addresses/addresses[0]/services": "0x1 NETWORK",
		}},
		{name: "inv", command: "inv", payload: encode(t, inv), want: map[string]string{
			"inventory/inventory[0]/type": "MSG_WITNESS_TX",
			"inventory/inventory[0]/hash": hashA,
			"inventory/inventory[1]/type": "MSG_BLOCK",
			"inventory/inventory[2]/type": "MSG_CMPCT_BLOCK",
		}},
		{name: "getdata", command: "getdata", payload: encode(t, getdata), want: map[string]string{
			"inventory/inventory[0]/type": "MSG_FILTERED_WITNESS_BLOCK"}},
		{name: "notfound", command: "notfound", payload: encode(t, notfound), want: map[string]string{
			"inventory/inventory[0]/type": "MSG_WTX"}},
		{name: "getheaders", command: "getheaders", payload: encode(t, gh), want: map[string]string{
			"version": "70016", "locator": "2 hashes", "locator/locator[1]": hashB,
			"hash_stop": "0000000000000000000000000000000000000000000000000000000000000000"}},
		{name: "getblocks", command: "getblocks", payload: encode(t, gb), want: map[string]string{
			"locator": "0 hashes", "hash_stop": hashA}},
		{name: "headers", command: "headers", payload: encode(t, headers), want: map[string]string{
			"headers/headers[0]/header/hash":         hashB,
			"headers/headers[0]/header/meets_target": "true",
			"headers/headers[0]/header/bits":         "0x1d00ffff",
			"headers/headers[0]/header/merkle_root":  "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
			"headers/headers[0]/tx_count":            "0",
		}},
		{name: "tx legacy", command: "tx", payload: encode(t, sampleTx(false)), want: map[string]string{
			"tx/version":                             "2",
			"tx/txid":                                sampleTx(false).TxHash().String(),
			"tx/tx_in/tx_in[0]/prev_out":             hashA + ":3",
			"tx/tx_in/tx_in[0]/script_sig/asm":       "1",
			"tx/tx_in/tx_in[0]/sequence":             "0xfffffffd",
			"tx/tx_out/tx_out[0]/value":              "1.23456789 BTC",
			"tx/tx_out/tx_out[0]/script_pubkey/type": "p2wpkh",
			"tx/tx_out/tx_out[0]/script_pubkey/asm":  "0 abababababababababababababababababababab",
			"tx/tx_out/tx_out[1]/script_pubkey/type": "nulldata",
			"tx/tx_out/tx_out[1]/script_pubkey/asm":  "OP_RETURN deadbeef",
			"tx/tx_out/tx_out[1]/value":              "0.00000000 BTC",
			"tx/locktime":                            "830000 (block height)",
		}},
		{name: "tx segwit", command: "tx", payload: encode(t, sampleTx(true)), want: map[string]string{
			"tx/marker":                      "0x00",
			"tx/flag":                        "0x01",
			"tx/txid":                        segwitTxid,
			"tx/wtxid":                       segwitWtxid,
			"tx/witness/witness[0]/count":    "2",
			"tx/witness/witness[0]/stack[1]": strings.Repeat("02", 33),
		}},
		{name: "block", command: "block", payload: encode(t, block), want: map[string]string{
			"header/hash":                        block.BlockHash().String(),
			"transactions/count":                 "2",
			"transactions/transactions[1]/txid":  segwitTxid,
			"transactions/transactions[1]/wtxid": segwitWtxid,
		}},
		{name: "reject", command: "reject", payload: encode(t, reject), want: map[string]string{
			"message": `"tx"`, "ccode": "0x41 REJECT_DUST", "reason": `"dust"`, "data": hashA}},
		{name: "filterload", command: "filterload", payload: encode(t, wire.NewMsgFilterLoad([]byte{1, 2, 3}, 11, 5, wire.BloomUpdateP2PubkeyOnly)),
			want: map[string]string{"filter": "010203", "n_hash_funcs": "11", "n_tweak": "0x00000005", "n_flags": "2 BLOOM_UPDATE_P2PUBKEY_ONLY"}},
		{name: "filteradd", command: "filteradd", payload: encode(t, wire.NewMsgFilterAdd([]byte{0xca, 0xfe})),
			want: map[string]string{"data": "cafe", "data/length": "2"}},
		{name: "merkleblock", command: "merkleblock", payload: encode(t, merkle), want: map[string]string{
			"header/hash": hashB, "total_transactions": "7", "hashes/hashes[0]": hashA, "flags": "1d"}},
		{name: "getcfilters", command: "getcfilters", payload: encode(t, wire.NewMsgGetCFilters(wire.GCSFilterRegular, 100, hashOf(hashA))),
			want: map[string]string{"filter_type": "0 (basic)", "start_height": "100", "stop_hash": hashA}},
		{name: "getcfheaders", command: "getcfheaders", payload: encode(t, wire.NewMsgGetCFHeaders(wire.GCSFilterRegular, 5, hashOf(hashB))),
			want: map[string]string{"start_height": "5", "stop_hash": hashB}},
		{name: "cfilter", command: "cfilter", payload: encode(t, wire.NewMsgCFilter(wire.GCSFilterRegular, hashOf(hashA), []byte{9, 8})),
			want: map[string]string{"block_hash": hashA, "filter": "0908"}},
		{name: "cfheaders", command: "cfheaders", payload: encode(t, cfh),
			want: map[string]string{"stop_hash": hashA, "filter_hashes/filter_hashes[0]": hashB}},
		{name: "getcfcheckpt", command: "getcfcheckpt", payload: encode(t, wire.NewMsgGetCFCheckpt(wire.GCSFilterRegular, hashOf(hashA))),
			want: map[string]string{"stop_hash": hashA}},
		{name: "cfcheckpt", command: "cfcheckpt", payload: encode(t, cfc),
			want: map[string]string{"filter_headers/count": "1", "filter_headers/filter_headers[0]": hashB}},
		{name: "unknown", command: "xyzzy", payload: []byte{1, 2, 3}, want: map[string]string{"payload": "010203"}},
		{name: "version trailing", command: "verack", payload: []byte{0xff}, want: map[string]string{"trailing": "ff"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Decode(tc.command, tc.payload)
			if m.Error != nil {
				t.Fatalf("error: %v", m.Error)
			}
			if m.Length != len(tc.payload) || m.Command != tc.command || m.Summary == "" {
				t.Errorf("header: %+v", m)
			}
			checkTiling(t, m.Fields, 0, len(tc.payload), len(tc.payload), "")
			for path, want := range tc.want {
				if got := mustFind(t, m, path).Value; got != want {
					t.Errorf("%s = %q, want %q", path, got, want)
				}
			}
			for path, want := range tc.types {
				if got := mustFind(t, m, path).Type; got != want {
					t.Errorf("%s type = %q, want %q", path, got, want)
				}
			}
			if _, err := json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAddrV2(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	torKey := bytes.Repeat([]byte{0x5a}, 32)
	tor := wire.NetAddressV2FromBytes(ts, wire.SFNodeNetwork, torKey, 9050)
	msg := wire.NewMsgAddrV2()
	msg.AddrList = []*wire.NetAddressV2{
		wire.NetAddressV2FromBytes(ts, wire.SFNodeNetwork|wire.SFNodeWitness, net.ParseIP("192.0.2.1").To4(), 8333),
		wire.NetAddressV2FromBytes(ts, 0, net.ParseIP("2001:db8::2"), 8333),
		tor,
	}
	payload := encode(t, msg)
	// Append I2P (5) and CJDNS (6) entries by hand: wire cannot build them.
	item := func(netID byte, addr []byte, port uint16) []byte {
		var b []byte
		b = binary.LittleEndian.AppendUint32(b, 1700000000)
		b = append(b, 0x01, netID, byte(len(addr)))
		b = append(b, addr...)
		return binary.BigEndian.AppendUint16(b, port)
	}
	payload[0] = 5 // count
	payload = append(payload, item(5, bytes.Repeat([]byte{0}, 32), 0)...)
	cjdns := append([]byte{0xfc}, bytes.Repeat([]byte{0}, 14)...)
	cjdns = append(cjdns, 1)
	payload = append(payload, item(6, cjdns, 8333)...)

	m := Decode("addrv2", payload)
	if m.Error != nil {
		t.Fatal(m.Error)
	}
	checkTiling(t, m.Fields, 0, len(payload), len(payload), "")
	want := map[string]string{
		"addresses/addresses[0]":            "192.0.2.1:8333",
		"addresses/addresses[0]/network_id": "1 (IPv4)",
		"addresses/addresses[0]/services":   "0x9 NETWORK|WITNESS",
		"addresses/addresses[1]":            "[2001:db8::2]:8333",
		"addresses/addresses[1]/network_id": "2 (IPv6)",
		"addresses/addresses[2]":            tor.Addr.String() + ":9050",
		"addresses/addresses[2]/network_id": "4 (TorV3)",
		"addresses/addresses[3]":            strings.Repeat("a", 52) + ".b32.i2p:0",
		"addresses/addresses[3]/network_id": "5 (I2P)",
		"addresses/addresses[4]":            "[fc00::1]:8333",
		"addresses/addresses[4]/network_id": "6 (CJDNS)",
	}
	for path, w := range want {
		if got := mustFind(t, m, path).Value; got != w {
			t.Errorf("%s = %q, want %q", path, got, w)
		}
	}
	// A wrong size for a known network is an error at the addr field.
	bad := append([]byte{1}, item(1, []byte{1, 2, 3}, 1)...)
	m = Decode("addrv2", bad)
	if m.Error == nil || m.Error.Field != "addresses[0].addr" || m.Error.Offset != 7 {
		t.Errorf("bad IPv4 size: %+v", m.Error)
	}
}

// BIP152 and BIP330 messages, built by hand (wire has no types for them).
func TestCompactBlocksAndTxRcncl(t *testing.T) {
	hdr := make([]byte, 0, 80)
	var buf bytes.Buffer
	if err := sampleHeader().Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	hdr = append(hdr, buf.Bytes()...)
	tx := encode(t, sampleTx(true))

	var cmpct []byte
	cmpct = append(cmpct, hdr...)
	cmpct = binary.LittleEndian.AppendUint64(cmpct, 99)
	cmpct = append(cmpct, 2)
	cmpct = append(cmpct, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
	cmpct = append(cmpct, 2, 0) // two prefilled, first at index 0
	cmpct = append(cmpct, tx...)
	cmpct = append(cmpct, 2) // next at 0+1+2 = 3
	cmpct = append(cmpct, tx...)

	var gbt []byte
	gbt = append(gbt, hashOf(hashA)[:]...)
	gbt = append(gbt, 3, 1, 0, 4) // indexes 1, 2, 7

	var btxn []byte
	btxn = append(btxn, hashOf(hashA)[:]...)
	btxn = append(btxn, 1)
	btxn = append(btxn, tx...)

	var rcncl []byte
	rcncl = binary.LittleEndian.AppendUint32(rcncl, 1)
	rcncl = binary.LittleEndian.AppendUint64(rcncl, 0xdeadbeef)

	tests := []struct {
		command string
		payload []byte
		want    map[string]string
	}{
		{"cmpctblock", cmpct, map[string]string{
			"header/hash": hashB, "nonce": "0x0000000000000063", "short_ids/short_ids[1]": "0708090a0b0c",
			"prefilled_txn/prefilled_txn[0]/index":    "0 (differential; index 0)",
			"prefilled_txn/prefilled_txn[1]/index":    "2 (differential; index 3)",
			"prefilled_txn/prefilled_txn[1]/tx/wtxid": sampleTx(true).WitnessHash().String(),
		}},
		{"getblocktxn", gbt, map[string]string{
			"block_hash": hashA, "indexes/indexes[0]": "1 (differential; index 1)",
			"indexes/indexes[2]": "4 (differential; index 7)",
		}},
		{"blocktxn", btxn, map[string]string{"transactions/transactions[0]/txid": sampleTx(true).TxHash().String()}},
		{"sendtxrcncl", rcncl, map[string]string{"version": "1", "salt": "0x00000000deadbeef"}},
	}
	for _, tc := range tests {
		m := Decode(tc.command, tc.payload)
		if m.Error != nil {
			t.Fatalf("%s: %v", tc.command, m.Error)
		}
		checkTiling(t, m.Fields, 0, len(tc.payload), len(tc.payload), tc.command)
		for path, w := range tc.want {
			if got := mustFind(t, m, path).Value; got != w {
				t.Errorf("%s %s = %q, want %q", tc.command, path, got, w)
			}
		}
	}
}

func TestScriptTypes(t *testing.T) {
	h20 := strings.Repeat("11", 20)
	h32 := strings.Repeat("22", 32)
	pk33 := "02" + strings.Repeat("33", 32)
	pk65 := "04" + strings.Repeat("44", 64)
	tests := []struct{ hex, kind, asm string }{
		{"76a914" + h20 + "88ac", "p2pkh", "OP_DUP OP_HASH160 " + h20 + " OP_EQUALVERIFY OP_CHECKSIG"},
		{"a914" + h20 + "87", "p2sh", "OP_HASH160 " + h20 + " OP_EQUAL"},
		{"0014" + h20, "p2wpkh", "0 " + h20},
		{"0020" + h32, "p2wsh", "0 " + h32},
		{"5120" + h32, "p2tr", "1 " + h32},
		{"51024e73", "anchor", "1 4e73"},
		{"5220" + h32, "witness_unknown", "2 " + h32},
		{"21" + pk33 + "ac", "p2pk", pk33 + " OP_CHECKSIG"},
		{"5121" + pk33 + "41" + pk65 + "52ae", "multisig", "1 " + pk33 + " " + pk65 + " 2 OP_CHECKMULTISIG"},
		{"5221" + pk33 + "51ae", "nonstandard", ""},
		{"6a", "nulldata", "OP_RETURN"},
		{"6a4c0401020304", "nulldata", "OP_RETURN 01020304"},
		{"6a76", "nonstandard", "OP_RETURN OP_DUP"},
		{"0015" + h20 + "00", "nonstandard", ""},
		{"4c05aa", "nonstandard", "[error]"},
		{"", "nonstandard", ""},
		{"ba", "nonstandard", "OP_CHECKSIGADD"},
		{"bb", "nonstandard", "OP_UNKNOWN"},
	}
	for _, tc := range tests {
		s, _ := hex.DecodeString(tc.hex)
		if got := scriptType(s); got != tc.kind {
			t.Errorf("%s: type %q, want %q", tc.hex, got, tc.kind)
		}
		if tc.asm != "" || tc.hex == "" {
			if got := disasm(s); got != tc.asm {
				t.Errorf("%s: asm %q, want %q", tc.hex, got, tc.asm)
			}
		}
	}
}

func TestMalformed(t *testing.T) {
	tx := encode(t, sampleTx(true))
	legacy := encode(t, sampleTx(false))
	// Offsets in the segwit sample: version 0-4, marker 4, flag 5, input
	// count 6, input 0 at 7: hash 7-39, index 39-43, script length 43.
	tests := []struct {
		name    string
		command string
		payload []byte
		field   string
		offset  int
	}{
		{"ping short", "ping", []byte{1, 2, 3}, "nonce", 0},
		{"empty version", "version", nil, "version", 0},
		{"version cut in addr_recv", "version", encode(t, wire.NewMsgVersion(
			wire.NewNetAddressIPPort(net.IPv4zero, 0, 0), wire.NewNetAddressIPPort(net.IPv4zero, 0, 0), 0, 0))[:30],
			"addr_recv.ip", 28},
		{"tx script_sig too long", "tx", patch(tx, 43, 0xfc), "tx.tx_in[0].script_sig.length", 43},
		{"tx cut at inputs", "tx", tx[:46], "tx.tx_in.count", 6},
		{"tx bad output script length", "tx", patch(legacy, 56, 0xfd), "tx.tx_out[0].script_pubkey.length", 56},
		{"tx witness cut", "tx", tx[:len(tx)-10], "tx.witness[0].stack[1].length", len(tx) - 4 - 34},
		{"tx locktime cut", "tx", legacy[:len(legacy)-1], "tx.locktime", len(legacy) - 4},
		{"tx huge input count", "tx", append([]byte{1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x7f}, make([]byte, 50)...), "tx.tx_in.count", 4},
		{"inv count too big", "inv", []byte{0xfd, 0xe8, 0x03, 1, 2}, "inventory.count", 0},
		{"headers compactsize cut", "headers", []byte{0xff, 1, 2}, "headers.count", 0},
		{"filterload too big", "filterload", []byte{0xfe, 0xff, 0xff, 0xff, 0x7f}, "filter.length", 0},
		{"reject cut", "reject", []byte{2, 't', 'x'}, "ccode", 3},
		{"block tx 1 cut", "block", nil, "", 0}, // filled below
	}
	block := wire.NewMsgBlock(sampleHeader())
	_ = block.AddTransaction(sampleTx(false))
	_ = block.AddTransaction(sampleTx(true))
	bb := encode(t, block)
	// Header 80, count 1 at 80, tx0 at 81..81+len(legacy), tx1 begins after.
	tx1 := 81 + len(legacy)
	tests[len(tests)-1].payload = patch(bb, tx1+43, 0xfc)
	tests[len(tests)-1].field = "transactions[1].tx_in[0].script_sig.length"
	tests[len(tests)-1].offset = tx1 + 43

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Decode(tc.command, tc.payload)
			if m.Error == nil {
				t.Fatalf("no error; fields %+v", m.Fields)
			}
			if m.Error.Field != tc.field || m.Error.Offset != tc.offset {
				t.Errorf("error at %q offset %d, want %q offset %d: %v", m.Error.Field, m.Error.Offset, tc.field, tc.offset, m.Error)
			}
			if m.Error.Expected == "" || m.Error.Msg == "" || !strings.Contains(m.Summary, "malformed") {
				t.Errorf("incomplete error %+v, summary %q", m.Error, m.Summary)
			}
			// The fields decoded so far still tile the bytes they read.
			end := 0
			if n := len(m.Fields); n > 0 {
				end = m.Fields[n-1].Offset + m.Fields[n-1].Length
			}
			checkTiling(t, m.Fields, 0, end, len(tc.payload), "")
		})
	}
}

func TestMeetsTarget(t *testing.T) {
	var zero [32]byte
	for _, tc := range []struct {
		bits uint32
		hash [32]byte
		ok   bool
	}{
		{0x1d00ffff, zero, true},
		{0x1d00ffff, [32]byte{31: 0x01}, false},
		{0x00000000, zero, false},
		{0x1d80ffff, zero, false}, // negative
		{0xff00ffff, zero, false}, // overflow
		{0x03000001, [32]byte{0: 1}, true},
		{0x03000001, [32]byte{0: 2}, false},
	} {
		if ok, _ := meetsTarget(tc.hash, tc.bits); ok != tc.ok {
			t.Errorf("bits %08x: %v, want %v", tc.bits, ok, tc.ok)
		}
	}
}

// patch returns a copy of b with b[i] = v.
func patch(b []byte, i int, v byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = v
	return c
}
