package engine

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// TestMessageFrameBothWays checks a logged message, received or sent, can be
// fetched framed as on the wire, byte for byte.
func TestMessageFrameBothWays(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(true)
	h.drainSent(p)
	before := h.e.Messages().Last()
	h.deliver(p, wire.NewMsgPing(77)) // answered with a pong
	first, recs, _ := h.e.Messages().Since(before, 10)
	// The pong is sent while the ping is handled, and the ping logged after.
	if len(recs) != 2 || recs[0].Command != "pong" || recs[1].Command != "ping" {
		t.Fatalf("log after a ping: %+v", recs)
	}
	for i, msg := range []wire.Message{wire.NewMsgPong(77), wire.NewMsgPing(77)} {
		want, err := protocol.EncodeFrame(protocol.Regtest.Magic(), msg)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := h.e.MessageFrame(first + uint64(i))
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("frame of %s: %x (kept %v), want %x", msg.Command(), got, ok, want)
		}
	}
	if _, ok := h.e.MessageFrame(first + 2); ok {
		t.Error("a frame for a message never logged")
	}
}

// TestPayloadStoreBudget checks the oldest payloads go first and one too
// large for the budget is not kept.
func TestPayloadStoreBudget(t *testing.T) {
	s := newPayloadStore(3000)
	for seq := uint64(1); seq <= 5000; seq++ {
		s.put(seq, make([]byte, 1000))
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
	if s.bytes != 3000 || len(s.order)-s.head != 3 || len(s.order) > 2100 {
		t.Errorf("bytes %d, live %d, queue %d", s.bytes, len(s.order)-s.head, len(s.order))
	}
	s.put(5001, make([]byte, 1501))
	if _, ok := s.get(5001); ok {
		t.Error("a payload over half the budget was kept")
	}
}

// TestSetCapture checks switching capture needs a folder and is reported.
func TestSetCapture(t *testing.T) {
	h := newTestEngine(t)
	if err := h.e.SetCapture(context.Background(), true); !errors.Is(err, ErrNoCaptureDir) {
		t.Errorf("capture on without a folder: %v", err)
	}
	if h.e.Capturing() {
		t.Error("capturing without a folder")
	}
}
