package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/watchnode/watchnode/internal/pcaptest"
	"github.com/watchnode/watchnode/node/inspect"
)

// v2Inputs is a synthetic BIP324 capture and its key log, as the page
// gets them when both are dropped.
func v2Inputs(t *testing.T) (capture, keyLog inspect.Input) {
	t.Helper()
	conn, data, err := pcaptest.V2SampleCapture(pcaptest.PCAPNG)
	if err != nil {
		t.Fatal(err)
	}
	return inspect.Input{Name: "v2.pcapng", Data: data}, inspect.Input{Name: "keys.log", Data: []byte(conn.KeyLog.String() + "\n")}
}

// v2WantMessages is what the sample connection decrypts to, in capture
// order.
var v2WantMessages = []string{"version", "version", "verack", "verack", "ping", "pong", "headers", "headers"}

func messageCommands(l listJSON) []string {
	var out []string
	for _, e := range l.Entries {
		if e.Command != "" {
			out = append(out, e.Command)
		}
	}
	return out
}

// The session decrypts a capture given with its key log, as an input or
// as options.keylog, and lists it as encrypted without.
func TestSessionDecryptsBIP324(t *testing.T) {
	capture, keyLog := v2Inputs(t)
	s := &session{}
	plain := parseList(t, s.open([]inspect.Input{capture}, inspect.Options{}))
	if plain.Messages != 0 || plain.Errors != 0 || len(plain.Entries) != 2 || !strings.Contains(plain.Entries[0].Summary, "BIP324 encrypted stream") {
		t.Errorf("without the key log: %+v", plain)
	}
	both := s.open([]inspect.Input{capture, keyLog}, inspect.Options{})
	if l := parseList(t, both); l.Errors != 0 || !slices.Equal(messageCommands(l), v2WantMessages) {
		t.Errorf("with the key log as an input: %d errors, %v", l.Errors, messageCommands(l))
	}
	opt, err := parseOptions("pcap", "", "# keys\n"+string(keyLog.Data))
	if err != nil {
		t.Fatal(err)
	}
	if l := parseList(t, s.open([]inspect.Input{capture}, opt)); l.Errors != 0 || !slices.Equal(messageCommands(l), v2WantMessages) {
		t.Errorf("with options.keylog: %d errors, %v", l.Errors, messageCommands(l))
	}
	if _, err := parseOptions("", "", "BIP324 00\n"); err == nil || !strings.Contains(err.Error(), "key log line 1") {
		t.Errorf("a bad options.keylog: %v", err)
	}
	if _, err := parseOptions("", "", strings.Repeat("#", maxKeyLogText+1)); err == nil {
		t.Error("an oversized options.keylog was taken")
	}
}
