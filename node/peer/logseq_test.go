package peer

import (
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// seqOf returns the log number the recorder gave the first record with
// the direction and command, and the record.
func (l *recorder) seqOf(t *testing.T, inbound bool, command string) (uint64, Record) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range l.records {
		if r.Inbound == inbound && r.Command == command {
			return uint64(i + 1), r
		}
	}
	t.Fatalf("no %s record (inbound %v)", command, inbound)
	return 0, Record{}
}

// TestConnLogNumbersReachTheCore: the writer stamps a request with the
// number the log gave it and marks its record as a request; the reader
// hands each message over with its own number. The core links a response
// to its request by these.
func TestConnLogNumbersReachTheCore(t *testing.T) {
	h := startPipe(t)
	h.out.Push(outbound(t, wire.NewMsgPing(77), true, 7))
	h.out.Push(outbound(t, wire.NewMsgPong(5), true, 0))
	h.readFrame(t)
	h.readFrame(t)
	h.send(frameOf(t, wire.NewMsgPong(77)))
	got := h.pop(t, 1)

	pingSeq, pingRec := h.log.seqOf(t, false, wire.CmdPing)
	if len(got[0].Stamps) != 1 || got[0].Stamps[0].ID != 7 || got[0].Stamps[0].LogSeq != pingSeq {
		t.Errorf("reply stamps %+v, want request 7 logged as %d", got[0].Stamps, pingSeq)
	}
	if !pingRec.Request {
		t.Error("the ping's record is not marked as a request")
	}
	if _, pong := h.log.seqOf(t, false, wire.CmdPong); pong.Request {
		t.Error("a pong we sent is marked as a request")
	}
	if seq, _ := h.log.seqOf(t, true, wire.CmdPong); got[0].LogSeq != seq || seq == 0 {
		t.Errorf("the received pong comes with log number %d, logged as %d", got[0].LogSeq, seq)
	}
}
