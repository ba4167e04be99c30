package inspect

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// HeaderTree returns the field tree of a framed message's 24-byte header,
// with offsets from the frame's first byte, as Wireshark shows a Bitcoin
// packet's header before its message: the magic with the network it names,
// the command, the payload's length, and the checksum with its verdict
// against the payload that follows (frame[24:]). ok is false when frame is
// shorter than a header.
func HeaderTree(frame []byte) (tree Field, ok bool) {
	if len(frame) < protocol.HeaderSize {
		return Field{}, false
	}
	magic := binary.LittleEndian.Uint32(frame[0:4])
	network, known := protocol.NetworkByMagic(wire.BitcoinNet(magic))
	magicValue, value := hex.EncodeToString(frame[0:4])+" (no known network)", ""
	if known {
		magicValue, value = hex.EncodeToString(frame[0:4])+" ("+string(network)+")", string(network)+" "
	}
	cmdField := frame[4 : 4+protocol.CommandSize]
	command, err := protocol.ParseCommand(cmdField)
	commandValue := strconv.Quote(command)
	if err != nil {
		commandValue = fmt.Sprintf("%x (%v)", cmdField, err)
	}
	length := binary.LittleEndian.Uint32(frame[16:20])
	payload := frame[protocol.HeaderSize:]
	lengthValue := strconv.FormatUint(uint64(length), 10) + " bytes"
	if int64(length) != int64(len(payload)) {
		lengthValue += fmt.Sprintf(" (%d follow)", len(payload))
	}
	sum := frame[20:24]
	children := []Field{
		{Name: "magic", Type: "bytes", Value: magicValue, Offset: 0, Length: 4},
		{Name: "command", Type: "char[12]", Value: commandValue, Offset: 4, Length: protocol.CommandSize},
		{Name: "length", Type: "uint32", Value: lengthValue, Offset: 16, Length: 4},
		{Name: "checksum", Type: "bytes", Value: hex.EncodeToString(sum) + " (" + checksumVerdict(sum, payload) + ")", Offset: 20, Length: 4},
	}
	return Field{
		Name:     "header",
		Type:     "message header",
		Value:    value + command + ", " + WithArticle(strconv.FormatUint(uint64(length), 10)+"-byte") + " payload",
		Offset:   0,
		Length:   protocol.HeaderSize,
		Children: children,
	}, true
}

// checksumVerdict says whether sum, a header's checksum, is the payload's:
// "matches", or what it should have been, the way Wireshark reports a bad
// checksum ("incorrect, should be ...").
func checksumVerdict(sum, payload []byte) string {
	want := protocol.Checksum(payload)
	if string(sum) == string(want[:]) {
		return "matches"
	}
	return "does not match: expected " + hex.EncodeToString(want[:])
}
