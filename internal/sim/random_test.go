package sim

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// TestRandomizedInvariants runs worlds of three nodes (two dialling the
// third) and many scripted peers that send arbitrary messages, valid and
// not, read or stop reading, close, and come and go, while the clock jumps.
// After every step: no panic, every invariant of every core holds (queues
// within their bounds, nothing refers to a dropped peer), and every request
// ends exactly once. A failure names the seed that replays it.
func TestRandomizedInvariants(t *testing.T) {
	steps := 3000
	seeds := []uint64{1, 2, 3, 4}
	if testing.Short() {
		steps, seeds = 500, seeds[:1]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			runRandomWorld(t, seed, steps)
		})
	}
}

func runRandomWorld(t *testing.T, seed uint64, steps int) {
	s := New(seed)
	rng := s.Rand()
	step := 0
	s.Check = func(err error) {
		if err != nil {
			t.Fatalf("seed %d, step %d: %v", seed, step, err)
		}
	}
	var nodes []*Node
	ended := make(map[*Node]map[uint64]p2p.Outcome)
	for i := range 3 {
		// Every node downloads and serves blocks: nobody in this world
		// has any, so the window meets notfound, stalls and timeouts.
		cfg := NodeConfig{Listen: i == 0, Blocks: &netsync.BlockStart{}}
		cfg.P2P.MaxPeers, cfg.P2P.MaxOutbound = 20, 4
		if i > 0 {
			cfg.P2P.Connect = []string{nodes[0].Addr.String()}
		}
		n, err := s.NewNode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ends := make(map[uint64]p2p.Outcome)
		ended[n] = ends
		n.Core.OnRequestEnd(func(r *p2p.Request, o p2p.Outcome) {
			if prev, twice := ends[r.ID]; twice {
				t.Fatalf("seed %d, step %d: request %d (%s) ended twice: %s, then %s", seed, step, r.ID, r.Command, prev, o)
			}
			ends[r.ID] = o
		})
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		n.Start()
	}
	chain := randomChain(rng)
	gen := &msgGen{rng: rng, chain: chain}
	var remotes []*Remote
	// An honest peer of node 0 serves the chain, so the nodes sync and
	// serve each other while the rest of the world misbehaves.
	server, _ := nodes[0].ConnectRemote(false)
	server.AutoRead = true
	v := wire.NewMsgVersion(wire.NewNetAddressIPPort(nil, 0, 0), wire.NewNetAddressIPPort(nil, 0, 0), 99, int32(len(chain)-1))
	v.ProtocolVersion = 70016
	v.Services = wire.SFNodeNetwork | wire.SFNodeWitness
	server.Send(v)
	server.Send(wire.NewMsgVerAck())
	for step = 0; step < steps; step++ {
		serveHonestly(server, chain)
		n := nodes[rng.IntN(len(nodes))]
		switch k := rng.IntN(100); {
		case k < 8 || len(remotes) == 0:
			r, adm := n.ConnectRemote(rng.IntN(2) == 0)
			if !adm.Refused {
				r.AutoRead = rng.IntN(3) > 0
				remotes = append(remotes, r)
			}
		case k < 70:
			r := remotes[rng.IntN(len(remotes))]
			if r.Alive() {
				r.Push(gen.next())
			}
		case k < 73:
			r := remotes[rng.IntN(len(remotes))]
			if r.Alive() {
				r.PushBytes(gen.garbage())
			}
		case k < 80:
			r := remotes[rng.IntN(len(remotes))]
			r.Read()
			r.AutoRead = rng.IntN(2) == 0
		case k < 82:
			remotes[rng.IntN(len(remotes))].Close()
		case k < 84:
			r := remotes[rng.IntN(len(remotes))]
			n.Do(func(c *p2p.Core) { c.Disconnect(s.Now(), r.ID) })
		case k < 85:
			n.Do(func(c *p2p.Core) { c.Ban(s.Now(), r4(rng), "test", time.Hour) })
		case k < 95:
			s.Settle()
		default:
			s.Run(time.Duration(rng.IntN(90_000)) * time.Millisecond)
		}
		s.check()
		// Forget remotes that are gone, so the world does not fill with
		// the dead.
		kept := remotes[:0]
		for _, r := range remotes {
			if r.Alive() {
				kept = append(kept, r)
			}
		}
		remotes = kept
	}
	for i, n := range nodes {
		snap := n.Snapshot()
		t.Logf("node %d: height %d, %d peers, %d requests, disconnects %v, %d events", i, n.Sync.Height(), len(snap.Peers), n.Core.RequestsStarted(), snap.DisconnectsByKind, len(n.Events))
	}
	// Stop every node: every request still in flight is released, so each
	// one ever started has ended exactly once.
	for _, n := range nodes {
		n.Core.Shutdown(s.Now())
		n.apply()
		if err := n.Core.CheckInvariants(); err != nil {
			t.Fatalf("seed %d after shutdown: %v", seed, err)
		}
		if n.Core.PeerCount() != 0 {
			t.Fatalf("seed %d: %d peers after shutdown", seed, n.Core.PeerCount())
		}
		started := n.Core.RequestsStarted()
		if uint64(len(ended[n])) != started {
			t.Fatalf("seed %d: %d requests started, %d ended", seed, started, len(ended[n]))
		}
	}
}

// serveHonestly answers what an honest node would: pongs and headers.
func serveHonestly(r *Remote, chain []wire.BlockHeader) {
	if !r.Alive() {
		return
	}
	for _, f := range r.Read() {
		switch m := f.Msg.(type) {
		case *wire.MsgPing:
			r.Push(wire.NewMsgPong(m.Nonce))
		case *wire.MsgGetHeaders:
			start := 0
			for _, l := range m.BlockLocatorHashes {
				for i := range chain {
					if chain[i].BlockHash() == *l {
						start = i
						break
					}
				}
				if start > 0 {
					break
				}
			}
			ans := wire.NewMsgHeaders()
			for i := start + 1; i < len(chain) && len(ans.Headers) < 2000; i++ {
				ans.AddBlockHeader(&chain[i])
			}
			r.Push(ans)
		}
	}
}

