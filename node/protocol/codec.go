package protocol

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"
)

// ProtocolVersion is the P2P protocol version the node speaks (addrv2, BIP155).
const ProtocolVersion uint32 = wire.AddrV2Version

// MinPeerProtocolVersion is the oldest version the node accepts from a peer:
// 70015 is the first with the modern misbehaviour and compact-block rules,
// which Bitcoin Core also requires of outbound peers.
const MinPeerProtocolVersion = 70015

// ErrMalformed is wrapped by every payload decoding error.
var ErrMalformed = errors.New("malformed payload")

// newMessage returns an empty message for command. Commands the node does not
// know give a *MsgUnknown so the caller can log and ignore them.
func newMessage(command string) wire.Message {
	switch command {
	case wire.CmdVersion:
		return &wire.MsgVersion{}
	case wire.CmdVerAck:
		return &wire.MsgVerAck{}
	case wire.CmdSendAddrV2:
		return &wire.MsgSendAddrV2{}
	case wire.CmdWTxIdRelay:
		return &wire.MsgWTxIdRelay{}
	case CmdSendCmpct:
		return &MsgSendCmpct{}
	case wire.CmdGetAddr:
		return &wire.MsgGetAddr{}
	case wire.CmdAddr:
		return &wire.MsgAddr{}
	case wire.CmdAddrV2:
		return &wire.MsgAddrV2{}
	case wire.CmdGetBlocks:
		return &wire.MsgGetBlocks{}
	case wire.CmdBlock:
		return &wire.MsgBlock{}
	case wire.CmdInv:
		return &wire.MsgInv{}
	case wire.CmdGetData:
		return &wire.MsgGetData{}
	case wire.CmdNotFound:
		return &wire.MsgNotFound{}
	case wire.CmdTx:
		return &wire.MsgTx{}
	case wire.CmdPing:
		return &wire.MsgPing{}
	case wire.CmdPong:
		return &wire.MsgPong{}
	case wire.CmdGetHeaders:
		return &wire.MsgGetHeaders{}
	case wire.CmdHeaders:
		return &wire.MsgHeaders{}
	case wire.CmdMemPool:
		return &wire.MsgMemPool{}
	case wire.CmdFilterAdd:
		return &wire.MsgFilterAdd{}
	case wire.CmdFilterClear:
		return &wire.MsgFilterClear{}
	case wire.CmdFilterLoad:
		return &wire.MsgFilterLoad{}
	case wire.CmdMerkleBlock:
		return &wire.MsgMerkleBlock{}
	case wire.CmdReject:
		return &wire.MsgReject{}
	case wire.CmdSendHeaders:
		return &wire.MsgSendHeaders{}
	case wire.CmdFeeFilter:
		return &wire.MsgFeeFilter{}
	case wire.CmdGetCFilters:
		return &wire.MsgGetCFilters{}
	case wire.CmdGetCFHeaders:
		return &wire.MsgGetCFHeaders{}
	case wire.CmdGetCFCheckpt:
		return &wire.MsgGetCFCheckpt{}
	case wire.CmdCFilter:
		return &wire.MsgCFilter{}
	case wire.CmdCFHeaders:
		return &wire.MsgCFHeaders{}
	case wire.CmdCFCheckpt:
		return &wire.MsgCFCheckpt{}
	}
	return &MsgUnknown{Cmd: command}
}

// Decode turns a frame's payload into a typed message. Unknown commands
// decode to *MsgUnknown without error. Trailing bytes after a known message
// are tolerated, as Bitcoin Core tolerates them (version messages grow new
// optional fields at the end). Declared counts and lengths are checked
// against the bytes present before wire sees them (see precheck), so what
// decoding allocates is proportional to the payload.
func Decode(command string, payload []byte) (msg wire.Message, err error) {
	if err := precheck(command, payload); err != nil {
		return nil, fmt.Errorf("%w: %q (%d bytes): %w", ErrMalformed, command, len(payload), err)
	}
	msg = newMessage(command)
	defer func() {
		// wire is well tested, but a decoder panic on hostile bytes must cost
		// only that peer, never the node.
		if r := recover(); r != nil {
			msg, err = nil, fmt.Errorf("%w: %q decoder panicked: %v", ErrMalformed, command, r)
		}
	}()
	// A *bytes.Buffer, not a *bytes.Reader: wire's MsgVersion.BtcDecode
	// refuses any other reader type (it needs Len for the optional fields).
	if err := msg.BtcDecode(bytes.NewBuffer(payload), ProtocolVersion, wire.LatestEncoding); err != nil {
		return nil, fmt.Errorf("%w: %q (%d bytes): %w", ErrMalformed, command, len(payload), err)
	}
	return msg, nil
}

// Encode serializes msg's payload.
func Encode(msg wire.Message) ([]byte, error) {
	var buf bytes.Buffer
	if err := msg.BtcEncode(&buf, ProtocolVersion, wire.LatestEncoding); err != nil {
		return nil, fmt.Errorf("encoding %q: %w", msg.Command(), err)
	}
	return buf.Bytes(), nil
}

// EncodeFrame serializes and frames msg for the network with magic.
func EncodeFrame(magic wire.BitcoinNet, msg wire.Message) ([]byte, error) {
	payload, err := Encode(msg)
	if err != nil {
		return nil, err
	}
	return AppendFrame(make([]byte, 0, HeaderSize+len(payload)), magic, msg.Command(), payload)
}

// KnownCommand reports whether the node decodes command (as opposed to
// handing it up as *MsgUnknown).
func KnownCommand(command string) bool {
	_, unknown := newMessage(command).(*MsgUnknown)
	return !unknown
}

// AppendCompactSize appends n as Bitcoin's CompactSize (wire's VarInt).
func AppendCompactSize(dst []byte, n uint64) []byte {
	switch {
	case n < 0xfd:
		return append(dst, byte(n))
	case n <= 0xffff:
		return append(dst, 0xfd, byte(n), byte(n>>8))
	case n <= 0xffffffff:
		return append(dst, 0xfe, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	}
	return append(dst, 0xff, byte(n), byte(n>>8), byte(n>>16), byte(n>>24), byte(n>>32), byte(n>>40), byte(n>>48), byte(n>>56))
}
