package pcaptest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/btcsuite/btcd/btcec/v2/ellswift"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// V2Packet is one packet a side of a synthetic BIP324 connection sends.
type V2Packet struct {
	// Decoy sets the packet's ignore bit; its contents are Payload (a
	// decoy carries no message type).
	Decoy bool
	// Version makes it the version packet: empty contents (Payload, if
	// any, becomes the contents, as a future transport version might send).
	Version bool
	// Command and Payload are the message of an ordinary packet.
	Command string
	Payload []byte
	// Long writes the 13-byte message type even when Command has a short
	// id, as BIP324 allows.
	Long bool
}

// V2Side is what one side of a synthetic connection sends after its
// ElligatorSwift key: its garbage (0 to 4095 bytes), then, after its
// garbage terminator, its packets in order.
type V2Side struct {
	Garbage []byte
	Packets []V2Packet
}

// V2Stream is one direction of a synthetic connection as it goes on the
// wire: the key, the garbage, the terminator and the packets.
type V2Stream struct {
	Data []byte
	// HandshakeEnd is where the packets start (just past the terminator);
	// PacketOffsets is where each packet of the side's Packets starts.
	HandshakeEnd  int
	PacketOffsets []int
}

// V2Conn is a synthetic BIP324 connection: both directions' bytes and the
// key log line that decrypts them.
type V2Conn struct {
	KeyLog   protocol.V2KeyLogEntry
	ToServer V2Stream
	ToClient V2Stream
}

// NewV2Conn builds a BIP324 connection with fresh ElligatorSwift keys on
// both sides and the secret their ECDH gives, as two nodes would.
func NewV2Conn(magic wire.BitcoinNet, client, server V2Side) (*V2Conn, error) {
	cPriv, cKey, err := ellswift.EllswiftCreate()
	if err != nil {
		return nil, fmt.Errorf("pcaptest: initiator key: %w", err)
	}
	sPriv, sKey, err := ellswift.EllswiftCreate()
	if err != nil {
		return nil, fmt.Errorf("pcaptest: responder key: %w", err)
	}
	cSecret, err := ellswift.V2Ecdh(cPriv, sKey, cKey, true)
	if err != nil {
		return nil, fmt.Errorf("pcaptest: initiator ECDH: %w", err)
	}
	sSecret, err := ellswift.V2Ecdh(sPriv, cKey, sKey, false)
	if err != nil {
		return nil, fmt.Errorf("pcaptest: responder ECDH: %w", err)
	}
	if *cSecret != *sSecret {
		return nil, fmt.Errorf("pcaptest: the two sides' ECDH secrets differ")
	}
	return NewV2ConnSecret(magic, cKey, sKey, [32]byte(*cSecret), client, server)
}

// NewV2ConnSecret builds a BIP324 connection from given keys and secret,
// for tests that need the same bytes every run (fuzz seeds). The keys are
// only bytes on the wire here: nothing checks the secret follows from them.
func NewV2ConnSecret(magic wire.BitcoinNet, initiatorKey, responderKey [protocol.V2KeySize]byte, secret [32]byte, client, server V2Side) (*V2Conn, error) {
	sess, err := protocol.DeriveV2Session(secret, magic)
	if err != nil {
		return nil, fmt.Errorf("pcaptest: %w", err)
	}
	c := &V2Conn{KeyLog: protocol.V2KeyLogEntry{InitiatorKey: initiatorKey, Secret: secret, Magic: magic, SessionID: sess.ID}}
	if c.ToServer, err = buildV2Stream(&sess, true, initiatorKey, client); err != nil {
		return nil, err
	}
	if c.ToClient, err = buildV2Stream(&sess, false, responderKey, server); err != nil {
		return nil, err
	}
	return c, nil
}

func buildV2Stream(sess *protocol.V2Session, initiator bool, key [protocol.V2KeySize]byte, side V2Side) (V2Stream, error) {
	if len(side.Garbage) > protocol.V2MaxGarbage {
		return V2Stream{}, fmt.Errorf("pcaptest: %d bytes of garbage, BIP324 allows %d", len(side.Garbage), protocol.V2MaxGarbage)
	}
	send, err := sess.Sender(initiator)
	if err != nil {
		return V2Stream{}, fmt.Errorf("pcaptest: %w", err)
	}
	term := sess.SendTerminator(initiator)
	var s V2Stream
	s.Data = append(s.Data, key[:]...)
	s.Data = append(s.Data, side.Garbage...)
	s.Data = append(s.Data, term[:]...)
	s.HandshakeEnd = len(s.Data)
	for i, p := range side.Packets {
		// The first packet authenticates the garbage, so that a
		// man in the middle cannot change it unnoticed.
		var aad []byte
		if i == 0 {
			aad = side.Garbage
		}
		var parts [][]byte
		switch {
		case p.Decoy, p.Version:
			parts = [][]byte{p.Payload}
		case p.Long:
			long := make([]byte, 1+wire.CommandSize)
			copy(long[1:], p.Command)
			parts = [][]byte{long, p.Payload}
		default:
			parts = [][]byte{protocol.V2MessageType(p.Command), p.Payload}
		}
		s.PacketOffsets = append(s.PacketOffsets, len(s.Data))
		if s.Data, err = send.AppendPacket(s.Data, aad, p.Decoy, parts...); err != nil {
			return V2Stream{}, fmt.Errorf("pcaptest: packet %d: %w", i, err)
		}
	}
	return s, nil
}

