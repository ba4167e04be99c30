package p2p_test

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/p2p"
)

// The request links: the simulator numbers every message the node reads
// and writes as the engine's message log does (sim.Node.LogSeq), and keeps
// the links the core emits (sim.Node.Links).

// linksOf returns the links emitted for peer r since the first `from`.
func linksOf(h *harness, r *sim.Remote, from int) []p2p.Link {
	var out []p2p.Link
	for _, l := range h.N.Links[from:] {
		if l.Peer == r.ID {
			out = append(out, l)
		}
	}
	return out
}

// logSeqOf returns the log number of the frame with command among frames.
func logSeqOf(t *testing.T, frames []sim.Received, command string) uint64 {
	t.Helper()
	for _, f := range frames {
		if f.Frame.Command == command {
			if f.LogSeq == 0 {
				t.Fatalf("%s written without a log number", command)
			}
			return f.LogSeq
		}
	}
	t.Fatalf("no %s among the frames sent", command)
	return 0
}

// expectLinks checks the links emitted since from are exactly want.
func expectLinks(t *testing.T, h *harness, r *sim.Remote, from int, want ...p2p.Link) {
	t.Helper()
	got := linksOf(h, r, from)
	if len(got) != len(want) {
		t.Fatalf("links %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("link %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestPingLinkedToItsPong(t *testing.T) {
	h := newHarness(t)
	r, frames := h.establishedKeepFrames(true)
	nonce, _ := pingOf(t, frames)
	ping := logSeqOf(t, frames, wire.CmdPing)
	from := len(h.N.Links)

	h.Advance(42 * time.Millisecond)
	pong := h.N.LogSeq + 1 // nothing is written meanwhile: the remote reads nothing
	r.Send(wire.NewMsgPong(nonce))
	expectLinks(t, h, r, from, p2p.Link{Peer: r.ID, Request: ping, Response: pong, Outcome: p2p.Answered, Done: true, RoundTrip: 42 * time.Millisecond})
}

func TestExpiredRequestMarked(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.WriteTimeout = time.Hour })
	r := h.Established(false)
	var rec doneRecorder
	h.request(r, wire.NewMsgGetHeaders(), 30*time.Second, rec.done)
	req := logSeqOf(t, r.Read(), wire.CmdGetHeaders)
	from := len(h.N.Links)

	h.Advance(30*time.Second - time.Millisecond)
	h.Tick()
	expectLinks(t, h, r, from) // still pending: no link yet
	h.Advance(time.Millisecond)
	h.Tick()
	rec.expect(t, p2p.Expired)
	expectLinks(t, h, r, from, p2p.Link{Peer: r.ID, Request: req, Outcome: p2p.Expired, Done: true, RoundTrip: 30 * time.Second})

	// A late answer is an announcement, linked to nothing.
	r.Send(wire.NewMsgHeaders())
	expectLinks(t, h, r, from, p2p.Link{Peer: r.ID, Request: req, Outcome: p2p.Expired, Done: true, RoundTrip: 30 * time.Second})
}

func TestResponseMatchingNothingHasNoLink(t *testing.T) {
	h := newHarness(t)
	r, frames := h.establishedKeepFrames(true)
	nonce, _ := pingOf(t, frames)
	from := len(h.N.Links)

	r.Send(wire.NewMsgPong(nonce + 1)) // the wrong nonce: unsolicited
	hdrs := wire.NewMsgHeaders()
	hdrs.AddBlockHeader(&testBlock(1).Header)
	r.Send(hdrs)              // an announcement: no getheaders outstanding
	r.Send(testBlock(2))      // an unrequested block
	r.Send(wire.NewMsgAddr()) // gossip: no getaddr outstanding (inbound peer)
	expectLinks(t, h, r, from)
	if h.tracked(r, wire.CmdPing) == nil {
		t.Fatal("the ping was answered by a wrong nonce")
	}
}

func TestGetDataLinkedToEachAnswer(t *testing.T) {
	h := newHarness(t)
	r := h.Established(false)
	blk := testBlock(7)
	bh := blk.BlockHash()
	other := chainhash.Hash{1, 2, 3}
	gd := wire.NewMsgGetData()
	gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &bh))
	gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &other))
	var rec doneRecorder
	h.request(r, gd, time.Minute, rec.done)
	req := logSeqOf(t, r.Read(), wire.CmdGetData)
	from := len(h.N.Links)

	h.Advance(10 * time.Millisecond)
	block := h.N.LogSeq + 1
	r.Send(blk)
	h.Advance(5 * time.Millisecond)
	notFound := h.N.LogSeq + 1
	nf := wire.NewMsgNotFound()
	nf.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &other))
	r.Send(nf)
	rec.expect(t, p2p.Answered)
	expectLinks(t, h, r, from,
		p2p.Link{Peer: r.ID, Request: req, Response: block, Outcome: p2p.Answered, RoundTrip: 10 * time.Millisecond},
		p2p.Link{Peer: r.ID, Request: req, Response: notFound, Outcome: p2p.Answered, Done: true, RoundTrip: 15 * time.Millisecond})
}

func TestRequestsReleasedOnDropAreLinked(t *testing.T) {
	h := newHarness(t)
	r := h.Established(false) // outbound: the handshake left requests outstanding too
	h.request(r, wire.NewMsgGetHeaders(), time.Minute, nil)
	req := logSeqOf(t, r.Read(), wire.CmdGetHeaders)
	// A request never written was never logged: nothing to mark.
	h.request(r, wire.NewMsgGetData(), time.Minute, nil)
	tracked := len(h.debug(r).Requests)
	from := len(h.N.Links)
	h.N.Do(func(c *p2p.Core) { c.Drop(r.ID, p2p.Because(p2p.DropOperator, "test")) })

	links := linksOf(h, r, from)
	if len(links) != tracked-1 {
		t.Fatalf("%d links for %d requests, one of them unwritten: %+v", len(links), tracked, links)
	}
	seen := map[uint64]bool{}
	for _, l := range links {
		if l.Request == 0 || seen[l.Request] || l.Response != 0 || l.Outcome != p2p.Released || !l.Done || l.RoundTrip != 0 {
			t.Errorf("link %+v, want a released mark of its own request", l)
		}
		seen[l.Request] = true
	}
	if !seen[req] {
		t.Errorf("no released mark for the getheaders (log %d): %+v", req, links)
	}
}

// A shell that keeps no message log stamps requests without a log number:
// the core then links nothing, for there are no rows to join.
func TestUnloggedRequestHasNoLink(t *testing.T) {
	h := newHarness(t)
	r := h.Connect(true)
	r.Send(h.PeerVersion(70016))
	r.Drain()
	r.Send(wire.NewMsgVerAck())
	nonce, req := pingOf(t, r.Peek()) // queued, not yet written by the sim
	from := len(h.N.Links)
	m, err := p2p.DecodeMessage(wire.CmdPong, pongPayload(t, nonce), h.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.Stamps = []p2p.RequestStamp{{ID: req, At: h.Now()}}
	h.N.Do(func(c *p2p.Core) { c.Message(h.Now(), r.ID, m) })
	if h.tracked(r, wire.CmdPing) != nil {
		t.Fatal("the pong did not answer the ping")
	}
	expectLinks(t, h, r, from)
}
