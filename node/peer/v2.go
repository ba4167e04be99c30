package peer

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/btcsuite/btcd/btcec/v2/ellswift"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// Transport says how a connection frames its messages.
type Transport int

const (
	// TransportV1 is the plaintext framing (magic, command, length,
	// checksum) both ways.
	TransportV1 Transport = iota
	// TransportV2 initiates BIP324's encrypted transport: an outbound
	// connection to a peer believed to speak it. If the peer closes the
	// connection without a byte in answer to our key, the error wraps
	// protocol.ErrV2Refused: it speaks v1 only, and the dial may be
	// retried with v1.
	TransportV2
	// TransportDetect answers either: an inbound connection whose first
	// 16 bytes are a v1 version message's header speaks v1, anything else
	// is taken for a BIP324 key, as Core does.
	TransportDetect
)

// Transport names, as PeerInfo.Transport reports them.
const (
	TransportNameV1 = "v1"
	TransportNameV2 = "v2"
)

// The BIP324 handshake is written here, over btcec's ElligatorSwift and
// the ciphers btcd's v2transport exports, rather than with v2transport's
// Peer: that Peer keeps the session id and keys to itself (the peer page
// shows the id, the key log needs the secret), reads the peer's garbage
// and packets with blocking calls of its own rather than through the
// reader's buffer and its accounting, and allocates a packet's declared
// length, up to 16 MiB, before a byte of it is authenticated. The tests
// run this handshake against v2transport's Peer and against btcd.

// v2Reader decrypts one connection's received packets.
type v2Reader struct {
	recv *protocol.V2Receiver
	// aad is the peer's garbage, the associated data of its first packet;
	// nil after that packet.
	aad []byte
	// versionSeen: the first packet that is not a decoy is BIP324's
	// version packet, not a message.
	versionSeen bool
}

// v1Prefix is the first 16 bytes of a v1 version message on the network
// with magic: what tells an inbound v1 peer from a v2 one.
func v1Prefix(magic wire.BitcoinNet) []byte {
	p := binary.LittleEndian.AppendUint32(nil, uint32(magic))
	return append(p, "version\x00\x00\x00\x00\x00"...)
}

// speaksV1 peeks at an inbound connection's first bytes (consuming
// nothing): a v1 version header means v1; the first byte that differs
// from one means a BIP324 key. Core decides the same way.
func speaksV1(br *bufio.Reader, magic wire.BitcoinNet) (bool, error) {
	want := v1Prefix(magic)
	for n := 1; n <= len(want); n++ {
		b, err := br.Peek(n)
		if err != nil {
			return false, fmt.Errorf("reading the first bytes: %w", err)
		}
		if b[n-1] != want[n-1] {
			return false, nil
		}
	}
	return true, nil
}

// randomGarbage is the garbage sent after our key: a random length up to
// BIP324's limit, as Core and btcd send, so that the handshake's size
// does not identify the protocol.
func randomGarbage() ([]byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(protocol.V2MaxGarbage+1))
	if err != nil {
		return nil, fmt.Errorf("drawing garbage length: %w", err)
	}
	g := make([]byte, n.Int64())
	if _, err := rand.Read(g); err != nil {
		return nil, fmt.Errorf("drawing garbage: %w", err)
	}
	return g, nil
}

// handshakeV2 runs our side of BIP324's handshake on the reader goroutine
// (the writer waits for c.ready): our key and garbage, the peer's key, the
// keys derived, our terminator and version packet, then the peer's
// garbage up to its terminator. The bytes it writes and reads are counted
// in Stats.
func (c *Conn) handshakeV2(br *bufio.Reader, initiator bool) (*v2Reader, error) {
	priv, ours, err := ellswift.EllswiftCreate()
	if err != nil {
		return nil, fmt.Errorf("making BIP324 key: %w", err)
	}
	garbage, err := randomGarbage()
	if err != nil {
		return nil, err
	}
	if err := c.writeRaw(append(ours[:], garbage...)); err != nil {
		if initiator {
			// Nothing came back and the peer is gone: a v1-only peer that
			// hung up on our key while we were still sending garbage.
			return nil, fmt.Errorf("%w: %v", protocol.ErrV2Refused, err)
		}
		return nil, err
	}

	var theirs [protocol.V2KeySize]byte
	n, err := io.ReadFull(br, theirs[:])
	c.Stats.addRaw(&c.Stats.recv, n)
	if err != nil {
		if initiator && n == 0 {
			// A v1 peer reads our key as a bad message header and hangs
			// up without a word: Core retries such a peer with v1.
			return nil, fmt.Errorf("%w: %v", protocol.ErrV2Refused, err)
		}
		return nil, fmt.Errorf("reading the peer's BIP324 key (%d of 64 bytes): %w", n, err)
	}
	if initiator && bytes.Equal(theirs[:16], v1Prefix(c.cfg.Magic)) {
		// A v1 peer that spoke first, with its version message: it speaks
		// v1 as surely as one that hangs up (Core waits for the hang-up;
		// such a peer would otherwise cost a failed attempt and a backoff).
		return nil, fmt.Errorf("%w: it sent a v1 version message", protocol.ErrV2Refused)
	}
	if !initiator && bytes.Equal(theirs[4:16], v1Prefix(0)[4:]) {
		// Core drops such a peer too ("V1 peer with wrong MessageStart").
		return nil, fmt.Errorf("%w: a v1 version message for another network (magic %x) where a BIP324 key was expected", protocol.ErrWrongMagic, theirs[:4])
	}
	secret, err := ellswift.V2Ecdh(priv, theirs, ours, initiator)
	if err != nil {
		return nil, fmt.Errorf("%w: key agreement failed: %v", protocol.ErrV2Handshake, err)
	}
	session, err := protocol.DeriveV2Session(*secret, c.cfg.Magic)
	if err != nil {
		return nil, err
	}
	send, err := session.Sender(initiator)
	if err != nil {
		return nil, err
	}
	recv, err := session.Receiver(initiator)
	if err != nil {
		return nil, err
	}

	// Our terminator, then the version packet (empty: no transport
	// features are defined), which carries our garbage as its associated
	// data. The writer takes over from here.
	term := session.SendTerminator(initiator)
	out, err := send.AppendPacket(term[:], garbage, false)
	if err != nil {
		return nil, err
	}
	if err := c.writeRaw(out); err != nil {
		return nil, err
	}
	if c.cfg.KeyLog != nil {
		e := protocol.V2KeyLogEntry{Secret: *secret, Magic: c.cfg.Magic, SessionID: session.ID}
		e.InitiatorKey = theirs
		if initiator {
			e.InitiatorKey = ours
		}
		c.cfg.KeyLog(e)
	}
	c.startWriting(TransportNameV2, send, hex.EncodeToString(session.ID[:]))

	theirGarbage, err := c.readGarbage(br, session.RecvTerminator(initiator))
	if err != nil {
		return nil, err
	}
	return &v2Reader{recv: recv, aad: theirGarbage}, nil
}

