package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BIP324's packet_encoding_test_vectors.csv, its second row (index 1):
// the keys derived from a shared secret on mainnet, and the packet an
// initiator sends second.
func TestV2SessionMatchesBIP324Vector(t *testing.T) {
	var secret [32]byte
	copy(secret[:], unhex(t, "c6992a117f5edbea70c3f511d32d26b9798be4b81a62eaee1a5acaa8459a3592"))
	s, err := DeriveV2Session(secret, wire.MainNet)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"session id", s.ID[:], "ce72dffb015da62b0d0f5474cab8bc72605225b0cee3f62312ec680ec5f41ba5"},
		{"initiator_L", s.InitiatorL[:], "9a6478b5fbab1f4dd2f78994b774c03211c78312786e602da75a0d1767fb55cf"},
		{"initiator_P", s.InitiatorP[:], "7d0c7820ba6a4d29ce40baf2caa6035e04f1e1cefd59f3e7e59e9e5af84f1f51"},
		{"responder_L", s.ResponderL[:], "17bc726421e4054ac6a1d54915085aaa766f4d3cf67bbd168e6080eac289d15e"},
		{"responder_P", s.ResponderP[:], "9f0fc1c0e85fd9a8eee07e6fc41dba2ff54c7729068a239ac97c37c524cca1c0"},
		{"initiator terminator", s.InitiatorTerminator[:], "faef555dfcdb936425d84aba524758f3"},
		{"responder terminator", s.ResponderTerminator[:], "02cb8ff24307a6e27de3b4e7ea3fa65b"},
	} {
		if hex.EncodeToString(c.got) != c.want {
			t.Errorf("%s = %x, want %s", c.name, c.got, c.want)
		}
	}
	send, err := s.Sender(true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send.AppendPacket(nil, nil, false, []byte("first")); err != nil {
		t.Fatal(err)
	}
	pkt, err := send.AppendPacket(nil, nil, false, []byte{0x8e})
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(pkt); got != "7530d2a18720162ac09c25329a60d75adf36eda3c3" {
		t.Errorf("packet 1 = %s, want the vector's", got)
	}
}

// A packet round trip across rekeys (every 224 packets), with decoys and
// the first packet's associated data; a flipped bit fails authentication
// and a length over the bound is refused before the body is read.
func TestV2PacketsRoundTrip(t *testing.T) {
	var secret [32]byte
	secret[0] = 7
	s, err := DeriveV2Session(secret, wire.TestNet)
	if err != nil {
		t.Fatal(err)
	}
	send, _ := s.Sender(false)
	recv, _ := s.Receiver(true) // the initiator receives what the responder sends
	aad := []byte("garbage")
	for i := range 500 {
		msg := bytes.Repeat([]byte{byte(i)}, i%300)
		var a []byte
		if i == 0 {
			a = aad
		}
		pkt, err := send.AppendPacket(nil, a, i%7 == 3, V2MessageType("ping"), msg)
		if err != nil {
			t.Fatal(err)
		}
		n, err := recv.Length([3]byte(pkt[:3]))
		if err != nil {
			t.Fatal(err)
		}
		if len(pkt) != V2LengthSize+V2BodySize(n) {
			t.Fatalf("packet %d: length %d, size %d", i, n, len(pkt))
		}
		decoy, contents, err := recv.Open(a, pkt[3:])
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		cmd, payload, err := ParseV2Contents(contents)
		if err != nil || cmd != "ping" || !bytes.Equal(payload, msg) || decoy != (i%7 == 3) {
			t.Fatalf("packet %d: %q %x decoy %v err %v", i, cmd, payload, decoy, err)
		}
	}
	pkt, _ := send.AppendPacket(nil, nil, false, []byte{18})
	pkt[len(pkt)-1] ^= 1
	if _, err := recv.Length([3]byte(pkt[:3])); err != nil {
		t.Fatal(err)
	}
	if _, _, err := recv.Open(nil, pkt[3:]); !errors.Is(err, ErrV2Packet) {
		t.Errorf("tampered packet: %v, want ErrV2Packet", err)
	}

	send2, _ := s.Sender(true)
	recv2, _ := s.Receiver(false)
	big, _ := send2.AppendPacket(nil, nil, false, make([]byte, V2MaxContents+1))
	if _, err := recv2.Length([3]byte(big[:3])); !errors.Is(err, ErrV2Packet) {
		t.Errorf("oversized packet: %v, want ErrV2Packet", err)
	}
}

func TestV2MessageTypes(t *testing.T) {
	for _, c := range []struct {
		contents []byte
		cmd      string
		err      error
	}{
		{[]byte{13, 0}, "headers", nil},
		{[]byte{28}, "addrv2", nil},
		{append([]byte{0}, "wtxidrelay\x00\x00"...), "wtxidrelay", nil},
		{[]byte{29}, "", ErrV2UnknownType},
		{[]byte{0, 'a'}, "", ErrV2UnknownType},
		{append([]byte{0}, "ver\x00sion\x00\x00\x00"...), "", ErrV2UnknownType},
		{nil, "", ErrV2UnknownType},
	} {
		cmd, _, err := ParseV2Contents(c.contents)
		if cmd != c.cmd || !errors.Is(err, c.err) {
			t.Errorf("%x: %q %v, want %q %v", c.contents, cmd, err, c.cmd, c.err)
		}
	}
	if got := V2MessageType("version"); len(got) != 13 || got[0] != 0 || string(got[1:8]) != "version" {
		t.Errorf("version type bytes %x", got)
	}
}

func TestV2KeyLogLines(t *testing.T) {
	var e V2KeyLogEntry
	e.InitiatorKey[5] = 1
	e.Secret[0] = 9
	e.Magic = wire.MainNet
	s, _ := e.Session()
	e.SessionID = s.ID
	log := "# BIP324 key log\n\n" + e.String() + "\n"
	got, err := ReadV2KeyLog(strings.NewReader(log))
	if err != nil || len(got) != 1 || got[0] != e {
		t.Fatalf("read back %v %v", got, err)
	}
	if !strings.Contains(e.String(), " d9b4bef9 ") {
		t.Errorf("line %q lacks mainnet's magic", e.String())
	}
	bad := strings.Replace(e.String(), "d9b4bef9", "0709110b", 1)
	if _, err := ReadV2KeyLog(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a session id that does not follow: %v", err)
	}
	if _, err := ParseV2KeyLogLine("BIP324 00 11"); err == nil {
		t.Error("a short line parsed")
	}
}
