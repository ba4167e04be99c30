package inspect

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Minimum encoded sizes, used to bound declared counts by the bytes left.
const (
	minTxSize     = 10 // version, input count, output count, locktime
	minInputSize  = 41 // outpoint 36, script length 1, sequence 4
	minOutputSize = 9  // value 8, script length 1
	maxScriptSize = 10000
)

func decodeBlock(d *dec) {
	d.header("header")
	d.txList("transactions")
}

// txList reads a CompactSize count of transactions.
func (d *dec) txList(name string) {
	d.group(name, "list", func() string {
		n, _ := d.count(minTxSize, "transactions")
		for i := uint64(0); i < n && !d.failed(); i++ {
			d.item(name, "struct", i, d.tx)
		}
		return counted(n, "transaction", "transactions")
	})
}

// tx reads one transaction, segwit or not (BIP144), and adds its computed
// txid, wtxid, size and weight. It returns the txid for display.
func (d *dec) tx() string {
	start := d.off
	d.u32("version", "int32", sdec32)
	// BIP144: a zero where the input count would be, followed by a non-zero
	// flag, marks the extended serialization.
	segwit := !d.failed() && d.left() >= 2 && d.b[d.off] == 0 && d.b[d.off+1] != 0
	if segwit {
		d.u8("marker", "uint8", hex8)
		d.u8("flag", "uint8", hex8)
	}
	insStart := d.off
	var nIn uint64
	d.group("tx_in", "list", func() string {
		nIn, _ = d.count(minInputSize, "inputs")
		for i := uint64(0); i < nIn && !d.failed(); i++ {
			d.item("tx_in", "struct", i, d.txIn)
		}
		return counted(nIn, "input", "inputs")
	})
	d.group("tx_out", "list", func() string {
		n, _ := d.count(minOutputSize, "outputs")
		for i := uint64(0); i < n && !d.failed(); i++ {
			d.item("tx_out", "struct", i, d.txOut)
		}
		return counted(n, "output", "outputs")
	})
	outsEnd := d.off
	if segwit {
		d.group("witness", "list", func() string {
			for i := uint64(0); i < nIn && !d.failed(); i++ {
				d.item("witness", "list", i, func() string {
					n, _ := d.count(1, "stack items")
					for j := uint64(0); j < n && !d.failed(); j++ {
						d.varBytes("stack["+strconv.FormatUint(j, 10)+"]", "bytes", 0, nil)
					}
					return counted(n, "item", "items")
				})
			}
			return strconv.FormatUint(nIn, 10) + " stacks"
		})
	}
	lockOff := d.off
	d.u32("locktime", "uint32", func(v uint32) string {
		switch {
		case v == 0:
			return "0"
		case v < 500000000:
			return fmt.Sprintf("%d (block height)", v)
		}
		return time32(v)
	})
	if d.failed() {
		return ""
	}
	end := d.off
	txid := sha256d(d.b[start:start+4], d.b[insStart:outsEnd], d.b[lockOff:end])
	wtxid := txid
	if segwit {
		wtxid = sha256d(d.b[start:end])
	}
	base := 4 + (outsEnd - insStart) + 4
	total := end - start
	weight := 3*base + total
	n := total
	d.computed("txid", "hash", hashString(txid[:]), start, n)
	d.computed("wtxid", "hash", hashString(wtxid[:]), start, n)
	d.computed("size", "int", strconv.Itoa(total), start, n)
	d.computed("weight", "int", fmt.Sprintf("%d (vsize %d)", weight, (weight+3)/4), start, n)
	return hashString(txid[:])
}

func (d *dec) txIn() string {
	var coinbase bool
	var prev string
	d.group("prev_out", "struct", func() string {
		h := d.hash("hash")
		idx := d.u32("index", "uint32", dec32)
		if d.failed() {
			return ""
		}
		coinbase = idx == 0xffffffff && allZero(h)
		if coinbase {
			prev = "coinbase"
		} else {
			prev = hashString(h) + ":" + strconv.FormatUint(uint64(idx), 10)
		}
		return prev
	})
	d.script("script_sig", false)
	d.u32("sequence", "uint32", func(v uint32) string { return fmt.Sprintf("0x%08x", v) })
	return prev
}

func (d *dec) txOut() string {
	var value int64
	d.u64("value", "int64", func(v uint64) string { value = int64(v); return btc(int64(v)) })
	kind := d.script("script_pubkey", true)
	if d.failed() {
		return ""
	}
	return btc(value) + " " + kind
}

