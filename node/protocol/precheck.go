package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/wire/v2"
)

// precheck walks a payload's variable-length structure and rejects any count
// or length that claims more bytes than the payload has left.
//
// wire's decoders size their allocations from declared counts and lengths
// before the bytes behind them are read (a 5-byte reject can make it
// allocate 32 MiB, a 40-byte cfcheckpt 4 MB), and a peer can send such
// payloads cheaply and repeatedly. After this check every allocation wire
// makes is backed by bytes that really arrived, so decoding costs memory
// proportional to the payload. Every message whose decoder allocates by a
// declared count or length is walked (see walkPayload); the others are
// fixed-size.
func precheck(command string, payload []byte) error {
	_, _, err := walkPayload(command, payload)
	return err
}

// walkPayload is precheck, and EstimateDecodedSize: it walks the payload
// in place as wire will decode it, checks every count and length wire
// allocates by against the bytes left, and returns, computed from those
// counts and lengths with DecodedSize's own formulas, the DecodedSize of
// the message Decode would return. known is false for a command Decode
// hands up as *MsgUnknown.
//
// Where a message's leading fixed-size fields are missing (a block's
// header, say), the walk stops without error and leaves the verdict to
// wire, which reports it; the size is then meaningless, as Decode fails.
// Any error the walk returns means wire would fail on the payload too.
// For a payload Decode accepts, the size is exact: each count read here
// is the capacity wire allocates, and each length the bytes it keeps.
// FuzzEstimateDecodedSize checks both. The walk allocates nothing unless
// it fails.
func walkPayload(command string, payload []byte) (size int, known bool, err error) {
	c := cursor{b: payload}
	switch command {
	// Fixed-size messages: the struct alone (empty ones cost nothing).
	case wire.CmdVerAck:
		return structOnly[wire.MsgVerAck](), true, nil
	case wire.CmdSendAddrV2:
		return structOnly[wire.MsgSendAddrV2](), true, nil
	case wire.CmdWTxIdRelay:
		return structOnly[wire.MsgWTxIdRelay](), true, nil
	case wire.CmdGetAddr:
		return structOnly[wire.MsgGetAddr](), true, nil
	case wire.CmdMemPool:
		return structOnly[wire.MsgMemPool](), true, nil
	case wire.CmdFilterClear:
		return structOnly[wire.MsgFilterClear](), true, nil
	case wire.CmdSendHeaders:
		return structOnly[wire.MsgSendHeaders](), true, nil
	case wire.CmdPing:
		return structOnly[wire.MsgPing](), true, nil
	case wire.CmdPong:
		return structOnly[wire.MsgPong](), true, nil
	case wire.CmdFeeFilter:
		return structOnly[wire.MsgFeeFilter](), true, nil
	case wire.CmdGetCFilters:
		return structOnly[wire.MsgGetCFilters](), true, nil
	case wire.CmdGetCFHeaders:
		return structOnly[wire.MsgGetCFHeaders](), true, nil
	case wire.CmdGetCFCheckpt:
		return structOnly[wire.MsgGetCFCheckpt](), true, nil
	case CmdSendCmpct:
		return structOnly[MsgSendCmpct](), true, nil

	case wire.CmdVersion:
		// version, services, timestamp and addr_recv (46 bytes); then,
		// each optional if the payload ends before it, addr_from, nonce,
		// the user agent and what follows. wire reads addr_from (and
		// allocates its IP) if any byte follows addr_recv.
		me := 0
		if len(payload) > 46 {
			me = netIPSize
		}
		if !c.advance(80) || c.len() == 0 {
			return versionSize(netIPSize, me, 0), true, nil
		}
		ua, err := c.varLen("user agent")
		return versionSize(netIPSize, me, ua), true, err
	case wire.CmdReject:
		cmd, err := c.varLen("rejected command")
		if err != nil {
			return 0, true, err
		}
		if !c.advance(1) {
			return 0, true, nil // wire reports the missing code
		}
		reason, err := c.varLen("reject reason")
		return rejectSize(cmd, reason), true, err
	case wire.CmdFilterAdd:
		n, err := c.varLen("filteradd data")
		return withBytes[wire.MsgFilterAdd](n), true, err
	case wire.CmdFilterLoad:
		n, err := c.varLen("filterload filter")
		return withBytes[wire.MsgFilterLoad](n), true, err
	case wire.CmdCFilter:
		// filter type, block hash
		if !c.advance(1 + 32) {
			return 0, true, nil
		}
		n, err := c.varLen("cfilter data")
		return withBytes[wire.MsgCFilter](n), true, err

	case wire.CmdTx:
		t, err := c.tx()
		return t.size(), true, err
	case wire.CmdBlock:
		if !c.advance(80) {
			return 0, true, nil
		}
		n, err := c.count("transaction", minTxSize)
		if err != nil {
			return 0, true, err
		}
		txs := 0
		for i := uint64(0); i < n; i++ {
			t, err := c.tx()
			if err != nil {
				return 0, true, fmt.Errorf("transaction %d: %w", i, err)
			}
			txs += t.size()
		}
		return blockSize(int(n), txs), true, nil

	// Lists of fixed-size items: the count is all that matters.
	case wire.CmdInv:
		n, err := c.count("inventory item", 36)
		return listSize[wire.MsgInv](int(n), invVectSize, false), true, err
	case wire.CmdGetData:
		n, err := c.count("inventory item", 36)
		return listSize[wire.MsgGetData](int(n), invVectSize, false), true, err
	case wire.CmdNotFound:
		n, err := c.count("inventory item", 36)
		return listSize[wire.MsgNotFound](int(n), invVectSize, false), true, err
	case wire.CmdHeaders:
		n, err := c.count("header", 81)
		return listSize[wire.MsgHeaders](int(n), headerSize, true), true, err
	case wire.CmdAddr:
		n, err := c.count("address", 30)
		return addrSize(int(n)), true, err
	case wire.CmdGetHeaders, wire.CmdGetBlocks:
		if !c.advance(4) {
			return 0, true, nil
		}
		n, err := c.count("locator hash", 32)
		if command == wire.CmdGetBlocks {
			return listSize[wire.MsgGetBlocks](int(n), hashSize, false), true, err
		}
		return listSize[wire.MsgGetHeaders](int(n), hashSize, false), true, err
	case wire.CmdMerkleBlock:
		// header, transaction count; hashes; flags
		if !c.advance(80 + 4) {
			return 0, true, nil
		}
		n, err := c.count("merkle hash", 32)
		if err != nil {
			return 0, true, err
		}
		c.off += 32 * int(n) // count checked they are there
		flags, err := c.varLen("merkle flags")
		return merkleBlockSize(int(n), flags), true, err
	case wire.CmdCFHeaders:
		// filter type, stop hash, previous filter header
		if !c.advance(1 + 32 + 32) {
			return 0, true, nil
		}
		n, err := c.count("filter header", 32)
		return cfHeadersSize(int(n), int(n)), true, err
	case wire.CmdCFCheckpt:
		// filter type, stop hash
		if !c.advance(1 + 32) {
			return 0, true, nil
		}
		n, err := c.count("filter header", 32)
		return listSize[wire.MsgCFCheckpt](int(n), hashSize, false), true, err
	case wire.CmdAddrV2:
		declared, kept, torV3, err := c.addrV2()
		return addrV2ListSize(declared, kept, torV3), true, err
	}
	// Any other command is a *MsgUnknown holding what io.ReadAll returns:
	// 512 bytes of capacity at first, a right-sized copy (rounded to its
	// size class by append) once that is outgrown. The table's unknown
	// payloads of 0 to 4,000,000 bytes pin this against io.ReadAll.
	return unknownSize(len(command), max(len(payload), readAllFirstBuffer)), false, nil
}

