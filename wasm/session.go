package main

import (
	"encoding/json"
	"fmt"

	"github.com/watchnode/watchnode/node/inspect"
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

// payload returns entry i's payload, the bytes its field offsets point into.
func (s *session) payload(i int) []byte {
	if s.res == nil {
		return nil
	}
	return s.res.Payload(i)
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