// readGarbage reads the peer's garbage and its terminator, which must
// come within BIP324's 4095 bytes of garbage, and returns the garbage.
func (c *Conn) readGarbage(br *bufio.Reader, term [protocol.V2TerminatorSize]byte) ([]byte, error) {
	const limit = protocol.V2MaxGarbage + protocol.V2TerminatorSize
	buf := make([]byte, 0, protocol.V2TerminatorSize)
	for len(buf) < limit {
		b, err := br.ReadByte()
		if err != nil {
			c.Stats.addRaw(&c.Stats.recv, len(buf))
			return nil, fmt.Errorf("reading the peer's BIP324 garbage (%d bytes so far): %w", len(buf), err)
		}
		buf = append(buf, b)
		if len(buf) >= protocol.V2TerminatorSize && [protocol.V2TerminatorSize]byte(buf[len(buf)-protocol.V2TerminatorSize:]) == term {
			c.Stats.addRaw(&c.Stats.recv, len(buf))
			return buf[:len(buf)-protocol.V2TerminatorSize], nil
		}
	}
	c.Stats.addRaw(&c.Stats.recv, len(buf))
	return nil, fmt.Errorf("%w: no garbage terminator in the first %d bytes after the key", protocol.ErrV2Handshake, limit)
}

// writeRaw writes handshake bytes from the reader goroutine, before the
// writer starts.
func (c *Conn) writeRaw(b []byte) error {
	n, err := c.nc.Write(b)
	c.Stats.addRaw(&c.Stats.sent, n)
	if err != nil {
		return fmt.Errorf("writing BIP324 handshake: %w", err)
	}
	return nil
}

// readV2 reads the next message's packet: its length is decrypted, bounded
// and reserved in the inbound bound before the rest is read, and it must
// authenticate. Decoys are read (under the same reservation) and skipped,
// as are packets whose short message id BIP324 does not assign (Core skips
// them too). It returns the message and its size on the wire.
func (c *Conn) readV2(br *bufio.Reader, r *v2Reader) (protocol.Frame, int, error) {
	reserved := false
	for {
		var field [protocol.V2LengthSize]byte
		if _, err := io.ReadFull(br, field[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return protocol.Frame{}, 0, fmt.Errorf("reading BIP324 packet length: %w", err)
			}
			return protocol.Frame{}, 0, err
		}
		n, err := r.recv.Length(field)
		if err != nil {
			return protocol.Frame{}, 0, err
		}
		cost := p2p.PayloadCost(protocol.V2BodySize(n))
		if !reserved && !c.cfg.In.Reserve(cost) || reserved && !c.cfg.In.Resize(cost) {
			return protocol.Frame{}, 0, errClosed
		}
		reserved = true
		body := make([]byte, protocol.V2BodySize(n))
		if _, err := io.ReadFull(br, body); err != nil {
			return protocol.Frame{}, 0, fmt.Errorf("reading BIP324 packet of %d bytes: %w", n, noEOF(err))
		}
		decoy, contents, err := r.recv.Open(r.aad, body)
		if err != nil {
			return protocol.Frame{}, 0, err
		}
		r.aad = nil
		size := protocol.V2LengthSize + len(body)
		if decoy || !r.versionSeen {
			r.versionSeen = r.versionSeen || !decoy
			c.Stats.addRaw(&c.Stats.recv, size)
			continue
		}
		cmd, payload, err := protocol.ParseV2Contents(contents)
		if errors.Is(err, protocol.ErrV2UnknownType) {
			c.Stats.addRaw(&c.Stats.recv, size)
			continue
		}
		if err != nil {
			return protocol.Frame{}, 0, err
		}
		return protocol.Frame{Command: cmd, Payload: payload}, size, nil
	}
}

// errClosed ends the reader when the connection is closed while it waits
// for room; it is never reported.
var errClosed = errors.New("connection closed")

// noEOF turns a clean EOF inside a packet into ErrUnexpectedEOF: the peer
// closed mid-message.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// v2PacketSize is the size on the wire of a message sent over BIP324.
func v2PacketSize(command string, payload int) int {
	return protocol.V2Overhead + len(protocol.V2MessageType(command)) + payload
}
