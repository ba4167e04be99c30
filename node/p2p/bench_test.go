package p2p_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// benchCore is a core with n established inbound peers, driven directly
// (no simulator): the engine goroutine's share of the work.
func benchCore(b *testing.B, n int) (*p2p.Core, []p2p.PeerID) {
	c, err := p2p.New(p2p.Config{Network: protocol.Regtest, MaxPeers: n + 8}, time.Now(), nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	var ids []p2p.PeerID
	for i := range n {
		adm := c.Connected(now, p2p.ConnInfo{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 8333), Inbound: true})
		for _, msg := range []wire.Message{benchVersion(uint64(i)), wire.NewMsgVerAck()} {
			payload, _ := protocol.Encode(msg)
			m, err := p2p.DecodeMessage(msg.Command(), payload, now)
			if err != nil {
				b.Fatal(err)
			}
			c.Message(now, adm.ID, m)
		}
		ids = append(ids, adm.ID)
	}
	c.TakeActions()
	return c, ids
}

func benchVersion(nonce uint64) *wire.MsgVersion {
	v := wire.NewMsgVersion(wire.NewNetAddressIPPort(nil, 0, 0), wire.NewNetAddressIPPort(nil, 0, 0), nonce, 0)
	v.ProtocolVersion = 70016
	return v
}

// BenchmarkCoreServePings measures the core's dispatch rate: decoded pings
// from 8 peers served round-robin, each answered with a framed pong (the
// writers' reports keep the queues' accounts empty). Reported per message.
func BenchmarkCoreServePings(b *testing.B) {
	c, ids := benchCore(b, 8)
	payload, _ := protocol.Encode(wire.NewMsgPing(7))
	ping, err := p2p.DecodeMessage(wire.CmdPing, payload, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	queued := make(map[p2p.PeerID]int)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		for _, id := range ids {
			queued[id] = 1
		}
		c.ServeRound(now, func(id p2p.PeerID) (*p2p.Message, bool) {
			if queued[id] == 0 {
				return nil, false
			}
			queued[id]--
			return ping, true
		})
		for _, a := range c.TakeActions() {
			if a.Kind == p2p.ActSend {
				c.Written(now, a.Peer, p2p.WriteReport{Bytes: len(a.Frame.Bytes), Messages: 1, Cost: a.Frame.Cost()})
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/message")
}
