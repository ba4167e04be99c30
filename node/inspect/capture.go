package inspect

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/watchnode/watchnode/node/protocol"
)

// coreRecordHeader is the fixed part of a record in Bitcoin Core's
// -capturemessages files (msgs_recv.dat, msgs_sent.dat): an int64 time in
// microseconds, a 12-byte NUL-padded command and a uint32 payload length,
// all little endian, then the payload.
const coreRecordHeader = 8 + protocol.CommandSize + 4

// CaptureRecord is one message from a capture file.
type CaptureRecord struct {
	Offset  int       `json:"offset"` // of the record in the file
	Time    time.Time `json:"time"`
	Command string    `json:"command"`
	Payload []byte    `json:"-"`
}

// CaptureError says where a capture file stopped making sense.
type CaptureError struct {
	Offset int    `json:"offset"`
	Msg    string `json:"message"`
}

func (e *CaptureError) Error() string {
	return fmt.Sprintf("capture file at byte %d: %s", e.Offset, e.Msg)
}

// ReadCoreCapture parses a Bitcoin Core capture file. It returns every
// complete record before the first problem and, if there is one, a
// *CaptureError: the format has no framing to resynchronize on, so nothing
// after a bad record can be trusted. A length is checked against the bytes
// present before it is used, so a huge length field costs nothing.
func ReadCoreCapture(data []byte) ([]CaptureRecord, error) {
	var out []CaptureRecord
	for off := 0; off < len(data); {
		if len(data)-off < coreRecordHeader {
			return out, &CaptureError{off, fmt.Sprintf("%d bytes left, a record header needs %d", len(data)-off, coreRecordHeader)}
		}
		us := int64(binary.LittleEndian.Uint64(data[off:]))
		cmdField := data[off+8 : off+8+protocol.CommandSize]
		command, err := protocol.ParseCommand(cmdField)
		if err != nil {
			return out, &CaptureError{off + 8, fmt.Sprintf("command field %q: %v", cmdField, err)}
		}
		n := binary.LittleEndian.Uint32(data[off+8+protocol.CommandSize:])
		if n > protocol.MaxPayload {
			return out, &CaptureError{off + 20, fmt.Sprintf("payload length %d is over the protocol's %d", n, protocol.MaxPayload)}
		}
		start := off + coreRecordHeader
		if uint64(len(data)-start) < uint64(n) {
			return out, &CaptureError{start, fmt.Sprintf("payload of %d bytes, only %d left", n, len(data)-start)}
		}
		out = append(out, CaptureRecord{Offset: off, Time: time.UnixMicro(us).UTC(), Command: command, Payload: data[start : start+int(n)]})
		off = start + int(n)
	}
	return out, nil
}

// AppendCoreRecord appends one record in Bitcoin Core's capture format, so
// the node's own captures open in Core's tools and in this decoder.
func AppendCoreRecord(dst []byte, at time.Time, command string, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(at.UnixMicro()))
	var cmd [protocol.CommandSize]byte
	copy(cmd[:], command)
	dst = append(dst, cmd[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}
