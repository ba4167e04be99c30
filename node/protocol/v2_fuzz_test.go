package protocol

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// FuzzParseV2Contents checks that no packet contents make the parser
// panic, that every refusal is one of the errors callers test for, and that
// what it accepts is the exact encoding of its result: the short id, or the
// zero byte and the NUL-padded command, then the payload.
func FuzzParseV2Contents(f *testing.F) {
	for _, cmd := range []string{"ping", "headers", "addrv2", "verack", "version", "sendaddrv2"} {
		f.Add(append(bytes.Clone(V2MessageType(cmd)), 1, 2, 3))
	}
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{29, 1})
	f.Add([]byte{0, 'p', 'i', 'n', 'g', 0, 'x', 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, contents []byte) {
		command, payload, err := ParseV2Contents(contents)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrV2UnknownType) && !errors.Is(err, ErrBadCommand) && !errors.Is(err, ErrPayloadTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if command != "" || payload != nil {
				t.Fatalf("error %v with command %q and %d payload bytes", err, command, len(payload))
			}
			return
		}
		if command == "" || len(payload) > MaxPayload {
			t.Fatalf("command %q, %d payload bytes", command, len(payload))
		}
		var typ []byte
		if contents[0] != 0 {
			typ = V2MessageType(command)
			if len(typ) != 1 || typ[0] != contents[0] {
				t.Fatalf("short id %d parsed as %q, which encodes as %x", contents[0], command, typ)
			}
		} else {
			typ = make([]byte, 1+wire.CommandSize)
			copy(typ[1:], command)
		}
		if !bytes.Equal(append(bytes.Clone(typ), payload...), contents) {
			t.Fatalf("%x parsed as %q + %x, which is not its encoding", contents, command, payload)
		}
	})
}

// FuzzParseV2KeyLogLine checks that no line makes the parser panic, and
// that an accepted line's entry is self-consistent (its session id follows
// from its secret and magic) and comes back the same from its own line.
func FuzzParseV2KeyLogLine(f *testing.F) {
	var e V2KeyLogEntry
	for i := range e.InitiatorKey {
		e.InitiatorKey[i] = byte(i)
	}
	e.Secret[0], e.Magic = 7, wire.MainNet
	s, err := e.Session()
	if err != nil {
		f.Fatal(err)
	}
	e.SessionID = s.ID
	f.Add(e.String())
	f.Add(V2KeyLogLabel + strings.ToUpper(e.String()[len(V2KeyLogLabel):]))
	f.Add("  " + strings.ReplaceAll(e.String(), " ", "\t") + " ")
	f.Add(V2KeyLogLabel + " 00 11 22 33")
	f.Add("# a comment")
	f.Fuzz(func(t *testing.T, line string) {
		got, err := ParseV2KeyLogLine(line)
		if err != nil {
			return
		}
		s, err := got.Session()
		if err != nil || s.ID != got.SessionID {
			t.Fatalf("accepted %q, whose session id does not follow (%v)", line, err)
		}
		again, err := ParseV2KeyLogLine(got.String())
		if err != nil || again != got {
			t.Fatalf("%q: its entry's own line %q reads back as %+v, %v", line, got.String(), again, err)
		}
		if strings.Join(strings.Fields(strings.ToLower(line)), " ") != strings.ToLower(got.String()) {
			t.Fatalf("accepted %q as %q", line, got.String())
		}
	})
}
