package protocol

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/wire/v2"
)

// V2KeyLogLabel opens every line of a BIP324 key log.
const V2KeyLogLabel = "BIP324"

// V2KeyLogEntry is one connection in a BIP324 key log (the node's
// -v2keylog file), in the spirit of TLS's SSLKEYLOGFILE: enough for a
// decoder holding a capture of the connection to decrypt both directions.
// One line per connection, fields separated by one space:
//
//	BIP324 <initiator key> <shared secret> <network magic> <session id>
//
// initiator key: the 64-byte ElligatorSwift key the initiator sent first,
// 128 hex digits, which names the connection in a capture; shared secret:
// the 32-byte BIP324 ECDH secret, 64 hex digits; network magic: 8 hex
// digits, the magic as a number (mainnet d9b4bef9); session id: 64 hex
// digits, the id both peers can show (a check: it follows from the
// secret and the magic). Lines starting with '#' and blank lines are
// comments.
type V2KeyLogEntry struct {
	InitiatorKey [V2KeySize]byte
	Secret       [32]byte
	Magic        wire.BitcoinNet
	SessionID    [32]byte
}

// String is the entry's line, without its newline.
func (e V2KeyLogEntry) String() string {
	return fmt.Sprintf("%s %x %x %08x %x", V2KeyLogLabel, e.InitiatorKey, e.Secret, uint32(e.Magic), e.SessionID)
}

// Session derives the connection's keys from the entry.
func (e V2KeyLogEntry) Session() (V2Session, error) {
	return DeriveV2Session(e.Secret, e.Magic)
}

// maxKeyLogLine bounds a line read from a key log: a valid one is 267
// bytes.
const maxKeyLogLine = 1024

// ReadV2KeyLog reads a key log. A malformed line is an error naming its
// line number; so is an entry whose session id does not follow from its
// secret.
func ReadV2KeyLog(r io.Reader) ([]V2KeyLogEntry, error) {
	var out []V2KeyLogEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxKeyLogLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := ParseV2KeyLogLine(line)
		if err != nil {
			return nil, fmt.Errorf("key log line %d: %w", n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading key log: %w", err)
	}
	return out, nil
}

// ParseV2KeyLogLine parses one line of a key log.
func ParseV2KeyLogLine(line string) (V2KeyLogEntry, error) {
	var e V2KeyLogEntry
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != V2KeyLogLabel {
		return e, fmt.Errorf("want %q and four fields, got %d fields", V2KeyLogLabel, len(f))
	}
	for _, field := range []struct {
		name string
		hex  string
		dst  []byte
	}{
		{"initiator key", f[1], e.InitiatorKey[:]},
		{"shared secret", f[2], e.Secret[:]},
		{"session id", f[4], e.SessionID[:]},
	} {
		b, err := hex.DecodeString(field.hex)
		if err != nil || len(b) != len(field.dst) {
			return e, fmt.Errorf("%s: want %d hex digits, got %q", field.name, 2*len(field.dst), field.hex)
		}
		copy(field.dst, b)
	}
	magic, err := strconv.ParseUint(f[3], 16, 32)
	if err != nil || len(f[3]) != 8 {
		return e, fmt.Errorf("network magic: want 8 hex digits, got %q", f[3])
	}
	e.Magic = wire.BitcoinNet(magic)
	s, err := e.Session()
	if err != nil {
		return e, err
	}
	if s.ID != e.SessionID {
		return e, fmt.Errorf("session id %x does not follow from the secret and magic (want %x)", e.SessionID, s.ID)
	}
	return e, nil
}
