package protocol

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/v2transport"
	"github.com/btcsuite/btcd/wire/v2"
)

// BIP324's sizes.
const (
	// V2KeySize is an ElligatorSwift-encoded public key, the first bytes
	// each side sends.
	V2KeySize = 64
	// V2MaxGarbage is the most garbage either side may send after its key.
	V2MaxGarbage = 4095
	// V2TerminatorSize is a garbage terminator.
	V2TerminatorSize = 16
	// V2LengthSize is a packet's encrypted length field.
	V2LengthSize = 3
	// V2Overhead is what a packet adds to its contents: the length field,
	// the header byte and the authentication tag.
	V2Overhead = V2LengthSize + 1 + 16
	// V2MaxContents is the largest packet contents the node accepts: a
	// 13-byte long message type and a MaxPayload payload, the bound Core
	// applies (its MAX_PROTOCOL_MESSAGE_LENGTH plus the type).
	V2MaxContents = 1 + wire.CommandSize + MaxPayload
)

// V2Session is what one BIP324 connection derives from its ECDH secret:
// the session id (which both sides can show a user to compare), the four
// cipher keys and the two garbage terminators.
type V2Session struct {
	ID                     [32]byte
	InitiatorL, InitiatorP [32]byte
	ResponderL, ResponderP [32]byte
	InitiatorTerminator    [V2TerminatorSize]byte
	ResponderTerminator    [V2TerminatorSize]byte
}

// DeriveV2Session expands a connection's shared secret into its session
// keys, as BIP324 specifies: HKDF-SHA256 with the salt
// "bitcoin_v2_shared_secret" and the network's magic.
//
// The derivation is written here because btcd's v2transport keeps the keys
// and the session id inside its Peer, where neither the key log nor the
// decoder (which has only a logged secret) can reach them; its ciphers are
// used as they are.
func DeriveV2Session(secret [32]byte, magic wire.BitcoinNet) (V2Session, error) {
	salt := []byte("bitcoin_v2_shared_secret")
	salt = binary.LittleEndian.AppendUint32(salt, uint32(magic))
	prk, err := hkdf.Extract(sha256.New, secret[:], salt)
	if err != nil {
		return V2Session{}, fmt.Errorf("deriving BIP324 keys: %w", err)
	}
	var s V2Session
	var terms [2 * V2TerminatorSize]byte
	for _, out := range []struct {
		info string
		dst  []byte
	}{
		{"session_id", s.ID[:]},
		{"initiator_L", s.InitiatorL[:]},
		{"initiator_P", s.InitiatorP[:]},
		{"responder_L", s.ResponderL[:]},
		{"responder_P", s.ResponderP[:]},
		{"garbage_terminators", terms[:]},
	} {
		key, err := hkdf.Expand(sha256.New, prk, out.info, len(out.dst))
		if err != nil {
			return V2Session{}, fmt.Errorf("deriving BIP324 %s: %w", out.info, err)
		}
		copy(out.dst, key)
	}
	copy(s.InitiatorTerminator[:], terms[:V2TerminatorSize])
	copy(s.ResponderTerminator[:], terms[V2TerminatorSize:])
	return s, nil
}

// Sender returns the cipher for the packets one side sends: the
// initiator's or the responder's.
func (s *V2Session) Sender(initiator bool) (*V2Sender, error) {
	l, p := s.keys(initiator)
	return newV2Sender(l, p)
}

// Receiver returns the cipher for the packets one side receives: sent by
// the responder (initiator true) or by the initiator.
func (s *V2Session) Receiver(initiator bool) (*V2Receiver, error) {
	l, p := s.keys(!initiator)
	return newV2Receiver(l, p)
}

// SendTerminator is the terminator the side sends after its garbage;
// RecvTerminator the one it waits for.
func (s *V2Session) SendTerminator(initiator bool) [V2TerminatorSize]byte {
	if initiator {
		return s.InitiatorTerminator
	}
	return s.ResponderTerminator
}

// RecvTerminator is the terminator the other side sends after its garbage.
func (s *V2Session) RecvTerminator(initiator bool) [V2TerminatorSize]byte {
	return s.SendTerminator(!initiator)
}

// keys returns the length and packet keys of the initiator's (true) or the
// responder's packets.
func (s *V2Session) keys(initiator bool) (l, p []byte) {
	if initiator {
		return s.InitiatorL[:], s.InitiatorP[:]
	}
	return s.ResponderL[:], s.ResponderP[:]
}