// minTxSize is the smallest transaction wire decodes: version, one input
// with an empty script, no outputs, lock time. (Consensus wants an output
// too, making 60 bytes, but that is for validation to judge, not for a
// check of whether the bytes are there.)
const minTxSize = 4 + 1 + 41 + 1 + 4

// readAllFirstBuffer is the capacity io.ReadAll starts with (Go 1.26): the
// least an unknown command's payload keeps.
const readAllFirstBuffer = 512

var (
	errShort        = errors.New("payload ends early")
	errNonCanonical = errors.New("malformed CompactSize")
)

// cursor reads a payload without copying.
type cursor struct {
	b   []byte
	off int
}

func (c *cursor) len() int { return len(c.b) - c.off }

// skip skips n bytes, or fails if there are fewer left. The hot methods
// (skip, count, varLen) take the usual case (enough bytes, a one-byte
// CompactSize) first and leave the rest, and building errors, to separate
// functions: that makes the walk of a block about a third cheaper.
func (c *cursor) skip(n uint64) error {
	if n <= uint64(len(c.b)-c.off) {
		c.off += int(n)
		return nil
	}
	return c.short(n)
}

func (c *cursor) short(n uint64) error {
	return fmt.Errorf("%w: need %d bytes at offset %d, %d left", errShort, n, c.off, c.len())
}

