package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestMessageFrameBothWays checks a logged message, received or sent, can be
// fetched framed as on the wire, byte for byte, and that the log holds the
// reader's and the writer's summaries.
func TestMessageFrameBothWays(t *testing.T) {
	r, addr := listening(t, Config{})
	p := dialRaw(t, addr)
	p.handshake(7)
	waitFor(t, "the handshake", func() bool { _, ok := establishedPeer(r.e.Snapshot(), Inbound); return ok })
	before := r.e.Messages().Last()
	p.send(wire.NewMsgPing(77))
	p.readUntil(wire.CmdPong)
	var first uint64
	var recs []MessageRecord
	waitFor(t, "the ping and pong in the log", func() bool {
		var all []MessageRecord
		first, all, _ = r.e.Messages().Since(before, 100)
		recs = nil
		for _, rec := range all {
			if rec.Command == wire.CmdPing || rec.Command == wire.CmdPong {
				recs = append(recs, rec)
			}
		}
		return len(recs) >= 2
	})
	// The ping is logged as it arrives, the pong as its write starts.
	if recs[0].Command != "ping" || !recs[0].Inbound || recs[1].Command != "pong" || recs[1].Inbound {
		t.Fatalf("log after a ping: %+v", recs)
	}
	if recs[0].Summary == "" || recs[1].Summary == "" {
		t.Errorf("records without summaries: %+v", recs)
	}
	_, all, _ := r.e.Messages().Since(before, 100)
	for i, rec := range all {
		if rec.Command != wire.CmdPing && rec.Command != wire.CmdPong {
			continue
		}
		var msg wire.Message = wire.NewMsgPing(77)
		if rec.Command == wire.CmdPong {
			msg = wire.NewMsgPong(77)
		}
		want := frame(t, msg)
		got, ok := r.e.MessageFrame(first + uint64(i))
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("frame of %s: %x (kept %v), want %x", msg.Command(), got, ok, want)
		}
	}
	if _, ok := r.e.MessageFrame(r.e.Messages().Last() + 1); ok {
		t.Error("a frame for a message never logged")
	}
}

// TestPayloadStoreBudget checks the oldest payloads go first, each counted
// with its overhead, and one too large for the budget is not kept.
func TestPayloadStoreBudget(t *testing.T) {
	s := newPayloadStore(3 * (1000 + payloadOverhead))
	for seq := uint64(1); seq <= 5000; seq++ {
		s.put(seq, "filler", make([]byte, 1000))
	}
	for seq := uint64(1); seq <= 4997; seq++ {
		if _, ok := s.get(seq); ok {
			t.Fatalf("payload %d kept beyond the budget", seq)
		}
	}
	for seq := uint64(4998); seq <= 5000; seq++ {
		if _, ok := s.get(seq); !ok {
			t.Errorf("payload %d not kept", seq)
		}
	}
	if s.bytes != 3*(1000+payloadOverhead) || len(s.order)-s.head != 3 || len(s.order) > 2100 {
		t.Errorf("bytes %d, live %d, queue %d", s.bytes, len(s.order)-s.head, len(s.order))
	}
	s.put(5001, "filler", make([]byte, s.budget/2))
	if _, ok := s.get(5001); ok {
		t.Error("a payload over half the budget was kept")
	}
}

// Defect: empty payloads were kept at zero cost and never evicted, so
// 500,000 empty messages grew the heap by ~46 MB for good. Each entry now
// counts its overhead: the window holds at most budget/overhead of them.
func TestPayloadStoreCountsEmptyPayloads(t *testing.T) {
	s := newPayloadStore(payloadBudget)
	for seq := uint64(1); seq <= 500_000; seq++ {
		s.put(seq, wire.CmdSendHeaders, []byte{})
	}
	if live, most := len(s.bySeq), payloadBudget/payloadOverhead; live > most || s.bytes > payloadBudget {
		t.Fatalf("%d empty payloads kept (%d bytes), bound %d entries", live, s.bytes, most)
	}
	if len(s.order) > 2*len(s.bySeq)+1024 {
		t.Errorf("eviction queue of %d for %d entries", len(s.order), len(s.bySeq))
	}
}

// Defect: once the 4,096-line log had wrapped (but the payload budget had
// not), a kept payload was framed under the command of whatever record the
// ring held at that place. Each kept payload carries its own command now.
func TestMessageFrameAfterTheLogWrapped(t *testing.T) {
	e, err := New(Config{Network: protocol.Regtest})
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder{e}
	cmds := []string{wire.CmdPing, wire.CmdPong, wire.CmdFeeFilter}
	payload := func(i int) []byte { return []byte(fmt.Sprintf("%08d", i)) }
	var seqs []uint64
	for i := range 3 * messageLogSize {
		seqs = append(seqs, rec.Record(peer.Record{Time: time.Now(), Command: cmds[i%3], Size: 32}, payload(i)))
	}
	// The first entries are out of the ring but still in the payload
	// window: each comes back under its own command.
	for i := 0; i < 50; i++ {
		f, ok := e.MessageFrame(seqs[i])
		if !ok {
			t.Fatalf("payload %d dropped", i)
		}
		want, _ := protocol.AppendFrame(nil, protocol.Regtest.Magic(), cmds[i%3], payload(i))
		if !bytes.Equal(f, want) {
			t.Fatalf("message %d framed as %q, want %q", seqs[i], f[4:16], want[4:16])
		}
	}
}

// Defect: the message log kept decoded messages up to 64 KiB each, so
// 4,096 inv messages of 65 KB grew the heap by about 430 MB. It keeps the
// summaries the readers made; the bytes are in the 4 MiB payload window.
func TestMessageLogKeepsNoDecodedMessages(t *testing.T) {
	r, addr := listening(t, Config{})
	p := dialRaw(t, addr)
	p.handshake(9)
	p.discard()
	inv := wire.NewMsgInv()
	for i := range 1800 { // 64.8 KB on the wire
		h := chainhash.Hash{byte(i), byte(i >> 8), 1}
		inv.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &h))
	}
	f := frame(t, inv)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := heap()
	const n = 2 * messageLogSize
	for i := 0; i < n; i += 64 {
		var batch []byte
		for range 64 {
			batch = append(batch, f...)
		}
		if err := p.write(batch); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every inv handled", func() bool {
		pi, ok := establishedPeer(r.e.Snapshot(), Inbound)
		return ok && pi.MsgsRecv[wire.CmdInv].Messages == n && pi.InQueueBytes == 0
	})
	grown := int64(heap()) - int64(base)
	// The payload window and the ring's lines; the decoded messages
	// (n x ~90 KB) must be gone.
	const bound = payloadBudget + messageLogSize*512 + 8<<20
	t.Logf("heap grew by %d KiB after %d inv messages of %d bytes", grown>>10, n, len(f))
	if grown > bound {
		t.Fatalf("heap grew by %d bytes, bound %d", grown, bound)
	}
}

// TestSetCapture checks switching capture needs a folder.
func TestSetCapture(t *testing.T) {
	r := startEngine(t, Config{Network: protocol.Regtest})
	if err := r.e.SetCapture(context.Background(), true); !errors.Is(err, ErrNoCaptureDir) {
		t.Errorf("capture on without a folder: %v", err)
	}
	if r.e.Capturing() {
		t.Error("capturing without a folder")
	}
}
