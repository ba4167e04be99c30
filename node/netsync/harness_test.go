package netsync_test

// Helpers for the header sync tests: chains generated with chaingen, seen
// as a remote node sees its own chain (index = height, genesis included),
// peers that announce a height in their version message, and a scripted
// remote that answers our getheaders from its chain as Bitcoin Core would.
// Everything goes through the simulator: real frames, framed and decoded
// with the functions node/peer's reader calls.

import (
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

const maxHeadersPerMsg = netsync.MaxHeadersPerMsg

type harness struct {
	*sim.Harness
	t testing.TB
}

func newHarness(t testing.TB, mods ...func(*sim.NodeConfig)) *harness {
	t.Helper()
	return &harness{Harness: sim.NewHarness(t, sim.NodeConfig{}, mods...), t: t}
}

func (h *harness) sync() *netsync.Sync  { return h.N.Sync }
func (h *harness) chain() *chain.Chain  { return h.N.Sync.Chain() }
func (h *harness) state() string        { return h.sync().State() }
func (h *harness) syncPeer() p2p.PeerID { return h.sync().SyncPeer() }

// peerState returns what sync knows of r.
func (h *harness) peerState(r *sim.Remote) netsync.PeerState {
	h.t.Helper()
	ps, ok := h.sync().PeerState(r.ID)
	if !ok {
		h.t.Fatalf("sync has no state for peer %d", r.ID)
	}
	return ps
}

// tracked returns r's request in flight for command, if any.
func tracked(r *sim.Remote, command string) (p2p.RequestInfo, bool) {
	for _, req := range r.Info().Inflight {
		if req.Command == command {
			return req, true
		}
	}
	return p2p.RequestInfo{}, false
}

// testChain is a remote node's main chain: headers[h] is the header at
// height h, headers[0] the regtest genesis.
type testChain struct {
	headers []wire.BlockHeader
	hashes  []chainhash.Hash
	index   map[chainhash.Hash]int32
}

func regtestGenesis() wire.BlockHeader {
	return consensus.ParamsFor(protocol.Regtest).Genesis.ToWire()
}

// newTestChain generates n headers on the regtest genesis, ending an hour
// before end.
func newTestChain(n int, end time.Time, seed uint64) *testChain {
	return makeTestChain(append([]wire.BlockHeader{regtestGenesis()}, chaingen.Generate(n, chaingen.Options{End: end, Seed: seed})...))
}

func makeTestChain(headers []wire.BlockHeader) *testChain {
	c := &testChain{headers: headers, hashes: make([]chainhash.Hash, len(headers)), index: make(map[chainhash.Hash]int32, len(headers))}
	for i := range headers {
		c.hashes[i] = headers[i].BlockHash()
		c.index[c.hashes[i]] = int32(i)
	}
	return c
}

// branch returns a chain sharing c's headers up to height and continuing
// with n new headers (seed makes them differ from c's).
func (c *testChain) branch(height int32, n int, end time.Time, seed uint64) *testChain {
	parent := c.headers[height]
	ext := chaingen.Extend(parent, parent.Timestamp, n, chaingen.Options{End: end, Seed: seed})
	headers := append(append([]wire.BlockHeader(nil), c.headers[:height+1]...), ext...)
	return makeTestChain(headers)
}

func (c *testChain) tip() int32 { return int32(len(c.headers) - 1) }

// msg is a headers message with the headers at heights from..to.
func (c *testChain) msg(from, to int32) *wire.MsgHeaders {
	return headersMsg(c.headers[from : to+1])
}

func headersMsg(hs []wire.BlockHeader) *wire.MsgHeaders {
	m := &wire.MsgHeaders{Headers: make([]*wire.BlockHeader, len(hs))}
	for i := range hs {
		h := hs[i]
		m.Headers[i] = &h
	}
	return m
}

// answer is what a Core node with chain c sends for gh: up to 2000 headers
// after the first locator hash on its chain (after genesis when none is),
// up to and including hashStop.
func (c *testChain) answer(gh *wire.MsgGetHeaders) *wire.MsgHeaders {
	start := int32(0)
	for _, l := range gh.BlockLocatorHashes {
		if h, ok := c.index[*l]; ok {
			start = h
			break
		}
	}
	m := wire.NewMsgHeaders()
	for h := start + 1; h <= c.tip() && len(m.Headers) < maxHeadersPerMsg; h++ {
		m.AddBlockHeader(&c.headers[h])
		if c.hashes[h] == gh.HashStop {
			break
		}
	}
	return m
}

// establishedAt completes the handshake of a new peer announcing lastBlock
// as its height, and returns what we sent it in answer to its verack (where
// a getheaders starts a sync).
func (h *harness) establishedAt(inbound bool, lastBlock int32) (*sim.Remote, []wire.Message) {
	h.t.Helper()
	r := h.Connect(inbound)
	return r, h.Handshake(r, lastBlock)
}

// getHeadersIn returns the getheaders among msgs.
func getHeadersIn(msgs []wire.Message) []*wire.MsgGetHeaders {
	var out []*wire.MsgGetHeaders
	for _, m := range msgs {
		if gh, ok := m.(*wire.MsgGetHeaders); ok {
			out = append(out, gh)
		}
	}
	return out
}

// headersIn returns the headers messages among msgs.
func headersIn(msgs []wire.Message) []*wire.MsgHeaders {
	var out []*wire.MsgHeaders
	for _, m := range msgs {
		if hm, ok := m.(*wire.MsgHeaders); ok {
			out = append(out, hm)
		}
	}
	return out
}

// oneGetHeaders checks that msgs hold exactly one getheaders and returns it.
func oneGetHeaders(t testing.TB, r *sim.Remote, msgs []wire.Message) *wire.MsgGetHeaders {
	t.Helper()
	ghs := getHeadersIn(msgs)
	if len(ghs) != 1 {
		t.Fatalf("peer %d was sent %d getheaders (all: %v), want 1", r.ID, len(ghs), sim.Commands(msgs))
	}
	return ghs[0]
}

// expectGetHeaders reads what r was sent and returns the one getheaders.
func (h *harness) expectGetHeaders(r *sim.Remote) *wire.MsgGetHeaders {
	h.t.Helper()
	return oneGetHeaders(h.t, r, r.Drain())
}

// expectNoGetHeaders reads what r was sent and fails if it held a getheaders.
func (h *harness) expectNoGetHeaders(r *sim.Remote) []wire.Message {
	h.t.Helper()
	msgs := r.Drain()
	if n := len(getHeadersIn(msgs)); n != 0 {
		h.t.Fatalf("peer %d was sent %d getheaders (all: %v), want none", r.ID, n, sim.Commands(msgs))
	}
	return msgs
}

// locatorOf returns gh's locator as values.
func locatorOf(gh *wire.MsgGetHeaders) []chainhash.Hash {
	out := make([]chainhash.Hash, len(gh.BlockLocatorHashes))
	for i, l := range gh.BlockLocatorHashes {
		out[i] = *l
	}
	return out
}

// serveSync plays a remote node with chain c: starting with gh (a
// getheaders we sent r), it answers every getheaders r is sent until we
// send no more, and returns how many headers messages it delivered.
func (h *harness) serveSync(r *sim.Remote, c *testChain, gh *wire.MsgGetHeaders) int {
	h.t.Helper()
	n := 0
	for gh != nil {
		if n > 1000 {
			h.t.Fatalf("peer %d: more than 1000 getheaders rounds", r.ID)
		}
		r.Send(c.answer(gh))
		n++
		if !r.Alive() {
			return n
		}
		ghs := getHeadersIn(r.Drain())
		switch len(ghs) {
		case 0:
			gh = nil
		case 1:
			gh = ghs[0]
		default:
			h.t.Fatalf("peer %d was sent %d getheaders at once", r.ID, len(ghs))
		}
	}
	return n
}

// expectChain checks that our main chain is c up to height.
func (h *harness) expectChain(c *testChain, height int32) {
	h.t.Helper()
	ch := h.chain()
	if got := ch.Height(); got != height {
		h.t.Fatalf("chain height %d, want %d", got, height)
	}
	for _, ht := range []int32{0, height / 2, height - 1, height} {
		if ht < 0 {
			continue
		}
		if got := ch.HashAt(ht); got != c.hashes[ht] {
			h.t.Fatalf("hash at %d is %s, want %s", ht, got, c.hashes[ht])
		}
	}
	if _, tip, _ := ch.Tip(); tip != c.hashes[height] {
		h.t.Fatalf("tip %s, want %s", tip, c.hashes[height])
	}
}

// expectDiscouraged checks that r's address is discouraged (not banned by
// the operator) with reason.
func (h *harness) expectDiscouraged(r *sim.Remote, reason string) {
	h.t.Helper()
	for _, ban := range h.N.Snapshot().Bans {
		if ban.Addr == r.Addr.Addr().String() {
			if ban.Manual || ban.Reason != reason {
				h.t.Fatalf("ban of %s = %+v, want a discouragement for %q", r.Addr.Addr(), ban, reason)
			}
			return
		}
	}
	h.t.Fatalf("%s is not discouraged", r.Addr.Addr())
}

// banned reports whether r's address is refused now.
func (h *harness) banned(r *sim.Remote) bool {
	for _, ban := range h.N.Snapshot().Bans {
		if ban.Addr == r.Addr.Addr().String() {
			return true
		}
	}
	return false
}

// meetsTarget reports whether w's hash meets the target of its own bits.
func meetsTarget(w *wire.BlockHeader) bool {
	t, neg, over := consensus.CompactToU256(w.Bits)
	if neg || over {
		return false
	}
	hash := w.BlockHash()
	return consensus.HashToU256(&hash).Cmp(t) <= 0
}

// grind changes w's nonce until its hash meets the target of target bits
// (which may differ from w.Bits, to make a header that meets a harder
// target than it claims, or vice versa).
func grind(t testing.TB, w *wire.BlockHeader, target uint32) {
	t.Helper()
	claimed := w.Bits
	for n := 0; n < 1<<20; n++ {
		w.Bits = target
		ok := meetsTarget(w)
		w.Bits = claimed
		if ok {
			return
		}
		w.Nonce++
	}
	t.Fatalf("no nonce meets bits %08x in 2^20 tries", target)
}

// headerSlice is a branch for consensus.Ancestors: index = height.
type headerSlice []consensus.Header

func (s headerSlice) HeaderAt(h int32) *consensus.Header { return &s[h] }

// mineOn extends chain (index = height, genesis first) with n headers
// stamped start, start+spacing, ..., each carrying the bits params require
// there (so with retargeting params the difficulty follows the spacing)
// and ground to meet them. chaingen cannot do this: it always uses the pow
// limit.
func mineOn(params *consensus.Params, chain []consensus.Header, n int, start time.Time, spacing time.Duration, seed byte) []consensus.Header {
	out := append([]consensus.Header(nil), chain...)
	for i := range n {
		height := int32(len(out))
		parent := &out[height-1]
		h := consensus.Header{Version: 4, PrevBlock: parent.Hash(), Timestamp: uint32(start.Add(time.Duration(i) * spacing).Unix())}
		h.MerkleRoot[0], h.MerkleRoot[1], h.MerkleRoot[2] = seed, byte(height), byte(height>>8)
		ctx := consensus.Context{Params: params, Height: height, Parent: parent, ParentHash: h.PrevBlock, Ancestors: headerSlice(out)}
		h.Bits = consensus.NextWorkRequired(&ctx, &h)
		target, _, _ := consensus.CompactToU256(h.Bits)
		for {
			hash := h.Hash()
			if consensus.HashToU256(&hash).Cmp(target) <= 0 {
				break
			}
			h.Nonce++
		}
		out = append(out, h)
	}
	return out
}

// wireChain converts a consensus chain to a testChain.
func wireChain(hs []consensus.Header) *testChain {
	ws := make([]wire.BlockHeader, len(hs))
	for i := range hs {
		ws[i] = hs[i].ToWire()
	}
	return makeTestChain(ws)
}

// syncedHarness is a node synced to a chain of n headers from an outbound
// peer announcing n, which it returns along with the chain.
func syncedHarness(t *testing.T, n int, seed uint64, mods ...func(*sim.NodeConfig)) (*harness, *testChain, *sim.Remote) {
	t.Helper()
	h := newHarness(t, mods...)
	c := newTestChain(n, h.Now(), seed)
	s, sent := h.establishedAt(false, int32(n))
	h.serveSync(s, c, oneGetHeaders(t, s, sent))
	h.expectChain(c, int32(n))
	if h.state() != netsync.StateSynced {
		t.Fatalf("sync state %q after serving the whole chain, want %q", h.state(), netsync.StateSynced)
	}
	return h, c, s
}

// answerTipCheck answers the getheaders a peer established after our sync
// is sent, as a peer with nothing beyond our tip's parent does. The
// locator starts at our tip's parent, as Core's, so that a peer with our
// tip answers with it.
func (h *harness) answerTipCheck(r *sim.Remote, sent []wire.Message) {
	h.t.Helper()
	gh := oneGetHeaders(h.t, r, sent)
	if got, want := locatorOf(gh), h.chain().LocatorAt(h.chain().Height()-1); !slices.Equal(got, want) {
		h.t.Fatalf("tip check locator %v, want ours from the tip's parent %v", got, want)
	}
	r.Send(wire.NewMsgHeaders())
	if _, ok := tracked(r, wire.CmdGetHeaders); ok {
		h.t.Fatalf("peer %d: tip check still tracked after the answer", r.ID)
	}
}
