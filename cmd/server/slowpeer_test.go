package main

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestSlowPeerDoesNotBlockOthers: a peer that sends its version one byte at
// a time neither stalls the node nor its other peers; once the message is
// complete, the node answers it like any other.
func TestSlowPeerDoesNotBlockOthers(t *testing.T) {
	btcd := btcdtest.Start(t, btcdtest.Options{})
	n := startNode(t, "-connect="+btcd.P2PAddr())
	n.waitFor(10*time.Second, "btcd to connect", func() bool { _, ok := n.established("btcd"); return ok })

	frame := versionFrame(t, "/slow:1.0/", 4242)
	slow := dialRaw(t, n.p2p)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for _, b := range frame {
			if _, err := slow.nc.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(15 * time.Millisecond)
		}
	}()
	// While the version trickles in, the API answers and btcd stays
	// connected and keeps counting traffic.
	before, _ := n.established("btcd")
	for i := 0; i < 10; i++ {
		if _, ok := n.established("btcd"); !ok {
			t.Fatalf("btcd lost while a slow peer was connected")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := n.peers(); len(got) != 2 {
		t.Errorf("want btcd and the slow peer listed, got %d peers", len(got))
	}
	<-sent
	slow.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := protocol.ReadFrame(slow.nc, protocol.Regtest.Magic())
	if err != nil || f.Command != wire.CmdVersion {
		t.Fatalf("after the slow version the node should answer with its own: %v %q", err, f.Command)
	}
	after, _ := n.established("btcd")
	if after.ID != before.ID {
		t.Errorf("btcd was reconnected (peer %d then %d)", before.ID, after.ID)
	}
}
