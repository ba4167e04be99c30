package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/watchnode/watchnode/node/inspect"
	"github.com/watchnode/watchnode/node/protocol"
)

// session holds the page's current decode: the page lists the entries once
// and asks for one message's field tree and bytes when the user selects it,
// so the inputs stay here, in Go memory, between calls.
type session struct {
	res *inspect.Result
}

// open decodes inputs and returns the list (entries without field trees) as
// JSON, or {"error": ...} for bad options.
func (s *session) open(inputs []inspect.Input, opt inspect.Options) string {
	res, err := inspect.Open(inputs, opt)
	if err != nil {
		return errorJSON(err.Error())
	}
	s.res = res
	return marshal(res)
}

// message returns entry i with its field tree as JSON.
func (s *session) message(i int) string {
	if s.res == nil {
		return errorJSON("nothing is open: call watchnodeOpen first")
	}
	e, ok := s.res.Detail(i)
	if !ok {
		return errorJSON(fmt.Sprintf("no entry %d: there are %d", i, len(s.res.Entries)))
	}
	return marshal(e)
}

// raw returns the bytes entry i was read from: its frame (header and
// payload) when the input has headers, else its payload.
func (s *session) raw(i int) []byte {
	if s.res == nil {
		return nil
	}
	return s.res.Raw(i)
}

// export returns every entry with its field tree: the same JSON as
// `server decode` prints.
func (s *session) export() string {
	if s.res == nil {
		return errorJSON("nothing is open: call watchnodeOpen first")
	}
	return marshal(s.res.WithFields())
}

func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return errorJSON("encoding the result: " + err.Error())
	}
	return string(b)
}

// errorJSON returns {"error": msg} as JSON, the shape the page checks for.
func errorJSON(msg string) string {
	b, err := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	if err != nil {
		// Marshalling one string field cannot fail; this keeps the promise
		// of always returning JSON even so.
		return `{"error":"internal error"}`
	}
	return string(b)
}

// maxKeyLogText bounds options.keylog: a key log line is 267 bytes, so
// this is thousands of connections, and more is a mistake, not a key log.
const maxKeyLogText = 4 << 20

// parseOptions reads watchnodeOpen's options: the format's name, a bare
// payload's command, and the text of a BIP324 key log (the node's
// -v2keylog file) to decrypt v2 captures with. A key log can also be one
// of the inputs; this is for a page that keeps it apart.
func parseOptions(format, command, keyLog string) (inspect.Options, error) {
	f, err := inspect.ParseFormat(format)
	if err != nil {
		return inspect.Options{}, err
	}
	opt := inspect.Options{Format: f, Command: command}
	if keyLog != "" {
		if len(keyLog) > maxKeyLogText {
			return opt, fmt.Errorf("key log of %d bytes: at most %d", len(keyLog), maxKeyLogText)
		}
		if opt.KeyLog, err = protocol.ReadV2KeyLog(strings.NewReader(keyLog)); err != nil {
			return opt, fmt.Errorf("options.keylog: %w", err)
		}
	}
	return opt, nil
}

// maxMetaText bounds the page's text about an input: it comes from the
// address bar, which anyone can write a link to.
const maxMetaText = 256

// parseMeta reads what the page knows about an input's messages (a message
// opened from the node's log knows its time, direction, peer and address):
// the time in RFC 3339, the direction as the decoder names it ("sent" or
// "recv", relative to the node), the node's id of the peer (digits) and the
// peer's address. Each may be empty.
func parseMeta(at, direction, peer, connection string) (inspect.Meta, error) {
	var m inspect.Meta
	if at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return m, fmt.Errorf("time %q is not an RFC 3339 time: %w", at, err)
		}
		m.Time = t.UTC()
	}
	switch direction {
	case "", inspect.DirectionSent, inspect.DirectionRecv:
		m.Direction = direction
	default:
		return m, fmt.Errorf("direction %q is neither %q nor %q", direction, inspect.DirectionSent, inspect.DirectionRecv)
	}
	if peer != "" {
		if _, err := strconv.ParseUint(peer, 10, 64); err != nil {
			return m, fmt.Errorf("peer %q is not a peer id: %w", peer, err)
		}
		m.Peer = peer
	}
	if len(connection) > maxMetaText {
		return m, fmt.Errorf("connection of %d bytes: at most %d", len(connection), maxMetaText)
	}
	m.Connection = connection
	return m, nil
}
