package inspect

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"

	"crypto/sha3"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

// Protocol limits the decoder enforces so a hostile length cannot make it
// read absurd things (the bytes must exist in any case).
const (
	maxUserAgent   = 256     // Bitcoin Core's MAX_SUBVERSION_LENGTH
	maxFilterLoad  = 36000   // BIP37 MAX_BLOOM_FILTER_SIZE
	maxAddrV2Addr  = 512     // BIP155 MAX_ADDRV2_SIZE
	maxRejectField = 111     // Core's MAX_REJECT_MESSAGE_LENGTH
	maxCFilter     = 1 << 22 // generous; BIP158 filters are well below
)

// services renders a service bit field: "0x409 NETWORK|WITNESS|NETWORK_LIMITED".
func services(f uint64) string {
	if f == 0 {
		return "0x0 NONE"
	}
	return fmt.Sprintf("0x%x %s", f, strings.Join(protocol.ServiceNames(wire.ServiceFlag(f)), "|"))
}

func decodeVersion(d *dec) {
	d.u32("version", "int32", sdec32)
	d.u64("services", "uint64", services)
	d.u64("timestamp", "int64", time64)
	d.netAddr("addr_recv", false)
	// Everything after addr_recv is optional in old versions, as in Core and wire.
	if d.left() == 0 {
		return
	}
	d.netAddr("addr_from", false)
	if d.left() == 0 {
		return
	}
	d.u64("nonce", "uint64", nonce64)
	if d.left() == 0 {
		return
	}
	d.varString("user_agent", maxUserAgent)
	if d.left() == 0 {
		return
	}
	d.u32("start_height", "int32", sdec32)
	if d.left() == 0 {
		return
	}
	d.u8("relay", "bool", boolStr)
}

// netAddr reads a legacy network address (with a leading uint32 time when
// timed), shown as IP:port.
func (d *dec) netAddr(name string, timed bool) {
	d.group(name, "netaddr", func() string { return d.netAddrBody(timed) })
}

func (d *dec) netAddrBody(timed bool) string {
	if timed {
		d.u32("time", "uint32", time32)
	}
	d.u64("services", "uint64", services)
	ip := d.raw("ip", 16, "16-byte IPv6 or IPv4-mapped address")
	var addr netip.Addr
	if ip != nil {
		addr = netip.AddrFrom16([16]byte(ip)).Unmap()
		d.out[len(d.out)-1].Type = "ip"
		d.out[len(d.out)-1].Value = addr.String()
	}
	port := d.u16be("port", func(v uint16) string { return strconv.Itoa(int(v)) })
	if d.failed() {
		return ""
	}
	return netip.AddrPortFrom(addr, port).String()
}

func decodeNonce(d *dec) { d.u64("nonce", "uint64", nonce64) }

// nonce64 shows a 64-bit nonce (version, ping, pong, cmpctblock) in hex,
// 16 digits: it is an identifier, not a quantity, and hex is how Bitcoin
// Core's logs print ping nonces ("%x expected, %x received"), how Wireshark
// shows them, and how the message summaries already say them ("nonce
// 0x..."), so the tree and the summary read the same. A block header's
// 32-bit nonce stays decimal, as Core's getblockheader gives it.
func nonce64(v uint64) string { return fmt.Sprintf("0x%016x", v) }

func decodeFeeFilter(d *dec) {
	d.u64("feerate", "int64", func(v uint64) string { return fmt.Sprintf("%d sat/kvB", int64(v)) })
}

func decodeSendCmpct(d *dec) {
	d.u8("announce", "bool", boolStr)
	d.u64("version", "uint64", dec64)
}

func decodeSendTxRcncl(d *dec) {
	d.u32("version", "uint32", dec32)
	d.u64("salt", "uint64", func(v uint64) string { return fmt.Sprintf("0x%016x", v) })
}

func decodeAddr(d *dec) {
	d.group("addresses", "list", func() string {
		n, _ := d.count(30, "addresses")
		for i := uint64(0); i < n && !d.failed(); i++ {
			d.netAddrItem(i)
		}
		return counted(n, "address", "addresses")
	})
}

func (d *dec) netAddrItem(i uint64) {
	d.item("addresses", "netaddr", i, func() string { return d.netAddrBody(true) })
}

