package protocol

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/wire/v2"
)

// Commands the node handles that btcd's wire package has no decoder for.
const (
	CmdSendCmpct   = "sendcmpct"
	CmdSendTxRcncl = "sendtxrcncl"
)

// MsgSendCmpct is BIP152's sendcmpct: the sender can (Version) and may want
// to (Announce) receive compact blocks. wire/v2 has no type for it.
type MsgSendCmpct struct {
	Announce bool
	Version  uint64
}

// sendCmpctPayload is the fixed size of a sendcmpct payload.
const sendCmpctPayload = 9

// BtcDecode reads the 9-byte payload. Bitcoin Core's own decoder reads a bool
// byte and a uint64, so any non-zero announce byte means true.
func (m *MsgSendCmpct) BtcDecode(r io.Reader, _ uint32, _ wire.MessageEncoding) error {
	var b [sendCmpctPayload]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return fmt.Errorf("sendcmpct needs %d bytes: %w", sendCmpctPayload, err)
	}
	m.Announce = b[0] != 0
	m.Version = binary.LittleEndian.Uint64(b[1:])
	return nil
}

// BtcEncode writes the 9-byte payload.
func (m *MsgSendCmpct) BtcEncode(w io.Writer, _ uint32, _ wire.MessageEncoding) error {
	var b [sendCmpctPayload]byte
	if m.Announce {
		b[0] = 1
	}
	binary.LittleEndian.PutUint64(b[1:], m.Version)
	_, err := w.Write(b[:])
	return err
}

// Command returns "sendcmpct".
func (m *MsgSendCmpct) Command() string { return CmdSendCmpct }

// MaxPayloadLength returns the fixed payload size.
func (m *MsgSendCmpct) MaxPayloadLength(uint32) uint32 { return sendCmpctPayload }

// MsgUnknown carries a command the node does not decode. Bitcoin Core ignores
// unknown commands, so the node does too: it records them and moves on.
type MsgUnknown struct {
	Cmd     string
	Payload []byte
}

// BtcDecode keeps the raw payload.
func (m *MsgUnknown) BtcDecode(r io.Reader, _ uint32, _ wire.MessageEncoding) error {
	b, err := io.ReadAll(r)
	m.Payload = b
	return err
}

// BtcEncode writes the raw payload back.
func (m *MsgUnknown) BtcEncode(w io.Writer, _ uint32, _ wire.MessageEncoding) error {
	_, err := w.Write(m.Payload)
	return err
}

// Command returns the command the message arrived with.
func (m *MsgUnknown) Command() string { return m.Cmd }

// MaxPayloadLength returns the framing limit: unknown payloads are not parsed.
func (m *MsgUnknown) MaxPayloadLength(uint32) uint32 { return MaxPayload }
