package protocol

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"
)

// v2ShortIDs is BIP324's table of one-byte message types (wire keeps its
// copy unexported, and lacks the compact-block messages). Index 0 means a
// 12-byte type follows.
var v2ShortIDs = [...]string{
	1: "addr", 2: "block", 3: "blocktxn", 4: "cmpctblock", 5: "feefilter",
	6: "filteradd", 7: "filterclear", 8: "filterload", 9: "getblocks",
	10: "getblocktxn", 11: "getdata", 12: "getheaders", 13: "headers",
	14: "inv", 15: "mempool", 16: "merkleblock", 17: "notfound", 18: "ping",
	19: "pong", 20: "sendcmpct", 21: "tx", 22: "getcfilters", 23: "cfilter",
	24: "getcfheaders", 25: "cfheaders", 26: "getcfcheckpt", 27: "cfcheckpt",
	28: "addrv2",
}

// v2Short maps a command to its short id's byte, built once from the
// table so that naming a message allocates nothing.
var v2Short = func() map[string][]byte {
	m := make(map[string][]byte, len(v2ShortIDs))
	for id, cmd := range v2ShortIDs {
		if cmd != "" {
			m[cmd] = []byte{byte(id)}
		}
	}
	return m
}()

// ErrV2UnknownType marks a packet whose one-byte message type BIP324 does
// not assign.
var ErrV2UnknownType = errors.New("unknown BIP324 message type")

// V2MessageType returns the bytes that open a packet carrying command: its
// one-byte short id, or a zero byte and the command padded to 12 bytes.
// The result may be shared: it must not be modified.
func V2MessageType(command string) []byte {
	if id, ok := v2Short[command]; ok {
		return id
	}
	b := make([]byte, 1+wire.CommandSize)
	copy(b[1:], command)
	return b
}

// ParseV2Contents splits a packet's contents into its command and
// payload. A long type follows the v1 command rules (ParseCommand). A
// packet whose type cannot be read (an unassigned short id, empty
// contents, a long type cut short or not a valid command) gives
// ErrV2UnknownType: Core skips such a message rather than drop the peer
// (a later BIP may assign the id), and so does the node.
func ParseV2Contents(contents []byte) (command string, payload []byte, err error) {
	if len(contents) == 0 {
		return "", nil, fmt.Errorf("%w: empty contents", ErrV2UnknownType)
	}
	id := contents[0]
	if id != 0 {
		if int(id) >= len(v2ShortIDs) || v2ShortIDs[id] == "" {
			return "", nil, fmt.Errorf("%w: short id %d", ErrV2UnknownType, id)
		}
		command, payload = v2ShortIDs[id], contents[1:]
	} else {
		if len(contents) < 1+wire.CommandSize {
			return "", nil, fmt.Errorf("%w: %d bytes, too short for a long message type", ErrV2UnknownType, len(contents))
		}
		if command, err = ParseCommand(contents[1 : 1+wire.CommandSize]); err != nil {
			return "", nil, fmt.Errorf("%w: %v", ErrV2UnknownType, err)
		}
		payload = contents[1+wire.CommandSize:]
	}
	if len(payload) > MaxPayload {
		return "", nil, fmt.Errorf("%w: %q payload of %d bytes, limit %d", ErrPayloadTooLarge, command, len(payload), MaxPayload)
	}
	return command, payload, nil
}
