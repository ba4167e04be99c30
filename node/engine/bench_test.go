package engine

import (
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// BenchmarkServePings measures the engine goroutine's dispatch rate: decoded
// pings from 8 established peers served round-robin, each answered with a
// framed pong. Reported per message.
func BenchmarkServePings(b *testing.B) {
	h := newTestEngine(b)
	var peers []*peerState
	for i := range 8 {
		peers = append(peers, h.established(i%2 == 0))
	}
	for _, p := range peers {
		drainFrames(p)
	}
	ping := wire.NewMsgPing(7)
	size := protocol.HeaderSize + 8
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := peers[i%len(peers)]
		p.in.Push(peer.Inbound{Msg: ping, Command: wire.CmdPing, Size: size})
		if i%len(peers) == len(peers)-1 {
			h.serveAll()
			for _, p := range peers {
				for {
					if _, ok := p.out.Pop(); !ok {
						break
					}
				}
			}
		}
	}
}

// BenchmarkBroadcast measures sending one headers announcement to 100 peers:
// it is serialized and framed once and the bytes are shared.
func BenchmarkBroadcast(b *testing.B) {
	h := newTestEngine(b)
	var peers []*peerState
	for i := range 100 {
		peers = append(peers, h.established(i%2 == 0))
	}
	msg := wire.NewMsgHeaders()
	msg.AddBlockHeader(&protocol.Regtest.Params().GenesisBlock.Header)
	b.ReportAllocs()
	for b.Loop() {
		if n := h.e.broadcast(msg, nil, h.now()); n != len(peers) {
			b.Fatalf("broadcast reached %d peers", n)
		}
		for _, p := range peers {
			drainFrames(p)
		}
	}
}