// BIP155 network ids and their address sizes.
var addrV2Networks = map[uint8]struct {
	name string
	size int
}{
	1: {"IPv4", 4},
	2: {"IPv6", 16},
	3: {"TorV2", 10},
	4: {"TorV3", 32},
	5: {"I2P", 32},
	6: {"CJDNS", 16},
}

func decodeAddrV2(d *dec) {
	d.group("addresses", "list", func() string {
		// time 4, services >= 1, network 1, length >= 1, port 2
		n, _ := d.count(9, "addresses")
		for i := uint64(0); i < n && !d.failed(); i++ {
			d.item("addresses", "netaddr", i, func() string {
				d.u32("time", "uint32", time32)
				off := d.off
				if s, ok := d.readCompact("services"); ok {
					d.add("services", "compactsize", services(s), off)
				}
				netID := d.u8("network_id", "uint8", func(v uint8) string {
					if n, ok := addrV2Networks[v]; ok {
						return fmt.Sprintf("%d (%s)", v, n.name)
					}
					return fmt.Sprintf("%d (unknown)", v)
				})
				var host string
				addrOff := d.off
				d.varBytes("addr", "bytes", maxAddrV2Addr, func(b []byte) string {
					host = addrV2Host(netID, b)
					return host
				})
				if !d.failed() {
					if net, ok := addrV2Networks[netID]; ok {
						got := d.out[len(d.out)-1].Children[1].Length
						if got != net.size {
							d.failAt(addrOff, "addr", fmt.Sprintf("%d bytes for %s", net.size, net.name),
								"%s address has %d bytes", net.name, got)
						}
					}
				}
				port := d.u16be("port", func(v uint16) string { return strconv.Itoa(int(v)) })
				if d.failed() {
					return ""
				}
				if strings.Contains(host, ":") && netID != 4 && netID != 5 {
					return "[" + host + "]:" + strconv.Itoa(int(port))
				}
				return host + ":" + strconv.Itoa(int(port))
			})
		}
		return counted(n, "address", "addresses")
	})
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// addrV2Host renders a BIP155 address of a known size for its network.
func addrV2Host(netID uint8, b []byte) string {
	net, ok := addrV2Networks[netID]
	if !ok || len(b) != net.size {
		return hex.EncodeToString(b)
	}
	switch netID {
	case 1, 2, 6:
		a, _ := netip.AddrFromSlice(b)
		return a.String()
	case 3:
		return strings.ToLower(b32.EncodeToString(b)) + ".onion"
	case 4:
		// Tor v3: base32(pubkey | checksum[2] | version 3), checksum =
		// SHA3-256(".onion checksum" | pubkey | version)[:2].
		h := sha3.New256()
		h.Write([]byte(".onion checksum"))
		h.Write(b)
		h.Write([]byte{3})
		sum := h.Sum(nil)
		full := append(append(append([]byte{}, b...), sum[:2]...), 3)
		return strings.ToLower(b32.EncodeToString(full)) + ".onion"
	case 5:
		return strings.ToLower(b32.EncodeToString(b)) + ".b32.i2p"
	}
	return hex.EncodeToString(b)
}

// invTypeNames names inventory types as Bitcoin Core does.
var invTypeNames = map[uint32]string{
	0:          "ERROR",
	1:          "MSG_TX",
	2:          "MSG_BLOCK",
	3:          "MSG_FILTERED_BLOCK",
	4:          "MSG_CMPCT_BLOCK",
	5:          "MSG_WTX",
	0x40000001: "MSG_WITNESS_TX",
	0x40000002: "MSG_WITNESS_BLOCK",
	0x40000003: "MSG_FILTERED_WITNESS_BLOCK",
}

func invType(v uint32) string {
	if n, ok := invTypeNames[v]; ok {
		return n
	}
	return fmt.Sprintf("unknown 0x%08x", v)
}

func decodeInv(d *dec) {
	d.group("inventory", "list", func() string {
		n, _ := d.count(36, "inventory items")
		for i := uint64(0); i < n && !d.failed(); i++ {
			d.item("inventory", "struct", i, func() string {
				t := d.u32("type", "uint32", invType)
				h := d.hash("hash")
				if d.failed() {
					return ""
				}
				return invType(t) + " " + hashString(h)
			})
		}
		return counted(n, "item", "items")
	})
}

func decodeLocator(d *dec) {
	d.u32("version", "uint32", dec32)
	d.hashList("locator", "hashes")
	d.hash("hash_stop")
}

// hashList reads a CompactSize count of 32-byte hashes.
func (d *dec) hashList(name, what string) {
	d.group(name, "list", func() string {
		n, _ := d.count(32, what)
		for i := uint64(0); i < n && !d.failed(); i++ {
			d.hashItem(name, i)
		}
		return counted(n, singular(what), what)
	})
}

func (d *dec) hashItem(list string, i uint64) {
	if !d.need("["+strconv.FormatUint(i, 10)+"]", 32, "32-byte hash") {
		return
	}
	off, h := d.off, d.bytesAt(32)
	d.off += 32
	d.add(list+"["+strconv.FormatUint(i, 10)+"]", "hash", hashString(h), off)
}

func decodeHeaders(d *dec) {
	d.group("headers", "list", func() string {
		n, _ := d.count(81, "headers")
		for i := uint64(0); i < n && !d.failed(); i++ {
			d.item("headers", "struct", i, func() string {
				hash := d.header("header")
				d.compact("tx_count")
				return hash
			})
		}
		return counted(n, "header", "headers")
	})
}

// header reads an 80-byte block header and adds its computed hash and
// whether the hash meets the target its bits encode. It returns the hash.
func (d *dec) header(name string) string {
	var hash string
	d.group(name, "struct", func() string {
		start := d.off
		d.u32("version", "int32", func(v uint32) string { return fmt.Sprintf("%d (0x%08x)", int32(v), v) })
		d.hash("prev_block")
		d.hash("merkle_root")
		d.u32("time", "uint32", time32)
		bits := d.u32("bits", "uint32", func(v uint32) string { return fmt.Sprintf("0x%08x", v) })
		d.u32("nonce", "uint32", dec32)
		if d.failed() {
			return ""
		}
		h := sha256d(d.b[start : start+80])
		hash = hashString(h[:])
		d.computed("hash", "hash", hash, start, 80)
		_, why := meetsTarget(h, bits)
		d.computed("meets_target", "bool", why, start, 80)
		return hash
	})
	return hash
}

// meetsTarget reports whether hash (little-endian) is at most the target
// that bits encode, with the reason for a display value.
func meetsTarget(hash [32]byte, bits uint32) (bool, string) {
	target, ok := compactToTarget(bits)
	if !ok {
		return false, "false (bits encode a negative, zero or overflowing target)"
	}
	var be [32]byte
	for i := range 32 {
		be[i] = hash[31-i]
	}
	if new(big.Int).SetBytes(be[:]).Cmp(target) <= 0 {
		return true, "true"
	}
	return false, "false"
}

// compactToTarget decodes nBits as Core's arith_uint256::SetCompact does and
// reports whether the target is usable (positive, no overflow).
func compactToTarget(bits uint32) (*big.Int, bool) {
	exp := bits >> 24
	mant := bits & 0x007fffff
	negative := mant != 0 && bits&0x00800000 != 0
	overflow := mant != 0 && (exp > 34 || (mant > 0xff && exp > 33) || (mant > 0xffff && exp > 32))
	if negative || overflow || mant == 0 {
		return nil, false
	}
	t := new(big.Int)
	if exp <= 3 {
		t.SetUint64(uint64(mant >> (8 * (3 - exp))))
	} else {
		t.SetUint64(uint64(mant))
		t.Lsh(t, uint(8*(exp-3)))
	}
	return t, t.Sign() > 0
}

func decodeReject(d *dec) {
	d.varString("message", 12)
	d.u8("ccode", "uint8", func(v uint8) string {
		names := map[uint8]string{0x01: "REJECT_MALFORMED", 0x10: "REJECT_INVALID", 0x11: "REJECT_OBSOLETE",
			0x12: "REJECT_DUPLICATE", 0x40: "REJECT_NONSTANDARD", 0x41: "REJECT_DUST",
			0x42: "REJECT_INSUFFICIENTFEE", 0x43: "REJECT_CHECKPOINT"}
		if n, ok := names[v]; ok {
			return fmt.Sprintf("0x%02x %s", v, n)
		}
		return fmt.Sprintf("0x%02x unknown", v)
	})
	d.varString("reason", maxRejectField)
	if d.left() >= 32 {
		d.hash("data")
	}
}

func decodeFilterLoad(d *dec) {
	d.varBytes("filter", "bytes", maxFilterLoad, nil)
	d.u32("n_hash_funcs", "uint32", dec32)
	d.u32("n_tweak", "uint32", func(v uint32) string { return fmt.Sprintf("0x%08x", v) })
	d.u8("n_flags", "uint8", func(v uint8) string {
		switch v {
		case 0:
			return "0 BLOOM_UPDATE_NONE"
		case 1:
			return "1 BLOOM_UPDATE_ALL"
		case 2:
			return "2 BLOOM_UPDATE_P2PUBKEY_ONLY"
		}
		return fmt.Sprintf("%d unknown", v)
	})
}

func decodeMerkleBlock(d *dec) {
	d.header("header")
	d.u32("total_transactions", "uint32", dec32)
	d.hashList("hashes", "hashes")
	d.varBytes("flags", "bytes", 0, nil)
}

func filterType(v uint8) string {
	if v == 0 {
		return "0 (basic)"
	}
	return fmt.Sprintf("%d (unknown)", v)
}

func decodeGetCF(d *dec) {
	d.u8("filter_type", "uint8", filterType)
	d.u32("start_height", "uint32", dec32)
	d.hash("stop_hash")
}

func decodeCFilter(d *dec) {
	d.u8("filter_type", "uint8", filterType)
	d.hash("block_hash")
	d.varBytes("filter", "bytes", maxCFilter, nil)
}

func decodeCFHeaders(d *dec) {
	d.u8("filter_type", "uint8", filterType)
	d.hash("stop_hash")
	d.hash("previous_filter_header")
	d.hashList("filter_hashes", "hashes")
}

func decodeGetCFCheckpt(d *dec) {
	d.u8("filter_type", "uint8", filterType)
	d.hash("stop_hash")
}

func decodeCFCheckpt(d *dec) {
	d.u8("filter_type", "uint8", filterType)
	d.hash("stop_hash")
	d.hashList("filter_headers", "headers")
}

func decodeCmpctBlock(d *dec) {
	d.header("header")
	d.u64("nonce", "uint64", nonce64)
	d.group("short_ids", "list", func() string {
		n, _ := d.count(6, "short ids")
		for i := uint64(0); i < n && !d.failed(); i++ {
			d.raw("short_ids["+strconv.FormatUint(i, 10)+"]", 6, "6-byte short id")
		}
		return counted(n, "short id", "short ids")
	})
	d.group("prefilled_txn", "list", func() string {
		n, _ := d.count(11, "prefilled transactions") // index >= 1 + tx >= 10
		var index uint64
		for i := uint64(0); i < n && !d.failed(); i++ {
			d.item("prefilled_txn", "struct", i, func() string {
				off := d.off
				diff, ok := d.readCompact("index")
				if !ok {
					return ""
				}
				if i > 0 {
					index++
				}
				index += diff
				d.add("index", "compactsize", fmt.Sprintf("%d (differential; index %d)", diff, index), off)
				d.group("tx", "struct", d.tx)
				return "index " + strconv.FormatUint(index, 10)
			})
		}
		return counted(n, "prefilled", "prefilled")
	})
}

func decodeGetBlockTxn(d *dec) {
	d.hash("block_hash")
	d.group("indexes", "list", func() string {
		n, _ := d.count(1, "indexes")
		var index uint64
		for i := uint64(0); i < n && !d.failed(); i++ {
			name := "indexes[" + strconv.FormatUint(i, 10) + "]"
			off := d.off
			diff, ok := d.readCompact(name)
			if !ok {
				break
			}
			if i > 0 {
				index++
			}
			index += diff
			d.add(name, "compactsize", fmt.Sprintf("%d (differential; index %d)", diff, index), off)
		}
		return counted(n, "index", "indexes")
	})
}

func decodeBlockTxn(d *dec) {
	d.hash("block_hash")
	d.txList("transactions")
}