// advance skips n bytes if there are that many, and reports whether there
// were. Unlike skip, it allocates no error.
func (c *cursor) advance(n int) bool {
	if n > c.len() {
		return false
	}
	c.off += n
	return true
}

// varInt reads a CompactSize.
func (c *cursor) varInt() (uint64, error) {
	if c.len() < 1 {
		return 0, fmt.Errorf("%w: no CompactSize at offset %d", errShort, c.off)
	}
	first := c.b[c.off]
	size := 0
	switch first {
	case 0xfd:
		size = 2
	case 0xfe:
		size = 4
	case 0xff:
		size = 8
	}
	c.off++
	if size == 0 {
		return uint64(first), nil
	}
	if c.len() < size {
		return 0, fmt.Errorf("%w: CompactSize at offset %d needs %d bytes", errShort, c.off-1, size)
	}
	var v, least uint64
	switch size {
	case 2:
		v, least = uint64(binary.LittleEndian.Uint16(c.b[c.off:])), 0xfd
	case 4:
		v, least = uint64(binary.LittleEndian.Uint32(c.b[c.off:])), 0x10000
	default:
		v, least = binary.LittleEndian.Uint64(c.b[c.off:]), 0x100000000
	}
	// Bitcoin Core and wire both refuse a value a shorter form could hold.
	if v < least {
		return 0, fmt.Errorf("%w: non-canonical CompactSize at offset %d: %d in %d bytes", errNonCanonical, c.off-1, v, size+1)
	}
	c.off += size
	return v, nil
}

// count reads a CompactSize count of items that each take at least minSize
// bytes, and checks that they can fit in what is left.
func (c *cursor) count(what string, minSize uint64) (uint64, error) {
	// The usual case: a one-byte count.
	if rest := c.b[c.off:]; len(rest) > 0 && rest[0] < 0xfd && uint64(rest[0])*minSize < uint64(len(rest)) {
		c.off++
		return uint64(rest[0]), nil
	}
	return c.countSlow(what, minSize)
}

func (c *cursor) countSlow(what string, minSize uint64) (uint64, error) {
	at := c.off
	n, err := c.varInt()
	if err != nil {
		return 0, err
	}
	if n > uint64(c.len())/minSize {
		plural := "s"
		if strings.HasSuffix(what, "s") {
			plural = "es"
		}
		return 0, fmt.Errorf("%w: %d %s%s declared at offset %d need at least %d bytes each, %d bytes left",
			errShort, n, what, plural, at, minSize, c.len())
	}
	return n, nil
}

// varLen reads a CompactSize length, skips that many bytes, and returns the
// length.
func (c *cursor) varLen(what string) (int, error) {
	// The usual case: a one-byte length.
	if rest := c.b[c.off:]; len(rest) > 0 && rest[0] < 0xfd && int(rest[0]) < len(rest) {
		c.off += 1 + int(rest[0])
		return int(rest[0]), nil
	}
	return c.varLenSlow(what)
}

func (c *cursor) varLenSlow(what string) (int, error) {
	at := c.off
	n, err := c.varInt()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if n > uint64(c.len()) {
		return 0, fmt.Errorf("%w: %s at offset %d declares %d bytes, %d left", errShort, what, at, n, c.len())
	}
	c.off += int(n)
	return int(n), nil
}