func r4(rng *rand.Rand) string {
	return fmt.Sprintf("10.0.%d.1", rng.IntN(40))
}

func randomChain(rng *rand.Rand) []wire.BlockHeader {
	genesis := consensus.ParamsFor(protocol.Regtest).Genesis.ToWire()
	return append([]wire.BlockHeader{genesis}, chaingen.Generate(3000, chaingen.Options{End: Start, Seed: rng.Uint64()})...)
}

// msgGen makes messages a peer might send, honest and not.
type msgGen struct {
	rng   *rand.Rand
	chain []wire.BlockHeader
	nonce uint64
}

func (g *msgGen) hash() chainhash.Hash {
	var h chainhash.Hash
	for i := range h {
		h[i] = byte(g.rng.Uint32())
	}
	return h
}

func (g *msgGen) next() wire.Message {
	r := g.rng
	switch r.IntN(24) {
	case 0, 1:
		v := wire.NewMsgVersion(wire.NewNetAddressIPPort(nil, 0, 0), wire.NewNetAddressIPPort(nil, 0, 0), r.Uint64(), int32(r.IntN(4000)))
		v.ProtocolVersion = int32(70014 + r.IntN(4))
		v.Services = wire.SFNodeNetwork | wire.SFNodeWitness
		v.UserAgent = "/random/"
		return v
	case 2, 3:
		return wire.NewMsgVerAck()
	case 4:
		return wire.NewMsgPing(r.Uint64())
	case 5:
		return wire.NewMsgPong(r.Uint64() % 4)
	case 6:
		return wire.NewMsgGetAddr()
	case 7:
		m := wire.NewMsgAddr()
		for range r.IntN(50) {
			ip := net.IPv4(byte(1+r.IntN(220)), byte(r.Uint32()), byte(r.Uint32()), 1)
			m.AddAddress(wire.NewNetAddressTimestamp(Start, wire.SFNodeNetwork, ip, 8333))
		}
		return m
	case 8:
		m := wire.NewMsgInv()
		for range r.IntN(20) {
			h := g.hash()
			if r.IntN(2) == 0 {
				h = g.chain[r.IntN(len(g.chain))].BlockHash()
			}
			m.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &h))
		}
		return m
	case 9:
		m := wire.NewMsgGetData()
		for range r.IntN(20) {
			h := g.hash()
			m.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &h))
		}
		return m
	case 10:
		m := wire.NewMsgNotFound()
		h := g.hash()
		m.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &h))
		return m
	case 11, 12:
		m := wire.NewMsgGetHeaders()
		h := g.chain[r.IntN(len(g.chain))].BlockHash()
		m.AddBlockLocatorHash(&h)
		return m
	case 13, 14, 15:
		// A slice of the chain: in order (connecting or not), or shuffled.
		from := r.IntN(len(g.chain) - 1)
		to := min(len(g.chain), from+1+r.IntN(2000))
		m := wire.NewMsgHeaders()
		for i := from; i < to; i++ {
			m.AddBlockHeader(&g.chain[i])
		}
		if r.IntN(4) == 0 && len(m.Headers) > 1 {
			r.Shuffle(len(m.Headers), func(i, j int) { m.Headers[i], m.Headers[j] = m.Headers[j], m.Headers[i] })
		}
		return m
	case 16:
		return wire.NewMsgSendHeaders()
	case 17:
		return wire.NewMsgFeeFilter(int64(r.IntN(100000)))
	case 18:
		return &protocol.MsgSendCmpct{Announce: r.IntN(2) == 0, Version: uint64(1 + r.IntN(2))}
	case 19:
		tx := wire.NewMsgTx(2)
		tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: uint32(r.IntN(4))}, nil, nil))
		tx.AddTxOut(wire.NewTxOut(int64(r.IntN(1e8)), []byte{0x51}))
		return tx
	case 20:
		return &protocol.MsgUnknown{Cmd: "madeup", Payload: make([]byte, r.IntN(300))}
	case 21:
		// A block for one of the chain's headers: the headers are made
		// without bodies, so it never matches its merkle root (a mutated
		// block when asked for, unsolicited otherwise).
		b := &wire.MsgBlock{Header: g.chain[1+r.IntN(len(g.chain)-1)]}
		cb := wire.NewMsgTx(1)
		cb.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: wire.MaxPrevOutIndex}, []byte{1, 2, 3, 4, 5}, nil))
		cb.AddTxOut(wire.NewTxOut(int64(r.IntN(1e8)), []byte{0x51}))
		b.Transactions = []*wire.MsgTx{cb}
		return b
	case 22:
		m := wire.NewMsgGetData()
		for range 1 + r.IntN(20) {
			h := g.chain[r.IntN(len(g.chain))].BlockHash()
			m.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &h))
		}
		return m
	default:
		if r.IntN(2) == 0 {
			return wire.NewMsgWTxIdRelay()
		}
		return wire.NewMsgSendAddrV2()
	}
}

// garbage is bytes no honest peer sends: a frame with a bad checksum, a
// wrong magic, or noise.
func (g *msgGen) garbage() []byte {
	b := make([]byte, 24+g.rng.IntN(200))
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	if g.rng.IntN(2) == 0 {
		f, _ := protocol.EncodeFrame(protocol.Regtest.Magic(), wire.NewMsgPing(1))
		f[len(f)-1] ^= 1
		return f
	}
	return b
}
