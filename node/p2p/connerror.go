package p2p

import (
	"errors"
	"io"

	"github.com/watchnode/watchnode/node/protocol"
)

// ReadFailure turns the error that ended a peer's reader into a reason:
// bad framing or payloads are violations and get the address discouraged;
// the peer closing the connection is not its fault; anything else is an
// I/O error. The shell classifies socket errors of its own (a closed
// socket, a reset) before falling back to this.
func ReadFailure(err error) Reason {
	switch {
	case errors.Is(err, protocol.ErrWrongMagic),
		errors.Is(err, protocol.ErrBadCommand),
		errors.Is(err, protocol.ErrPayloadTooLarge),
		errors.Is(err, protocol.ErrChecksumMismatch),
		errors.Is(err, protocol.ErrMalformed),
		errors.Is(err, protocol.ErrV2Packet),
		errors.Is(err, protocol.ErrV2Handshake),
		errors.Is(err, ErrTooCostly):
		return Violation("protocol violation: %v", err)
	case errors.Is(err, protocol.ErrV2Refused):
		return Because(DropV2Refused, "%v; retrying with v1", err)
	case errors.Is(err, io.EOF):
		return Because(DropRemoteClose, "peer closed the connection")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Because(DropRemoteClose, "peer closed the connection mid-message: %v", err)
	}
	return Because(DropIOError, "connection error: %v", err)
}