// V2Sender encrypts the packets of one direction of a connection.
type V2Sender struct {
	l *v2transport.FSChaCha20
	p *v2transport.FSChaCha20Poly1305
}

func newV2Sender(l, p []byte) (*V2Sender, error) {
	lc, err := v2transport.NewFSChaCha20(append([]byte(nil), l...))
	if err != nil {
		return nil, fmt.Errorf("BIP324 length cipher: %w", err)
	}
	pc, err := v2transport.NewFSChaCha20Poly1305(append([]byte(nil), p...))
	if err != nil {
		return nil, fmt.Errorf("BIP324 packet cipher: %w", err)
	}
	return &V2Sender{l: lc, p: pc}, nil
}

// AppendPacket appends to dst the packet carrying contents (decoy: the
// ignore bit set; aad: the garbage sent, for the first packet only).
// contents are parts (a message type and a payload) concatenated.
func (s *V2Sender) AppendPacket(dst []byte, aad []byte, decoy bool, contents ...[]byte) ([]byte, error) {
	n := 0
	for _, c := range contents {
		n += len(c)
	}
	if n > 1<<24-1 {
		return dst, fmt.Errorf("BIP324 packet of %d bytes exceeds the 3-byte length", n)
	}
	plain := make([]byte, 1, 1+n)
	if decoy {
		plain[0] = 0x80
	}
	for _, c := range contents {
		plain = append(plain, c...)
	}
	var le [4]byte
	binary.LittleEndian.PutUint32(le[:], uint32(n))
	encLen, err := s.l.Crypt(le[:V2LengthSize])
	if err != nil {
		return dst, fmt.Errorf("encrypting BIP324 length: %w", err)
	}
	sealed, err := s.p.Encrypt(aad, plain)
	if err != nil {
		return dst, fmt.Errorf("encrypting BIP324 packet: %w", err)
	}
	dst = append(dst, encLen...)
	return append(dst, sealed...), nil
}

// V2Receiver decrypts the packets of one direction of a connection. Its
// two steps are separate so that a reader learns (and bounds, and
// accounts for) a packet's length before it reads the packet.
type V2Receiver struct {
	l *v2transport.FSChaCha20
	p *v2transport.FSChaCha20Poly1305
}

func newV2Receiver(l, p []byte) (*V2Receiver, error) {
	s, err := newV2Sender(l, p)
	if err != nil {
		return nil, err
	}
	return &V2Receiver{l: s.l, p: s.p}, nil
}

// Errors of the BIP324 transport. ErrV2Packet and ErrV2Handshake are a
// peer's violations; ErrV2Refused is not: the peer speaks v1 only.
var (
	// ErrV2Packet marks a packet the node refuses: too long, or failing
	// authentication.
	ErrV2Packet = errors.New("bad BIP324 packet")
	// ErrV2Handshake marks a handshake the node refuses: no garbage
	// terminator where BIP324 puts one, or a v1 message for another
	// network where a key was expected.
	ErrV2Handshake = errors.New("bad BIP324 handshake")
	// ErrV2Refused says a peer closed the connection without answering
	// our BIP324 key, the way a v1-only peer does.
	ErrV2Refused = errors.New("peer closed the connection without answering our BIP324 key: it speaks v1 only")
)

// Length decrypts a packet's length field: the length of its contents,
// refused above V2MaxContents. The rest of the packet, Length + 17 bytes
// (header and tag), is then given to Open.
func (r *V2Receiver) Length(field [V2LengthSize]byte) (int, error) {
	plain, err := r.l.Crypt(field[:])
	if err != nil {
		return 0, fmt.Errorf("decrypting BIP324 length: %w", err)
	}
	n := int(plain[0]) | int(plain[1])<<8 | int(plain[2])<<16
	if n > V2MaxContents {
		return n, fmt.Errorf("%w: contents of %d bytes, limit %d", ErrV2Packet, n, V2MaxContents)
	}
	return n, nil
}

// BodySize is the size of what follows a packet's length field.
func V2BodySize(contents int) int { return 1 + contents + 16 }

// Open authenticates and decrypts a packet's body (what follows its length
// field), returning whether it is a decoy and its contents.
func (r *V2Receiver) Open(aad, body []byte) (decoy bool, contents []byte, err error) {
	plain, err := r.p.Decrypt(aad, body)
	if err != nil {
		return false, nil, fmt.Errorf("%w: authentication failed (%v)", ErrV2Packet, err)
	}
	return plain[0]&0x80 != 0, plain[1:], nil
}
