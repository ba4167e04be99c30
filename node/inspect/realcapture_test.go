package inspect

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// TestRealLoopbackCapture decodes a capture taken by tcpdump on the loopback
// interface while the node synced from btcd and followed two new blocks
// (scripts/record-pcap-fixture.sh, which also saved the node's message log
// of that connection): every message the node logged is in the capture, in
// the same order each way, with the same summary, a valid checksum and no
// error, and the capture's times never go back.
func TestRealLoopbackCapture(t *testing.T) {
	pcap, err := os.ReadFile("testdata/node-btcd.pcap")
	if err != nil {
		t.Fatal(err)
	}
	logJSON, err := os.ReadFile("testdata/node-btcd.log.json")
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Messages []struct {
			Dir, Command, Summary string
		}
	}
	if err := json.Unmarshal(logJSON, &log); err != nil {
		t.Fatal(err)
	}
	res := open(t, Options{}, Input{Name: "node-btcd.pcap", Data: pcap})
	if res.Format != "pcap" || res.Errors != 0 || res.Messages != len(log.Messages) {
		t.Fatalf("format %q, %d messages, %d errors; the node logged %d", res.Format, res.Messages, res.Errors, len(log.Messages))
	}
	// Each direction in order: what the node sent went to btcd (the server).
	type line struct{ command, summary string }
	var loggedOut, loggedIn, decodedOut, decodedIn []line
	for _, m := range log.Messages {
		if m.Dir == "out" {
			loggedOut = append(loggedOut, line{m.Command, m.Summary})
		} else {
			loggedIn = append(loggedIn, line{m.Command, m.Summary})
		}
	}
	var last time.Time
	for _, e := range res.Entries {
		if e.ChecksumValid == nil || !*e.ChecksumValid || e.Error != "" || e.Network != "regtest" {
			t.Errorf("entry %d: %+v", e.Index, e)
		}
		at, err := time.Parse(time.RFC3339Nano, e.Time)
		if err != nil || at.Before(last) {
			t.Errorf("entry %d at %q (%v), after %s", e.Index, e.Time, err, last)
		}
		last = at
		if e.Direction == DirectionToServer {
			decodedOut = append(decodedOut, line{e.Command, e.Summary})
		} else {
			decodedIn = append(decodedIn, line{e.Command, e.Summary})
		}
	}
	for _, side := range []struct {
		name            string
		logged, decoded []line
	}{{"node to btcd", loggedOut, decodedOut}, {"btcd to node", loggedIn, decodedIn}} {
		if len(side.logged) != len(side.decoded) {
			t.Errorf("%s: logged %v, decoded %v", side.name, side.logged, side.decoded)
			continue
		}
		for i := range side.logged {
			if side.logged[i] != side.decoded[i] {
				t.Errorf("%s, message %d: logged %v, decoded %v", side.name, i, side.logged[i], side.decoded[i])
			}
		}
	}
}