// Write records the connection in w between client and server: the TCP
// handshake at at, then the initiator's key, garbage and terminator, the
// responder's, and then the packets, alternating one from each side, each
// chunk a millisecond after the one before, so the decoded messages of the
// two directions interleave in a known order. It returns the time after
// the last chunk.
func (c *V2Conn) Write(w *Writer, at time.Time, client, server netip.AddrPort) (time.Time, error) {
	conn, err := w.Open(at, client, server)
	if err != nil {
		return at, err
	}
	chunks := func(s V2Stream) [][]byte {
		out := [][]byte{s.Data[:s.HandshakeEnd]}
		for i, off := range s.PacketOffsets {
			end := len(s.Data)
			if i+1 < len(s.PacketOffsets) {
				end = s.PacketOffsets[i+1]
			}
			out = append(out, s.Data[off:end])
		}
		// Bytes past the packets (a test's junk) go last.
		if n := len(s.PacketOffsets); n == 0 && len(s.Data) > s.HandshakeEnd {
			out = append(out, s.Data[s.HandshakeEnd:])
		}
		return out
	}
	up, down := chunks(c.ToServer), chunks(c.ToClient)
	for i := 0; i < max(len(up), len(down)); i++ {
		for _, d := range []struct {
			toServer bool
			list     [][]byte
		}{{true, up}, {false, down}} {
			if i >= len(d.list) || len(d.list[i]) == 0 {
				continue
			}
			at = at.Add(time.Millisecond)
			if err := conn.Send(at, d.toServer, d.list[i]); err != nil {
				return at, err
			}
		}
	}
	at = at.Add(time.Millisecond)
	return at, conn.Close(at)
}

// V2SampleMagic is the network of V2Sample's connection: regtest
// (wire's TestNet is regtest's magic).
const V2SampleMagic = wire.TestNet

// V2Sample returns the two sides of the BIP324 connection the decoder's
// tests decode, in the page and from the command line as in node/inspect:
// on each side random garbage, then a decoy before the version packet
// (the initiator's decoy is its first packet, so the one the garbage
// authenticates), then version, verack, a ping or pong and headers, with
// both short and long message types (verack has no short id; the
// responder's headers is sent with the long type although it has one).
func V2Sample(rnd io.Reader) (client, server V2Side, err error) {
	version := func(nonce uint64) ([]byte, error) {
		me := wire.NewNetAddressIPPort(net.ParseIP("10.0.0.1"), 50000, wire.SFNodeNetwork|wire.SFNodeWitness)
		you := wire.NewNetAddressIPPort(net.ParseIP("10.0.0.2"), 18444, wire.SFNodeNetwork|wire.SFNodeWitness)
		v := wire.NewMsgVersion(me, you, nonce, 101)
		v.Timestamp = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		return protocol.Encode(v)
	}
	headers := wire.NewMsgHeaders()
	for i := range 3 {
		h := wire.NewBlockHeader(1, &chainhash.Hash{byte(i)}, &chainhash.Hash{byte(i + 1)}, 0x207fffff, uint32(i))
		h.Timestamp = time.Date(2026, 12, 1, 0, i, 0, 0, time.UTC)
		if err := headers.AddBlockHeader(h); err != nil {
			return client, server, fmt.Errorf("pcaptest: %w", err)
		}
	}
	payloads := map[string]wire.Message{
		"ping": wire.NewMsgPing(0x0102030405060708), "pong": wire.NewMsgPong(0x0102030405060708), "headers": headers,
	}
	enc := map[string][]byte{}
	for name, m := range payloads {
		if enc[name], err = protocol.Encode(m); err != nil {
			return client, server, err
		}
	}
	cVer, err := version(1)
	if err != nil {
		return client, server, err
	}
	sVer, err := version(2)
	if err != nil {
		return client, server, err
	}
	garbage := func(n int) ([]byte, error) {
		b := make([]byte, n)
		if _, err := io.ReadFull(rnd, b); err != nil {
			return nil, fmt.Errorf("pcaptest: garbage: %w", err)
		}
		return b, nil
	}
	if client.Garbage, err = garbage(100); err != nil {
		return client, server, err
	}
	if server.Garbage, err = garbage(37); err != nil {
		return client, server, err
	}
	client.Packets = []V2Packet{
		{Decoy: true, Payload: make([]byte, 10)},
		{Version: true},
		{Command: "version", Payload: cVer},
		{Command: "verack"},
		{Command: "ping", Payload: enc["ping"]},
		{Command: "headers", Payload: enc["headers"]},
	}
	server.Packets = []V2Packet{
		{Version: true},
		{Decoy: true, Payload: make([]byte, 3)},
		{Command: "version", Payload: sVer},
		{Command: "verack"},
		{Command: "pong", Payload: enc["pong"]},
		{Command: "headers", Payload: enc["headers"], Long: true},
	}
	return client, server, nil
}

// V2SampleCapture records a fresh V2Sample connection (new keys, garbage
// from crypto/rand) between 10.0.0.1:50000 and 10.0.0.2:18444 as a
// capture of the given format; the connection's KeyLog decrypts it.
func V2SampleCapture(format Format) (*V2Conn, []byte, error) {
	client, server, err := V2Sample(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	c, err := NewV2Conn(V2SampleMagic, client, server)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, format)
	if err != nil {
		return nil, nil, err
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if _, err := c.Write(w, at, netip.MustParseAddrPort("10.0.0.1:50000"), netip.MustParseAddrPort("10.0.0.2:18444")); err != nil {
		return nil, nil, err
	}
	return c, buf.Bytes(), nil
}