// varBytes reads a CompactSize length and skips that many bytes.
func (c *cursor) varBytes(what string) error {
	_, err := c.varLen(what)
	return err
}

// tx walks one transaction, segwit or not, and returns its counts.
func (c *cursor) tx() (txCounts, error) {
	var t txCounts
	if err := c.skip(4); err != nil {
		return t, err
	}
	// wire reads a zero input count as the segwit marker and then demands
	// flag 1; either way a payload this takes differently fails in wire.
	segwit := c.len() >= 2 && c.b[c.off] == 0 && c.b[c.off+1] != 0
	if segwit {
		c.off += 2
	}
	nIn, err := c.count("input", 41)
	if err != nil {
		return t, err
	}
	for i := uint64(0); i < nIn; i++ {
		if err := c.skip(36); err != nil {
			return t, err
		}
		n, err := c.varLen("signature script")
		if err != nil {
			return t, err
		}
		t.scripts += n
		if err := c.skip(4); err != nil {
			return t, err
		}
	}
	nOut, err := c.count("output", 9)
	if err != nil {
		return t, err
	}
	for i := uint64(0); i < nOut; i++ {
		if err := c.skip(8); err != nil {
			return t, err
		}
		n, err := c.varLen("public key script")
		if err != nil {
			return t, err
		}
		t.scripts += n
	}
	t.inputs, t.outputs = int(nIn), int(nOut)
	if segwit {
		for i := uint64(0); i < nIn; i++ {
			items, err := c.count("witness item", 1)
			if err != nil {
				return t, err
			}
			t.addWitness(int(items))
			for j := uint64(0); j < items; j++ {
				n, err := c.varLen("witness item")
				if err != nil {
					return t, err
				}
				t.scripts += n
			}
		}
	}
	return t, c.skip(4)
}

// addrV2 walks an addrv2's entries (BIP155) and counts those wire keeps
// (keptTorV3 of them TorV3 addresses). wire allocates an array of the
// declared entries, and for an entry of a network it does not know, a
// buffer of the declared address length; both are checked here.
func (c *cursor) addrV2() (declared, kept, keptTorV3 int, err error) {
	// time 4, services (CompactSize) 1+, network 1, length 1+, port 2
	n, err := c.count("address", 4+1+1+1+2)
	if err != nil {
		return 0, 0, 0, err
	}
	for i := uint64(0); i < n; i++ {
		if err := c.skip(4); err != nil {
			return 0, 0, 0, err
		}
		if _, err := c.varInt(); err != nil {
			return 0, 0, 0, fmt.Errorf("address %d services: %w", i, err)
		}
		if err := c.skip(1); err != nil {
			return 0, 0, 0, err
		}
		network := c.b[c.off-1]
		size, err := c.varLen("address")
		if err != nil {
			return 0, 0, 0, fmt.Errorf("address %d: %w", i, err)
		}
		addr := c.b[c.off-size : c.off]
		if err := c.skip(2); err != nil {
			return 0, 0, 0, err
		}
		// What wire's readNetAddressV2 keeps; an address of the wrong
		// size for its network fails there.
		switch network {
		case addrV2IPv4, addrV2TorV2:
			kept++
		case addrV2TorV3:
			kept++
			keptTorV3++
		case addrV2IPv6:
			// BIP155: OnionCat (TorV2 in IPv6) and IPv4-mapped
			// addresses are skipped.
			if !bytes.HasPrefix(addr, onionCatPrefix) && !bytes.HasPrefix(addr, ipv4MappedPrefix) {
				kept++
			}
		}
	}
	return int(n), kept, keptTorV3, nil
}

// BIP155 network IDs wire keeps addresses of (it skips I2P, CJDNS and
// unknown networks).
const (
	addrV2IPv4  = 1
	addrV2IPv6  = 2
	addrV2TorV2 = 3
	addrV2TorV3 = 4
)

var (
	// onionCatPrefix is fd87:d87e:eb43::/48, TorV2 addresses in IPv6 form.
	onionCatPrefix = []byte{0xfd, 0x87, 0xd8, 0x7e, 0xeb, 0x43}
	// ipv4MappedPrefix is ::ffff:0:0/96 (RFC 4291).
	ipv4MappedPrefix = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}
)
