package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/inspect"
)

// TestCaptureMessages: with -capture the node records every message of its
// btcd peer in Bitcoin Core's capture format; the files decode, record by
// record, to what the node counted for that peer.
func TestCaptureMessages(t *testing.T) {
	// The capture holds the plaintext messages whatever the transport, as
	// Core's -capturemessages does.
	t.Run("v1", func(t *testing.T) { testCaptureMessages(t, "v1") })
	t.Run("v2", func(t *testing.T) { testCaptureMessages(t, "v2", "--v2transport") })
}

func testCaptureMessages(t *testing.T, transport string, args ...string) {
	btcd := btcdtest.Start(t, btcdtest.Options{Args: args})
	btcd.Generate(t, 5)
	root := t.TempDir()
	n := startNodeIn(t, root, "-capture", "-connect="+btcd.P2PAddr())
	var p engine.PeerInfo
	n.waitFor(10*time.Second, "sync and a measured ping", func() bool {
		var ok bool
		p, ok = n.established("btcd")
		var st engine.Status
		n.get("/api/status", &st)
		return ok && p.PingMs > 0 && st.Height == 5
	})
	if p.Transport != transport {
		t.Fatalf("btcd peer over %q, want %s", p.Transport, transport)
	}
	n.stop() // flushes the capture files
	dir := filepath.Join(root, "regtest", "message_capture", strings.ReplaceAll(btcd.P2PAddr(), ":", "_"))
	for _, side := range []struct {
		file    string
		counted map[string]uint64
		first   string
	}{
		{"msgs_recv.dat", counts(p.MsgsRecv), "version"},
		{"msgs_sent.dat", counts(p.MsgsSent), "version"},
	} {
		data, err := os.ReadFile(filepath.Join(dir, side.file))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := inspect.ReadCoreCapture(data)
		if err != nil || len(recs) == 0 {
			t.Fatalf("%s: %d records, %v", side.file, len(recs), err)
		}
		if recs[0].Command != side.first {
			t.Errorf("%s starts with %q", side.file, recs[0].Command)
		}
		inFile := map[string]uint64{}
		for _, r := range recs {
			inFile[r.Command]++
			if m := inspect.Decode(r.Command, r.Payload); m.Error != nil {
				t.Errorf("%s: %s record does not decode: %v", side.file, r.Command, m.Error)
			}
		}
		// The node may have exchanged a message more between our last
		// look at its counters and the stop; never fewer.
		for cmd, c := range side.counted {
			if inFile[cmd] < c {
				t.Errorf("%s: %d %s records, the node counted %d", side.file, inFile[cmd], cmd, c)
			}
		}
		t.Logf("%s: %d records %v", side.file, len(recs), inFile)
	}
}

func counts(m map[string]engine.CommandTraffic) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		out[k] = v.Messages
	}
	return out
}