// script reads a CompactSize-prefixed script, shown as hex, with computed
// children "asm" (disassembly) and, for output scripts, "type".
func (d *dec) script(name string, output bool) string {
	s := d.varBytes(name, "script", maxScriptSize, nil)
	if d.failed() {
		return ""
	}
	f := &d.out[len(d.out)-1]
	data := f.Children[len(f.Children)-1]
	f.Children = append(f.Children, Field{Name: "asm", Type: "string", Value: disasm(s), Offset: data.Offset, Length: data.Length, Computed: true})
	if !output {
		return ""
	}
	kind := scriptType(s)
	f.Children = append(f.Children, Field{Name: "type", Type: "string", Value: kind, Offset: data.Offset, Length: data.Length, Computed: true})
	return kind
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Opcodes the classifier needs.
const (
	op0             = 0x00
	opPushData1     = 0x4c
	opPushData2     = 0x4d
	opPushData4     = 0x4e
	op1Negate       = 0x4f
	op1             = 0x51
	op16            = 0x60
	opReturn        = 0x6a
	opDup           = 0x76
	opEqual         = 0x87
	opEqualVerify   = 0x88
	opHash160       = 0xa9
	opCheckSig      = 0xac
	opCheckMultisig = 0xae
)

var opNames = func() [256]string {
	var n [256]string
	named := []string{
		"OP_NOP", "OP_VER", "OP_IF", "OP_NOTIF", "OP_VERIF", "OP_VERNOTIF", "OP_ELSE", "OP_ENDIF", "OP_VERIFY",
		"OP_RETURN", "OP_TOALTSTACK", "OP_FROMALTSTACK", "OP_2DROP", "OP_2DUP", "OP_3DUP", "OP_2OVER", "OP_2ROT",
		"OP_2SWAP", "OP_IFDUP", "OP_DEPTH", "OP_DROP", "OP_DUP", "OP_NIP", "OP_OVER", "OP_PICK", "OP_ROLL", "OP_ROT",
		"OP_SWAP", "OP_TUCK", "OP_CAT", "OP_SUBSTR", "OP_LEFT", "OP_RIGHT", "OP_SIZE", "OP_INVERT", "OP_AND", "OP_OR",
		"OP_XOR", "OP_EQUAL", "OP_EQUALVERIFY", "OP_RESERVED1", "OP_RESERVED2", "OP_1ADD", "OP_1SUB", "OP_2MUL",
		"OP_2DIV", "OP_NEGATE", "OP_ABS", "OP_NOT", "OP_0NOTEQUAL", "OP_ADD", "OP_SUB", "OP_MUL", "OP_DIV", "OP_MOD",
		"OP_LSHIFT", "OP_RSHIFT", "OP_BOOLAND", "OP_BOOLOR", "OP_NUMEQUAL", "OP_NUMEQUALVERIFY", "OP_NUMNOTEQUAL",
		"OP_LESSTHAN", "OP_GREATERTHAN", "OP_LESSTHANOREQUAL", "OP_GREATERTHANOREQUAL", "OP_MIN", "OP_MAX",
		"OP_WITHIN", "OP_RIPEMD160", "OP_SHA1", "OP_SHA256", "OP_HASH160", "OP_HASH256", "OP_CODESEPARATOR",
		"OP_CHECKSIG", "OP_CHECKSIGVERIFY", "OP_CHECKMULTISIG", "OP_CHECKMULTISIGVERIFY", "OP_NOP1",
		"OP_CHECKLOCKTIMEVERIFY", "OP_CHECKSEQUENCEVERIFY", "OP_NOP4", "OP_NOP5", "OP_NOP6", "OP_NOP7", "OP_NOP8",
		"OP_NOP9", "OP_NOP10", "OP_CHECKSIGADD",
	}
	for i := range n {
		n[i] = "OP_UNKNOWN"
	}
	for i, s := range named {
		n[0x61+i] = s
	}
	n[op0] = "0"
	n[opPushData1], n[opPushData2], n[opPushData4] = "OP_PUSHDATA1", "OP_PUSHDATA2", "OP_PUSHDATA4"
	n[op1Negate] = "-1"
	n[0x50] = "OP_RESERVED"
	for i := op1; i <= op16; i++ {
		n[i] = strconv.Itoa(i - op1 + 1)
	}
	n[0xff] = "OP_INVALIDOPCODE"
	return n
}()

// scriptOp is one parsed script operation.
type scriptOp struct {
	op   byte
	data []byte // pushed bytes, for push opcodes
}

// nextOp parses the operation at s[i:], returning it and the next index, or
// ok false when a push runs past the end.
func nextOp(s []byte, i int) (scriptOp, int, bool) {
	op := s[i]
	i++
	var n int
	switch {
	case op > 0 && op < opPushData1:
		n = int(op)
	case op == opPushData1:
		if i+1 > len(s) {
			return scriptOp{op: op}, len(s), false
		}
		n, i = int(s[i]), i+1
	case op == opPushData2:
		if i+2 > len(s) {
			return scriptOp{op: op}, len(s), false
		}
		n, i = int(binary.LittleEndian.Uint16(s[i:])), i+2
	case op == opPushData4:
		if i+4 > len(s) {
			return scriptOp{op: op}, len(s), false
		}
		v := binary.LittleEndian.Uint32(s[i:])
		if uint64(v) > uint64(len(s)-i) {
			return scriptOp{op: op}, len(s), false
		}
		n, i = int(v), i+4
	default:
		return scriptOp{op: op}, i, true
	}
	if n > len(s)-i {
		return scriptOp{op: op}, len(s), false
	}
	return scriptOp{op: op, data: s[i : i+n]}, i + n, true
}

// disasm renders a script as Bitcoin Core's asm does: pushes as hex,
// small numbers as numbers, other opcodes by name; "[error]" where a push
// runs past the end.
func disasm(s []byte) string {
	var sb strings.Builder
	for i := 0; i < len(s); {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		op, next, ok := nextOp(s, i)
		i = next
		switch {
		case !ok:
			sb.WriteString("[error]")
		case op.op > 0 && op.op <= opPushData4:
			sb.WriteString(hex.EncodeToString(op.data))
		default:
			sb.WriteString(opNames[op.op])
		}
	}
	return sb.String()
}

// scriptType names an output script's standard type as Bitcoin Core's
// Solver does (with "p2pkh" for pubkeyhash and so on).
func scriptType(s []byte) string {
	n := len(s)
	switch {
	case n == 25 && s[0] == opDup && s[1] == opHash160 && s[2] == 20 && s[23] == opEqualVerify && s[24] == opCheckSig:
		return "p2pkh"
	case n == 23 && s[0] == opHash160 && s[1] == 20 && s[22] == opEqual:
		return "p2sh"
	}
	if v, prog, ok := witnessProgram(s); ok {
		switch {
		case v == 0 && len(prog) == 20:
			return "p2wpkh"
		case v == 0 && len(prog) == 32:
			return "p2wsh"
		case v == 1 && len(prog) == 32:
			return "p2tr"
		case v == 1 && len(prog) == 2 && prog[0] == 0x4e && prog[1] == 0x73:
			return "anchor"
		case v != 0:
			return "witness_unknown"
		}
		return "nonstandard"
	}
	if (n == 35 && s[0] == 33 || n == 67 && s[0] == 65) && s[n-1] == opCheckSig {
		return "p2pk"
	}
	if n > 0 && s[0] == opReturn && pushOnly(s[1:]) {
		return "nulldata"
	}
	if isMultisig(s) {
		return "multisig"
	}
	return "nonstandard"
}

// witnessProgram recognizes BIP141 witness programs.
func witnessProgram(s []byte) (int, []byte, bool) {
	if len(s) < 4 || len(s) > 42 {
		return 0, nil, false
	}
	if s[0] != op0 && (s[0] < op1 || s[0] > op16) {
		return 0, nil, false
	}
	if int(s[1])+2 != len(s) {
		return 0, nil, false
	}
	v := 0
	if s[0] != op0 {
		v = int(s[0]) - op1 + 1
	}
	return v, s[2:], true
}

func pushOnly(s []byte) bool {
	for i := 0; i < len(s); {
		op, next, ok := nextOp(s, i)
		if !ok || op.op > op16 {
			return false
		}
		i = next
	}
	return true
}

// isMultisig recognizes bare m-of-n CHECKMULTISIG with 33- or 65-byte keys.
func isMultisig(s []byte) bool {
	if len(s) < 3 || s[len(s)-1] != opCheckMultisig {
		return false
	}
	if s[0] < op1 || s[0] > op16 {
		return false
	}
	m := int(s[0]) - op1 + 1
	keys := 0
	i := 1
	for i < len(s)-2 {
		op, next, ok := nextOp(s, i)
		if !ok || (len(op.data) != 33 && len(op.data) != 65) || op.op != byte(len(op.data)) {
			return false
		}
		keys++
		i = next
	}
	if i != len(s)-2 {
		return false
	}
	last := s[len(s)-2]
	if last < op1 || last > op16 {
		return false
	}
	n := int(last) - op1 + 1
	return keys == n && m <= n
}
