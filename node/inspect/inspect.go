// Package inspect decodes one P2P message payload into a tree of named,
// typed fields, each with its byte offset and length within the payload, for
// people reading captures (the dashboard and the WebAssembly decoder). A
// framed message's 24-byte header has a tree of its own (HeaderTree), with
// offsets within the frame, shown before the payload's as Wireshark does.
//
// It is pure (no I/O, no clocks) and builds for js/wasm. The reader is
// hand-written because the exact offsets are the point. It never panics on
// any input, never allocates by a declared count before the bytes behind it
// exist, and on malformed input returns the fields decoded so far together
// with a DecodeError naming the field path, its offset and what was expected.
package inspect

import (
	"fmt"
	"strconv"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// Field is one node of the decoded tree. Offset and Length locate the bytes
// it was read from within the payload; a struct or list covers its children.
// Computed fields (hashes, script disassembly, standard type names) are not
// read from the bytes they point at but derived from them: their Offset and
// Length give the bytes they were computed from, and they are excluded when
// the read fields are said to tile the payload.
type Field struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Value    string  `json:"value"`
	Offset   int     `json:"offset"`
	Length   int     `json:"length"`
	Computed bool    `json:"computed,omitempty"`
	Children []Field `json:"children,omitempty"`
}

// Message is a decoded payload.
type Message struct {
	Command string       `json:"command"`
	Length  int          `json:"length"`
	Summary string       `json:"summary"`
	Fields  []Field      `json:"fields"`
	Error   *DecodeError `json:"error,omitempty"`
}

// DecodeError says where and why decoding stopped.
type DecodeError struct {
	Field    string `json:"field"`    // path such as "tx_in[2].script_sig.length"
	Offset   int    `json:"offset"`   // within the payload
	Expected string `json:"expected"` // what the decoder wanted there
	Msg      string `json:"message"`
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s at offset %d: %s (expected %s)", e.Field, e.Offset, e.Msg, e.Expected)
}

// Commands wire/v2 and node/protocol have no constant for.
const (
	cmdCmpctBlock  = "cmpctblock"
	cmdGetBlockTxn = "getblocktxn"
	cmdBlockTxn    = "blocktxn"
)

// Decode decodes payload as a message of command. Unknown commands give one
// "payload" bytes field. Bytes after a complete known message are shown as a
// "trailing" field, as peers may append fields a decoder does not know.
func Decode(command string, payload []byte) Message {
	d := &dec{b: payload}
	if fn, ok := decoders[command]; ok {
		fn(d)
		d.trailing()
	} else if len(payload) > 0 {
		d.raw("payload", len(payload), "")
	}
	m := Message{Command: command, Length: len(payload), Fields: d.out, Error: d.err}
	if m.Fields == nil {
		m.Fields = []Field{}
	}
	m.Summary = summary(command, payload, d.err)
	return m
}

// summary reuses the dashboard's one-line summary when node/protocol decodes
// the message; otherwise it says what it can.
func summary(command string, payload []byte, err *DecodeError) string {
	if err != nil {
		return "malformed: " + err.Error()
	}
	if protocol.KnownCommand(command) {
		if msg, derr := protocol.Decode(command, payload); derr == nil {
			return protocol.Summary(msg)
		}
	}
	if _, ok := decoders[command]; ok {
		return command + ", " + strconv.Itoa(len(payload)) + " bytes"
	}
	return "unknown command, " + strconv.Itoa(len(payload)) + " bytes"
}

var decoders map[string]func(*dec)

func init() {
	empty := func(*dec) {}
	decoders = map[string]func(*dec){
		wire.CmdVersion:         decodeVersion,
		wire.CmdVerAck:          empty,
		wire.CmdSendHeaders:     empty,
		wire.CmdSendAddrV2:      empty,
		wire.CmdWTxIdRelay:      empty,
		wire.CmdGetAddr:         empty,
		wire.CmdMemPool:         empty,
		wire.CmdFilterClear:     empty,
		wire.CmdPing:            decodeNonce,
		wire.CmdPong:            decodeNonce,
		wire.CmdFeeFilter:       decodeFeeFilter,
		protocol.CmdSendCmpct:   decodeSendCmpct,
		protocol.CmdSendTxRcncl: decodeSendTxRcncl,
		wire.CmdAddr:            decodeAddr,
		wire.CmdAddrV2:          decodeAddrV2,
		wire.CmdInv:             decodeInv,
		wire.CmdGetData:         decodeInv,
		wire.CmdNotFound:        decodeInv,
		wire.CmdGetHeaders:      decodeLocator,
		wire.CmdGetBlocks:       decodeLocator,
		wire.CmdHeaders:         decodeHeaders,
		wire.CmdBlock:           decodeBlock,
		wire.CmdTx:              func(d *dec) { d.group("tx", "struct", d.tx) },
		wire.CmdReject:          decodeReject,
		wire.CmdFilterLoad:      decodeFilterLoad,
		wire.CmdFilterAdd:       func(d *dec) { d.varBytes("data", "bytes", 520, nil) },
		wire.CmdMerkleBlock:     decodeMerkleBlock,
		wire.CmdGetCFilters:     decodeGetCF,
		wire.CmdGetCFHeaders:    decodeGetCF,
		wire.CmdCFilter:         decodeCFilter,
		wire.CmdCFHeaders:       decodeCFHeaders,
		wire.CmdGetCFCheckpt:    decodeGetCFCheckpt,
		wire.CmdCFCheckpt:       decodeCFCheckpt,
		cmdCmpctBlock:           decodeCmpctBlock,
		cmdGetBlockTxn:          decodeGetBlockTxn,
		cmdBlockTxn:             decodeBlockTxn,
	}
}
