package protocol

import (
	"fmt"
	"math"
	"net"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Limits on what Summary prints, in runes.
const (
	// summaryMaxRunes caps a whole summary; longer ones end in "…".
	summaryMaxRunes = 160
	// maxUserAgentRunes caps a version message's user agent.
	maxUserAgentRunes = 64
	// maxReasonRunes caps a reject message's reason.
	maxReasonRunes = 80
	// maxInvKinds is how many inventory types an inv summary counts by
	// name; items of further types are counted together as "other".
	maxInvKinds = 4
	// maxUnknownServices is how many unnamed service bits a version summary
	// lists before counting the rest.
	maxUnknownServices = 2
)

// ellipsis marks a shortened hash or a truncated string.
const ellipsis = "…"

// Summary returns a short one-line description of msg for the dashboard's
// message log, such as "4 headers, 1f1e1d1c…03020100 .. 221f1e1d…06050403" or
// "v70016 /Satoshi:27.0.0/ height 850000 services NETWORK|WITNESS relay".
// It describes every message type Decode returns, including *MsgSendCmpct and
// *MsgUnknown, and falls back to the command name for any other type.
//
// Strings the peer chose (user agents, reject reasons, command names) are
// shortened and have control, line-separator and format characters and
// invalid UTF-8 replaced with U+FFFD. The result is valid UTF-8 of at most
// 160 runes on one line; HTML escaping is left to the caller.
func Summary(msg wire.Message) string {
	return OneLine(summarize(msg), summaryMaxRunes)
}

// ShortHash returns h in the usual reversed (RPC) hex with the middle elided:
// the first and last four bytes shown, "00000000…0a8ce26f" for mainnet's
// genesis block.
func ShortHash(h chainhash.Hash) string {
	s := h.String()
	return s[:8] + ellipsis + s[len(s)-8:]
}

// summarize builds the summary before the final sanitising and capping.
func summarize(msg wire.Message) string {
	if msg == nil {
		return "no message"
	}
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Pointer && v.IsNil() {
		return "nil message"
	}
	switch m := msg.(type) {
	case *wire.MsgVersion:
		return versionSummary(m)
	case *wire.MsgVerAck:
		return "handshake acknowledged"
	case *wire.MsgSendAddrV2:
		return "prefers addrv2 addresses"
	case *wire.MsgWTxIdRelay:
		return "relays transactions by wtxid"
	case *MsgSendCmpct:
		announce := "announce"
		if !m.Announce {
			announce = "no announce"
		}
		return fmt.Sprintf("compact blocks v%d, %s", m.Version, announce)
	case *wire.MsgSendHeaders:
		return "announce blocks with headers"
	case *wire.MsgGetAddr:
		return "requests addresses"
	case *wire.MsgMemPool:
		return "requests mempool contents"
	case *wire.MsgFilterClear:
		return "clears bloom filter"
	case *wire.MsgPing:
		return fmt.Sprintf("nonce 0x%016x", m.Nonce)
	case *wire.MsgPong:
		return fmt.Sprintf("nonce 0x%016x", m.Nonce)
	case *wire.MsgFeeFilter:
		return fmt.Sprintf("min fee %d sat/kvB", m.MinFee)
	case *wire.MsgAddr:
		first := ""
		if len(m.AddrList) > 0 && m.AddrList[0] != nil {
			a := m.AddrList[0]
			first = hostPort(a.IP.String(), a.Port)
		}
		return addrSummary(len(m.AddrList), first)
	case *wire.MsgAddrV2:
		first := ""
		if len(m.AddrList) > 0 && m.AddrList[0] != nil {
			a := m.AddrList[0]
			host := "?"
			if a.Addr != nil {
				host = a.Addr.String()
			}
			first = hostPort(host, a.Port)
		}
		return addrSummary(len(m.AddrList), first)
	case *wire.MsgGetBlocks:
		return locatorSummary(m.BlockLocatorHashes, m.HashStop)
	case *wire.MsgGetHeaders:
		return locatorSummary(m.BlockLocatorHashes, m.HashStop)
	case *wire.MsgHeaders:
		return headersSummary(m.Headers)
	case *wire.MsgInv:
		return invSummary(m.InvList)
	case *wire.MsgGetData:
		return invSummary(m.InvList)
	case *wire.MsgNotFound:
		return invSummary(m.InvList)
	case *wire.MsgBlock:
		return fmt.Sprintf("block %s, %s", ShortHash(m.BlockHash()), count(len(m.Transactions), "tx", "txs"))
	case *wire.MsgTx:
		return txSummary(m)
	case *wire.MsgMerkleBlock:
		return fmt.Sprintf("block %s, %s, %s, %s", ShortHash(m.Header.BlockHash()),
			count(m.Transactions, "tx", "txs"), count(len(m.Hashes), "hash", "hashes"),
			count(len(m.Flags), "flag byte", "flag bytes"))
	case *wire.MsgFilterLoad:
		return fmt.Sprintf("bloom filter %s, %s, tweak 0x%08x, %s",
			count(len(m.Filter), "byte", "bytes"), count(m.HashFuncs, "hash func", "hash funcs"),
			m.Tweak, bloomUpdateName(m.Flags))
	case *wire.MsgFilterAdd:
		return fmt.Sprintf("adds %d-byte element to bloom filter", len(m.Data))
	case *wire.MsgReject:
		return rejectSummary(m)
	case *wire.MsgGetCFilters:
		return fmt.Sprintf("%s filters from height %d to %s", filterTypeName(m.FilterType), m.StartHeight, ShortHash(m.StopHash))
	case *wire.MsgGetCFHeaders:
		return fmt.Sprintf("%s filter headers from height %d to %s", filterTypeName(m.FilterType), m.StartHeight, ShortHash(m.StopHash))
	case *wire.MsgGetCFCheckpt:
		return fmt.Sprintf("%s filter checkpoints to %s", filterTypeName(m.FilterType), ShortHash(m.StopHash))
	case *wire.MsgCFilter:
		return fmt.Sprintf("%s filter for %s, %s", filterTypeName(m.FilterType), ShortHash(m.BlockHash),
			count(len(m.Data), "byte", "bytes"))
	case *wire.MsgCFHeaders:
		return fmt.Sprintf("%s to %s, prev %s",
			count(len(m.FilterHashes), filterTypeName(m.FilterType)+" filter hash", filterTypeName(m.FilterType)+" filter hashes"),
			ShortHash(m.StopHash), ShortHash(m.PrevFilterHeader))
	case *wire.MsgCFCheckpt:
		return fmt.Sprintf("%s to %s",
			count(len(m.FilterHeaders), filterTypeName(m.FilterType)+" filter checkpoint", filterTypeName(m.FilterType)+" filter checkpoints"),
			ShortHash(m.StopHash))
	case *MsgUnknown:
		return fmt.Sprintf("unknown command %q, %s", OneLine(m.Cmd, CommandSize), count(len(m.Payload), "byte", "bytes"))
	}
	return OneLine(msg.Command(), CommandSize) + " message"
}

// count returns "1 thing" or "n things".
func count[N int | uint32](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// hostPort joins a host and a port, bracketing IPv6 hosts.
func hostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

func versionSummary(m *wire.MsgVersion) string {
	ua := OneLine(m.UserAgent, maxUserAgentRunes)
	if ua == "" {
		ua = `""`
	}
	relay := "relay"
	if m.DisableRelayTx {
		relay = "no relay"
	}
	return fmt.Sprintf("v%d %s height %d services %s %s", m.ProtocolVersion, ua, m.LastBlock, serviceNames(m.Services), relay)
}

// serviceNames joins ServiceNames with "|", listing at most
// maxUnknownServices unnamed bits and counting the rest, so a hostile
// service field cannot make the line long.
func serviceNames(f wire.ServiceFlag) string {
	if f == 0 {
		return "NONE"
	}
	var parts []string
	unknown := 0
	for _, name := range ServiceNames(f) {
		if strings.HasPrefix(name, "UNKNOWN[") {
			unknown++
			if unknown > maxUnknownServices {
				continue
			}
		}
		parts = append(parts, name)
	}
	if unknown > maxUnknownServices {
		parts = append(parts, fmt.Sprintf("+%d UNKNOWN", unknown-maxUnknownServices))
	}
	return strings.Join(parts, "|")
}

func addrSummary(n int, first string) string {
	switch {
	case n == 0:
		return "0 addresses"
	case first == "":
		return count(n, "address", "addresses")
	case n == 1:
		return "1 address: " + first
	}
	return fmt.Sprintf("%d addresses, first %s", n, first)
}

func locatorSummary(locator []*chainhash.Hash, stop chainhash.Hash) string {
	stopText := "none"
	if stop != (chainhash.Hash{}) {
		stopText = ShortHash(stop)
	}
	if len(locator) == 0 {
		return "locator empty, stop " + stopText
	}
	from := "?"
	if locator[0] != nil {
		from = ShortHash(*locator[0])
	}
	return fmt.Sprintf("locator %s from %s, stop %s", count(len(locator), "hash", "hashes"), from, stopText)
}

func headersSummary(headers []*wire.BlockHeader) string {
	hash := func(h *wire.BlockHeader) string {
		if h == nil {
			return "?"
		}
		return ShortHash(h.BlockHash())
	}
	if len(headers) == 0 {
		return HeadersSummary(0, "", "")
	}
	return HeadersSummary(len(headers), hash(headers[0]), hash(headers[len(headers)-1]))
}

// HeadersSummary is a headers message's summary from its count and its
// first and last hashes (as ShortHash gives them), for callers that hold
// the headers in another form (the node's fast headers path).
func HeadersSummary(n int, first, last string) string {
	switch n {
	case 0:
		return "0 headers"
	case 1:
		return "1 header, " + first
	}
	return fmt.Sprintf("%d headers, %s .. %s", n, first, last)
}

// Inventory types wire has no constant for.
const (
	invTypeCmpctBlock wire.InvType = 4 // BIP152 MSG_CMPCT_BLOCK
	invTypeWTx        wire.InvType = 5 // BIP339 MSG_WTX
)

// invTypeNames gives the singular and plural name of each inventory type.
var invTypeNames = map[wire.InvType][2]string{
	wire.InvTypeError:                {"error", "errors"},
	wire.InvTypeTx:                   {"tx", "tx"},
	wire.InvTypeBlock:                {"block", "blocks"},
	wire.InvTypeFilteredBlock:        {"filtered block", "filtered blocks"},
	invTypeCmpctBlock:                {"compact block", "compact blocks"},
	invTypeWTx:                       {"wtx", "wtx"},
	wire.InvTypeWitnessTx:            {"witness tx", "witness tx"},
	wire.InvTypeWitnessBlock:         {"witness block", "witness blocks"},
	wire.InvTypeFilteredWitnessBlock: {"filtered witness block", "filtered witness blocks"},
}

func invTypeName(t wire.InvType, n int) string {
	names, ok := invTypeNames[t]
	if !ok {
		return fmt.Sprintf("unknown 0x%x", uint32(t))
	}
	if n == 1 {
		return names[0]
	}
	return names[1]
}

// invSummary counts inventory items by type: "3 items: 2 tx, 1 block". A
// single item is shown with its hash.
func invSummary(list []*wire.InvVect) string {
	switch len(list) {
	case 0:
		return "0 items"
	case 1:
		if list[0] == nil {
			return "1 item"
		}
		return fmt.Sprintf("1 item: %s %s", invTypeName(list[0].Type, 1), ShortHash(list[0].Hash))
	}
	type kind struct {
		typ wire.InvType
		n   int
	}
	var kinds []kind
	other := 0
items:
	for _, iv := range list {
		if iv == nil {
			other++
			continue
		}
		for i := range kinds {
			if kinds[i].typ == iv.Type {
				kinds[i].n++
				continue items
			}
		}
		if len(kinds) < maxInvKinds {
			kinds = append(kinds, kind{iv.Type, 1})
		} else {
			other++
		}
	}
	parts := make([]string, 0, len(kinds)+1)
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", k.n, invTypeName(k.typ, k.n)))
	}
	if other > 0 {
		parts = append(parts, fmt.Sprintf("%d other", other))
	}
	return fmt.Sprintf("%d items: %s", len(list), strings.Join(parts, ", "))
}

func txSummary(m *wire.MsgTx) string {
	s := fmt.Sprintf("tx %s, %d in, %d out", ShortHash(m.TxHash()), len(m.TxIn), len(m.TxOut))
	if len(m.TxOut) > 0 {
		// The total output value, when it is a sane one (hostile
		// transactions may carry negative or overflowing amounts).
		var total int64
		sane := true
		for _, out := range m.TxOut {
			if out == nil || out.Value < 0 || out.Value > math.MaxInt64-total {
				sane = false
				break
			}
			total += out.Value
		}
		if sane {
			s += fmt.Sprintf(", %d.%08d BTC", total/1e8, total%1e8)
		}
	}
	if m.HasWitness() {
		s += ", segwit"
	}
	return s
}

// rejectCodeNames names reject codes as Bitcoin Core did (BIP61).
var rejectCodeNames = map[wire.RejectCode]string{
	wire.RejectMalformed:       "malformed",
	wire.RejectInvalid:         "invalid",
	wire.RejectObsolete:        "obsolete",
	wire.RejectDuplicate:       "duplicate",
	wire.RejectNonstandard:     "nonstandard",
	wire.RejectDust:            "dust",
	wire.RejectInsufficientFee: "insufficientfee",
	wire.RejectCheckpoint:      "checkpoint",
}

// rejectSummary gives "rejected tx 1f1e1d1c…03020100: insufficientfee "min
// relay fee not met"".
func rejectSummary(m *wire.MsgReject) string {
	var b strings.Builder
	b.WriteString("rejected ")
	if cmd := OneLine(m.Cmd, CommandSize); cmd != "" {
		b.WriteString(cmd)
	} else {
		b.WriteString(`""`)
	}
	if (m.Cmd == wire.CmdTx || m.Cmd == wire.CmdBlock) && m.Hash != (chainhash.Hash{}) {
		b.WriteString(" " + ShortHash(m.Hash))
	}
	b.WriteString(": ")
	if name, ok := rejectCodeNames[m.Code]; ok {
		b.WriteString(name)
	} else {
		fmt.Fprintf(&b, "code 0x%02x", uint8(m.Code))
	}
	if reason := OneLine(m.Reason, maxReasonRunes); reason != "" {
		b.WriteString(` "` + reason + `"`)
	}
	return b.String()
}

func bloomUpdateName(f wire.BloomUpdateType) string {
	switch f {
	case wire.BloomUpdateNone:
		return "update none"
	case wire.BloomUpdateAll:
		return "update all"
	case wire.BloomUpdateP2PubkeyOnly:
		return "update p2pubkey only"
	}
	return fmt.Sprintf("update mode %d", uint8(f))
}

// filterTypeName names a BIP157 filter type as Core does ("basic").
func filterTypeName(t wire.FilterType) string {
	if t == wire.GCSFilterRegular {
		return "basic"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// displayable reports whether r may appear in a one-line summary: not a
// control character (C0, DEL, C1), not a line or paragraph separator, and not
// a format character (bidi overrides, zero-width characters), which could
// reorder or hide the rest of the line.
func displayable(r rune) bool {
	if r < 0x80 {
		return r >= 0x20 && r != 0x7f
	}
	return !unicode.IsControl(r) && !unicode.In(r, unicode.Zl, unicode.Zp, unicode.Cf)
}

// OneLine makes s safe for a one-line display: invalid UTF-8 and characters
// that are not displayable become U+FFFD, and a string longer than max runes
// is cut to max-1 runes followed by "…". It reads at most max+1 runes of s.
func OneLine(s string, max int) string {
	if len(s) <= max {
		plain := true
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c >= 0x7f {
				plain = false
				break
			}
		}
		if plain {
			return s
		}
	}
	buf := make([]byte, 0, min(len(s), 4*max)+len(ellipsis))
	cut, n := 0, 0
	for _, r := range s { // invalid bytes come out as utf8.RuneError (U+FFFD)
		if n == max {
			return string(append(buf[:cut], ellipsis...))
		}
		if n == max-1 {
			cut = len(buf)
		}
		if !displayable(r) {
			r = utf8.RuneError
		}
		buf = utf8.AppendRune(buf, r)
		n++
	}
	return string(buf)
}
