package main

import (
	"bytes"
	"encoding/hex"
	"net"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/protocol"
)

// stallingPeer is a test peer the node connects to: it has a chain's
// headers and says so (NODE_NETWORK, NODE_WITNESS, the chain's height), so
// the node asks it for blocks, and it never sends one: the staller of the
// download window. It answers pings, so only the window's stall timeout
// can find it out.
type stallingPeer struct {
	t       testing.TB
	ln      net.Listener
	ua      string
	headers []wire.BlockHeader // from height 1
	hashes  []chainhash.Hash

	mu    sync.Mutex
	asked int // blocks asked of it, all connections
}

// startStallingPeer listens on loopback with the headers of raw (btcd's
// getblock hex, from height 1).
func startStallingPeer(t testing.TB, ua string, raw []string) *stallingPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallingPeer{t: t, ln: ln, ua: ua}
	for _, r := range raw {
		b, err := hex.DecodeString(r)
		if err != nil {
			t.Fatal(err)
		}
		var blk wire.MsgBlock
		if err := blk.Deserialize(bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		p.headers = append(p.headers, blk.Header)
		p.hashes = append(p.hashes, blk.BlockHash())
	}
	t.Cleanup(func() { ln.Close() })
	go p.accept()
	return p
}

func (p *stallingPeer) addr() string { return p.ln.Addr().String() }

func (p *stallingPeer) blocksAsked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked
}

func (p *stallingPeer) accept() {
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(nc)
	}
}

// serve speaks to one connection until it closes.
func (p *stallingPeer) serve(nc net.Conn) {
	defer nc.Close()
	magic := protocol.Regtest.Magic()
	send := func(m wire.Message) bool {
		b, err := protocol.EncodeFrame(magic, m)
		if err != nil {
			return false
		}
		_, err = nc.Write(b)
		return err == nil
	}
	v := versionMsg(p.ua, 0x5ca11)
	v.Services = wire.SFNodeNetwork | wire.SFNodeWitness
	v.LastBlock = int32(len(p.headers))
	if !send(v) || !send(wire.NewMsgVerAck()) {
		return
	}
	for {
		f, err := protocol.ReadFrame(nc, magic)
		if err != nil {
			return
		}
		m, err := protocol.Decode(f.Command, f.Payload)
		if err != nil {
			continue
		}
		switch m := m.(type) {
		case *wire.MsgPing:
			send(wire.NewMsgPong(m.Nonce))
		case *wire.MsgGetHeaders:
			send(p.headersAfter(m.BlockLocatorHashes))
		case *wire.MsgGetData:
			p.mu.Lock()
			p.asked += len(m.InvList)
			p.mu.Unlock()
		}
	}
}

// headersAfter answers a locator: up to 2,000 headers after the first
// locator hash it knows (the genesis block if none).
func (p *stallingPeer) headersAfter(locator []*chainhash.Hash) *wire.MsgHeaders {
	from := 0
	for _, h := range locator {
		found := false
		for i := range p.hashes {
			if p.hashes[i] == *h {
				from, found = i+1, true
				break
			}
		}
		if found {
			break
		}
	}
	out := wire.NewMsgHeaders()
	for i := from; i < len(p.headers) && len(out.Headers) < wire.MaxBlockHeadersPerMsg; i++ {
		out.AddBlockHeader(&p.headers[i])
	}
	return out
}
