package engine

import (
	"math"
	"testing"
	"unsafe"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
)

// TestPingLinkedInTheLogs: over a real socket, the engine's ping and the
// raw peer's pong are in the message log, and the link log joins them by
// their numbers there.
func TestPingLinkedInTheLogs(t *testing.T) {
	r, addr := listening(t, Config{})
	p := dialRaw(t, addr)
	p.handshake(42)
	ping := p.readUntil(wire.CmdPing).(*wire.MsgPing)
	p.send(wire.NewMsgPong(ping.Nonce))

	var link RequestLink
	waitFor(t, "the ping's link", func() bool {
		_, links, _ := r.e.Links().Since(0, math.MaxInt)
		for _, l := range links {
			if l.Outcome == p2p.Answered {
				link = l
				return true
			}
		}
		return false
	})
	first, recs, _ := r.e.Messages().Since(0, math.MaxInt)
	rec := func(seq uint64) MessageRecord {
		if seq < first || seq >= first+uint64(len(recs)) {
			t.Fatalf("link %+v names message %d, not in the log (%d from %d)", link, seq, len(recs), first)
		}
		return recs[seq-first]
	}
	req, resp := rec(link.Request), rec(link.Response)
	if req.Command != wire.CmdPing || req.Inbound || !req.Request || resp.Command != wire.CmdPong || !resp.Inbound || req.Peer != link.Peer || resp.Peer != link.Peer {
		t.Errorf("link %+v joins %+v to %+v, want our ping to the peer's pong", link, req, resp)
	}
	if !link.Done || link.RoundTrip != resp.Time.Sub(req.Time) {
		t.Errorf("link %+v: want done, with the round trip between the records' times (%v)", link, resp.Time.Sub(req.Time))
	}
}

// TestLinkLogBound holds the link log to the memory limits.go states.
func TestLinkLogBound(t *testing.T) {
	if size := int(unsafe.Sizeof(RequestLink{})) * linkLogSize; size > 192<<10 {
		t.Errorf("the link log takes %d bytes, over the 192 KiB stated in p2p/limits.go", size)
	}
}
