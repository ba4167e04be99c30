package engine

// A raw peer: a real TCP connection to a running engine, speaking bytes,
// the way a hostile (or honest) remote node would.

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

type rawPeer struct {
	t  testing.TB
	nc net.Conn
	mu sync.Mutex
	in []wire.Message // what the reader goroutine read, if started
}

func dialRaw(t testing.TB, addr string) *rawPeer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawPeer{t: t, nc: nc}
}

// frame encodes msg for regtest.
func frame(t testing.TB, msg wire.Message) []byte {
	t.Helper()
	b, err := protocol.EncodeFrame(protocol.Regtest.Magic(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (p *rawPeer) write(b []byte) error {
	p.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := p.nc.Write(b)
	return err
}

func (p *rawPeer) send(msgs ...wire.Message) {
	p.t.Helper()
	var b []byte
	for _, m := range msgs {
		b = append(b, frame(p.t, m)...)
	}
	if err := p.write(b); err != nil {
		p.t.Fatalf("writing to the node: %v", err)
	}
}

// read reads one message (waiting up to 10 s).
func (p *rawPeer) read() (wire.Message, error) {
	p.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := protocol.ReadFrame(p.nc, protocol.Regtest.Magic())
	if err != nil {
		return nil, err
	}
	return protocol.Decode(f.Command, f.Payload)
}

// readUntil reads until a message with command arrives.
func (p *rawPeer) readUntil(command string) wire.Message {
	p.t.Helper()
	for {
		m, err := p.read()
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", command, err)
		}
		if m.Command() == command {
			return m
		}
	}
}

// version is a version message as a recent Bitcoin Core sends it.
func rawVersion(nonce uint64, lastBlock int32) *wire.MsgVersion {
	me := wire.NewNetAddressIPPort(net.IPv4(127, 0, 0, 1), 0, wire.SFNodeNetwork|wire.SFNodeWitness)
	v := wire.NewMsgVersion(me, me, nonce, lastBlock)
	v.ProtocolVersion = int32(protocol.ProtocolVersion)
	v.Services = wire.SFNodeNetwork | wire.SFNodeWitness
	v.UserAgent = "/raw:1.0/"
	return v
}

// handshake completes the version handshake (the node answers with its
// version, wtxidrelay, sendaddrv2 and verack).
func (p *rawPeer) handshake(nonce uint64) {
	p.t.Helper()
	p.send(rawVersion(nonce, 0), wire.NewMsgWTxIdRelay(), wire.NewMsgSendAddrV2())
	p.readUntil(wire.CmdVerAck)
	p.send(wire.NewMsgVerAck())
}

// discard reads and drops everything the node sends, until the connection
// ends.
func (p *rawPeer) discard() {
	go func() {
		buf := make([]byte, 64<<10)
		for {
			p.nc.SetReadDeadline(time.Time{})
			if _, err := p.nc.Read(buf); err != nil {
				return
			}
		}
	}()
}
