package inspect

import (
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

func TestCoreCaptureRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 24, 12, 0, 0, 123456000, time.UTC)
	ping, _ := protocol.Encode(wire.NewMsgPing(42))
	var file []byte
	file = AppendCoreRecord(file, at, "ping", ping)
	file = AppendCoreRecord(file, at.Add(time.Second), "verack", nil)
	file = AppendCoreRecord(file, at.Add(2*time.Second), "sendtxrcncl", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	recs, err := ReadCoreCapture(file)
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if recs[0].Command != "ping" || !recs[0].Time.Equal(at) || string(recs[0].Payload) != string(ping) || recs[0].Offset != 0 {
		t.Errorf("first record %+v", recs[0])
	}
	if recs[1].Command != "verack" || len(recs[1].Payload) != 0 || recs[1].Offset != 24+8 {
		t.Errorf("second record %+v", recs[1])
	}
	if m := Decode(recs[0].Command, recs[0].Payload); m.Error != nil {
		t.Errorf("the captured ping does not decode: %v", m.Error)
	}
}

func TestCoreCaptureErrors(t *testing.T) {
	good := AppendCoreRecord(nil, time.Unix(1, 0), "ping", make([]byte, 8))
	huge := AppendCoreRecord(nil, time.Unix(1, 0), "block", nil)
	huge[20], huge[21], huge[22], huge[23] = 0xff, 0xff, 0xff, 0xff
	badCmd := AppendCoreRecord(nil, time.Unix(1, 0), "pi\x00g", nil)
	cases := []struct {
		name   string
		data   []byte
		good   int
		offset int
	}{
		{"truncated header", append(append([]byte(nil), good...), good[:10]...), 1, len(good)},
		{"truncated payload", good[:len(good)-3], 0, 24},
		{"4 GB length", append(append([]byte(nil), good...), huge...), 1, len(good) + 20},
		{"bad command", badCmd, 0, 8},
	}
	for _, tc := range cases {
		recs, err := ReadCoreCapture(tc.data)
		var ce *CaptureError
		if !errors.As(err, &ce) || len(recs) != tc.good || ce.Offset != tc.offset {
			t.Errorf("%s: %d records, error %v, want %d records and an error at %d", tc.name, len(recs), err, tc.good, tc.offset)
		}
	}
}

// FuzzReadCoreCapture: any bytes give records that lie inside the input,
// and never a panic.
func FuzzReadCoreCapture(f *testing.F) {
	f.Add(AppendCoreRecord(nil, time.Unix(1, 0), "ping", make([]byte, 8)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _ := ReadCoreCapture(data)
		for _, r := range recs {
			if r.Offset < 0 || r.Offset+coreRecordHeader+len(r.Payload) > len(data) {
				t.Fatalf("record at %d with %d payload bytes outside %d bytes", r.Offset, len(r.Payload), len(data))
			}
		}
	})
}
