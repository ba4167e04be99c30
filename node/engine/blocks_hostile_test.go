package engine

// Hostile block input through real sockets: a raw peer sends block
// messages that are garbage, that declare absurd counts, that carry
// witness data their header does not commit to, or that nobody asked
// for. The node's reader decodes the real bytes, the core judges them,
// the block pipeline checks and stores; each test then looks at what the
// node kept: the drop and its reason, the block store, the inbound budget.

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

// blockNode is a regtest engine with a block store, listening on loopback.
func blockNode(t *testing.T) (*running, string) {
	t.Helper()
	return listening(t, Config{DataDir: t.TempDir()})
}

// storedHashes lists every block the engine's store holds, read from the
// store's index itself (not from the core's idea of what it stored).
func storedHashes(t *testing.T, e *Engine) []chainhash.Hash {
	t.Helper()
	e.blocksMu.RLock()
	defer e.blocksMu.RUnlock()
	if e.blocks == nil || e.blocksClosed {
		t.Fatal("the engine has no open block store")
	}
	var hs []chainhash.Hash
	if err := e.blocks.Entries(func(en blockstore.Entry) error {
		hs = append(hs, en.Hash)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return hs
}

// onlyGenesisStored fails unless the store holds the genesis block alone
// and no block is connected.
func onlyGenesisStored(t *testing.T, e *Engine) {
	t.Helper()
	genesis := e.cfg.Params.GenesisHash
	if hs := storedHashes(t, e); len(hs) != 1 || hs[0] != genesis {
		t.Errorf("the block store holds %d blocks %v, want the genesis block %s alone", len(hs), hs, genesis)
	}
	if b := e.Snapshot().Status.Blocks; b != 0 {
		t.Errorf("Status.Blocks = %d, want 0", b)
	}
}

// dropOf waits for the drop of the peer whose local address is p's and
// returns it.
func dropOf(t *testing.T, e *Engine, p *rawPeer) Disconnect {
	t.Helper()
	addr := p.nc.LocalAddr().String()
	var d Disconnect
	waitForWithin(t, 30*time.Second, "the drop of "+addr, func() bool {
		for _, x := range e.Snapshot().Disconnects {
			if x.Addr == addr {
				d = x
				return true
			}
		}
		return false
	})
	return d
}

// discouraged reports whether loopback is discouraged (not banned by the
// operator): what a protocol violation earns.
func discouraged(e *Engine) bool {
	for _, b := range e.Snapshot().Bans {
		if b.Addr == "127.0.0.1" && !b.Manual {
			return true
		}
	}
	return false
}

// undiscourage lifts the discouragement a violation put on loopback, so
// that the next raw peer (from the same address) is admitted.
func undiscourage(t *testing.T, e *Engine) {
	t.Helper()
	if found, err := e.Unban(t.Context(), "127.0.0.1"); err != nil || !found {
		t.Fatalf("Unban(127.0.0.1) = %v, %v: the violation did not discourage the address", found, err)
	}
}

// inboundDrained waits until the inbound queues and their shared pool hold
// nothing: what a dropped peer's messages and reservations held is given
// back, and nothing was kept.
func inboundDrained(t *testing.T, e *Engine) {
	t.Helper()
	waitFor(t, "the inbound queues and pool to drain", func() bool {
		st := e.Snapshot().Status
		return st.InQueuePool == 0 && st.InQueueBytes == 0 && e.pool.Used() == 0
	})
}

// peakPool samples the inbound pool's charge until stop is called and
// returns the largest value seen. A sample can miss a short peak, but
// never invents one: a peak above the bound is a real overcharge.
func peakPool(e *Engine) (stop func() int) {
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if u := int64(e.pool.Used()); u > peak.Load() {
				peak.Store(u)
			}
			select {
			case <-done:
				return
			default:
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	return func() int {
		close(done)
		<-finished
		return int(peak.Load())
	}
}

// blockFrame frames payload as a block message on network magic, with a
// valid checksum, whatever the payload holds.
func blockFrame(t *testing.T, magic wire.BitcoinNet, payload []byte) []byte {
	t.Helper()
	b, err := protocol.AppendFrame(nil, magic, wire.CmdBlock, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// aHeader is an arbitrary 80-byte block header, the start of every
// hostile block payload below.
func aHeader() []byte {
	h := wire.BlockHeader{Version: 1, Timestamp: time.Unix(1_700_000_000, 0), Bits: 0x207fffff, Nonce: 7}
	var buf bytes.Buffer
	h.Serialize(&buf)
	return buf.Bytes()
}

// TestGarbageBlockDropsThePeer: a block message of 4,000,000 random bytes
// (the largest payload allowed, with a valid checksum) drops its peer as a
// protocol violation whose reason names the block decoding problem; the
// 4 MB the reader reserved for it is given back, nothing is stored, and
// the node goes on serving other peers.
func TestGarbageBlockDropsThePeer(t *testing.T) {
	r, addr := blockNode(t)
	garbage := make([]byte, protocol.MaxPayload)
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	p := dialRaw(t, addr)
	p.handshake(901)
	p.discard()
	if err := p.write(blockFrame(t, protocol.Regtest.Magic(), garbage)); err != nil {
		t.Fatalf("writing the garbage block: %v", err)
	}
	d := dropOf(t, r.e, p)
	t.Logf("dropped: %s: %s", d.Kind, d.Reason)
	if d.Kind != DropViolation || !strings.Contains(d.Reason, `"block"`) || !strings.Contains(d.Reason, "malformed") ||
		!strings.Contains(d.Reason, "4000000 bytes") {
		t.Errorf("dropped as %s: %q, want a protocol violation naming the malformed 4000000-byte block", d.Kind, d.Reason)
	}
	if !discouraged(r.e) {
		t.Error("the violation did not discourage the address")
	}
	inboundDrained(t, r.e)
	onlyGenesisStored(t, r.e)

	// The node is alive and admits the next peer.
	undiscourage(t, r.e)
	q := dialRaw(t, addr)
	q.handshake(902)
	q.send(wire.NewMsgPing(5))
	if pong, ok := q.readUntil(wire.CmdPong).(*wire.MsgPong); !ok || pong.Nonce != 5 {
		t.Fatalf("after the garbage block, a new peer got %v for its ping", pong)
	}
}

// TestAbsurdBlockCountsDropThePeer: block payloads whose counts promise far
// more than the bytes that follow (4,294,967,295 transactions after the
// header; one transaction declaring 4,294,967,295 inputs, with and without
// the segwit marker) are refused before anything is decoded: the peer is
// dropped naming the block and the count that does not fit, the node never
// charges the inbound pool more than the bytes the peer sent, and the
// charge is given back.
func TestAbsurdBlockCountsDropThePeer(t *testing.T) {
	r, addr := blockNode(t)
	huge := []byte{0xfe, 0xff, 0xff, 0xff, 0xff} // CompactSize 0xffffffff
	txVersion := []byte{2, 0, 0, 0}
	cases := []struct {
		name    string
		payload []byte
		want    []string // in the drop reason
	}{
		{"transaction count", concat(aHeader(), huge), []string{"4294967295 transactions"}},
		// A transaction needs at least 51 bytes, so a few zeros follow
		// the input count: without them the transaction count is what
		// does not fit.
		{"input count", concat(aHeader(), []byte{1}, txVersion, huge, make([]byte, 64)), []string{"4294967295 inputs"}},
		{"input count after the segwit marker", concat(aHeader(), []byte{1}, txVersion, []byte{0, 1}, huge, make([]byte, 64)), []string{"4294967295 inputs"}},
		// 2 MB of zeros after the count: the payload's reservation is
		// charged to the shared pool (it is above a queue's floor), so the
		// test sees the charge go back.
		{"input count, padded", concat(aHeader(), []byte{1}, txVersion, huge, make([]byte, 2<<20)), []string{"4294967295 inputs"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := dialRaw(t, addr)
			p.handshake(uint64(910 + i))
			p.discard()
			stop := peakPool(r.e)
			if err := p.write(blockFrame(t, protocol.Regtest.Magic(), c.payload)); err != nil {
				t.Fatalf("writing the block: %v", err)
			}
			d := dropOf(t, r.e, p)
			inboundDrained(t, r.e)
			peak := stop()
			t.Logf("%d-byte payload: dropped as %s: %s; pool peak seen %d", len(c.payload), d.Kind, d.Reason, peak)
			if d.Kind != DropViolation || !strings.Contains(d.Reason, `"block"`) || !strings.Contains(d.Reason, "malformed") {
				t.Errorf("dropped as %s: %q, want a protocol violation naming the malformed block", d.Kind, d.Reason)
			}
			for _, w := range c.want {
				if !strings.Contains(d.Reason, w) {
					t.Errorf("drop reason %q does not name the %s", d.Reason, w)
				}
			}
			// What the reader may reserve is the payload it read: the
			// counts it never believed add nothing.
			if limit := p2p.PayloadCost(len(c.payload)); peak > limit {
				t.Errorf("the inbound pool was charged %d bytes for a %d-byte payload (at most %d)", peak, len(c.payload), limit)
			}
			onlyGenesisStored(t, r.e)
			undiscourage(t, r.e)
		})
	}
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// TestUnsolicitedBlocksAreNotKept: blocks nobody asked for are decoded,
// counted and dropped: a block whose header the node has (on its best
// chain, from a peer that offers no blocks, so it is never asked for) is
// not stored or connected, and neither is a 1 MB block the node knows
// nothing of; the inbound budget is all given back and no block memory is
// pending. The sender is not punished (Core ignores unrequested blocks).
func TestUnsolicitedBlocksAreNotKept(t *testing.T) {
	r, addr := blockNode(t)
	gen, err := blockgen.Generate(blockgen.Options{Seed: 3, Blocks: 2, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	p := dialRaw(t, addr)
	// A version without NODE_NETWORK: the node takes its headers but
	// never asks it for a block.
	v := rawVersion(920, 2)
	v.Services = wire.SFNodeWitness
	p.send(v, wire.NewMsgWTxIdRelay(), wire.NewMsgSendAddrV2())
	p.readUntil(wire.CmdVerAck)
	p.send(wire.NewMsgVerAck())
	p.discard()
	p.send(headersMsg([]wire.BlockHeader{gen.Blocks[0].Header, gen.Blocks[1].Header}))
	waitFor(t, "the two headers", func() bool { return r.e.Snapshot().Status.Headers == 2 })

	// Block 1, valid and on the best header chain, but not asked for.
	if err := p.write(blockFrame(t, protocol.Regtest.Magic(), gen.Raw(0))); err != nil {
		t.Fatal(err)
	}
	// A 1 MB block of an unknown chain: its coinbase pays to a 1 MB
	// script (it need not be valid: it is never checked).
	big := gen.Blocks[1].Copy()
	big.Header.PrevBlock = chainhash.Hash{1}
	big.Transactions[0].TxOut[0].PkScript = bytes.Repeat([]byte{0x6a}, 1<<20)
	var buf bytes.Buffer
	if err := big.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	if err := p.write(blockFrame(t, protocol.Regtest.Magic(), buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both blocks counted as unsolicited", func() bool {
		bs := r.e.Snapshot().Status.Sync.Blocks
		return bs != nil && bs.Unsolicited == 2
	})
	inboundDrained(t, r.e)
	st := r.e.Snapshot().Status
	if bs := st.Sync.Blocks; bs.PendingBytes != 0 || bs.Storing != 0 || bs.StoredAhead != 0 || bs.Received != 0 || bs.InFlight != 0 {
		t.Errorf("block download after unsolicited blocks: %+v", *bs)
	}
	onlyGenesisStored(t, r.e)
	for _, h := range []chainhash.Hash{gen.Blocks[0].BlockHash(), big.BlockHash()} {
		if _, err := r.e.RawBlock(t.Context(), h.String()); err == nil {
			t.Errorf("unsolicited block %s readable from the node", h)
		}
	}
	if _, ok := establishedPeer(r.e.Snapshot(), Inbound); !ok {
		t.Errorf("the sender of unsolicited blocks was dropped: %+v", r.e.Snapshot().Disconnects)
	}
}

// netPeer is a raw peer on any network (rawPeer's helpers speak regtest).
type netPeer struct {
	*rawPeer
	magic wire.BitcoinNet
}

func (p netPeer) encode(msgs ...wire.Message) ([]byte, error) {
	var b []byte
	for _, m := range msgs {
		f, err := protocol.EncodeFrame(p.magic, m)
		if err != nil {
			return nil, err
		}
		b = append(b, f...)
	}
	return b, nil
}

// sendMsgs writes msgs; it is safe on any goroutine (it reports instead of
// failing the test).
func (p netPeer) sendMsgs(msgs ...wire.Message) error {
	b, err := p.encode(msgs...)
	if err != nil {
		return err
	}
	return p.write(b)
}

func (p netPeer) readMsg(timeout time.Duration) (wire.Message, error) {
	p.nc.SetReadDeadline(time.Now().Add(timeout))
	f, err := protocol.ReadFrame(p.nc, p.magic)
	if err != nil {
		return nil, err
	}
	return protocol.Decode(f.Command, f.Payload)
}

func (p netPeer) handshake(nonce uint64, lastBlock int32) {
	p.t.Helper()
	if err := p.sendMsgs(rawVersion(nonce, lastBlock), wire.NewMsgWTxIdRelay(), wire.NewMsgSendAddrV2()); err != nil {
		p.t.Fatal(err)
	}
	for {
		m, err := p.readMsg(10 * time.Second)
		if err != nil {
			p.t.Fatalf("waiting for verack: %v", err)
		}
		if m.Command() == wire.CmdVerAck {
			break
		}
	}
	if err := p.sendMsgs(wire.NewMsgVerAck()); err != nil {
		p.t.Fatal(err)
	}
}

// servedChain is a chain as a remote node holds it: blocks 0..n (raw),
// their headers, the height of each hash.
type servedChain struct {
	raw     [][]byte
	headers []wire.BlockHeader
	height  map[chainhash.Hash]int
}

func newServedChain(t *testing.T, raw [][]byte) *servedChain {
	t.Helper()
	c := &servedChain{raw: raw, height: make(map[chainhash.Hash]int, len(raw))}
	for i, b := range raw {
		var h wire.BlockHeader
		if err := h.Deserialize(bytes.NewReader(b[:80])); err != nil {
			t.Fatal(err)
		}
		c.headers = append(c.headers, h)
		c.height[h.BlockHash()] = i
	}
	return c
}

// newGeneratedChain is the regtest genesis block followed by the blocks
// blockgen generates with opts.
func newGeneratedChain(t *testing.T, opts blockgen.Options) *servedChain {
	t.Helper()
	gen, err := blockgen.Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	raw := [][]byte{serialize(t, protocol.Regtest.Params().GenesisBlock)}
	for i := range gen.Blocks {
		raw = append(raw, gen.Raw(i))
	}
	return newServedChain(t, raw)
}

// newMainnetChain is real mainnet blocks 0..n.
func newMainnetChain(t *testing.T, n int) *servedChain {
	t.Helper()
	return newServedChain(t, mainnetdata.BtcdBlocks(t)[:n+1])
}

// headersAfter answers a getheaders as a node with this chain does: the
// headers after the locator's first known hash, at most 2,000.
func (c *servedChain) headersAfter(gh *wire.MsgGetHeaders) *wire.MsgHeaders {
	start := 0
	for _, l := range gh.BlockLocatorHashes {
		if h, ok := c.height[*l]; ok {
			start = h
			break
		}
	}
	m := wire.NewMsgHeaders()
	for i := start + 1; i < len(c.headers) && i <= start+2000; i++ {
		m.AddBlockHeader(&c.headers[i])
	}
	return m
}

// serve answers p's getheaders from c, its pings, and its getdata with
// block(height) for each block asked for (nil: nothing sent), until the
// connection ends.
func (c *servedChain) serve(p netPeer, block func(height int) []byte) {
	for {
		m, err := p.readMsg(time.Minute)
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *wire.MsgGetHeaders:
			err = p.sendMsgs(c.headersAfter(m))
		case *wire.MsgPing:
			err = p.sendMsgs(wire.NewMsgPong(m.Nonce))
		case *wire.MsgGetData:
			var out []byte
			for _, iv := range m.InvList {
				h, ok := c.height[iv.Hash]
				if !ok || (iv.Type != wire.InvTypeWitnessBlock && iv.Type != wire.InvTypeBlock) {
					continue
				}
				if raw := block(h); raw != nil {
					out, err = protocol.AppendFrame(out, p.magic, wire.CmdBlock, raw)
					if err != nil {
						return
					}
				}
			}
			if len(out) > 0 {
				err = p.write(out)
			}
		}
		if err != nil {
			return
		}
	}
}

// TestWitnessBeforeSegwitBlamesThePeer: on mainnet (minimum chain work
// zeroed, so 2,000 real headers are enough), a peer serves the real
// headers, then block 1 with witness data added to its coinbase input.
// The txids and so the merkle root and hash are unchanged, but block 1 is
// long before segwit and commits to no witness: the block is not the one
// its header names (unexpected-witness, a mutation rule). The peer is
// dropped as a protocol violation naming the block and the rule; the
// header stays, nothing is stored, the block is not marked invalid; an
// honest peer then serves the real blocks and they are stored byte for
// byte.
func TestWitnessBeforeSegwitBlamesThePeer(t *testing.T) {
	const n = 2000
	c := newMainnetChain(t, n)
	params := consensus.ParamsFor(protocol.Mainnet)
	params.MinimumChainWork = consensus.U256{}
	r := startEngine(t, Config{
		Network: protocol.Mainnet, Params: params, DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		// No discovery or dialling out: the raw peers are the only ones.
		LookupHost: func(context.Context, string) ([]string, error) { return nil, errors.New("no DNS in this test") },
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("no dialling out in this test")
		},
	})
	var addr string
	waitFor(t, "the engine to listen", func() bool { addr = r.e.Snapshot().Status.Listen; return addr != "" })
	magic := protocol.Mainnet.Magic()

	// The mutated block 1: a 32-byte witness item on the coinbase input.
	var b1 wire.MsgBlock
	if err := b1.Deserialize(bytes.NewReader(c.raw[1])); err != nil {
		t.Fatal(err)
	}
	b1.Transactions[0].TxIn[0].Witness = wire.TxWitness{make([]byte, 32)}
	var mut bytes.Buffer
	if err := b1.Serialize(&mut); err != nil {
		t.Fatal(err)
	}
	if b1.BlockHash() != c.headers[1].BlockHash() || bytes.Equal(mut.Bytes(), c.raw[1]) {
		t.Fatal("the mutated block 1 must keep the header and differ in bytes")
	}
	hash1 := c.headers[1].BlockHash()

	hostile := netPeer{dialRaw(t, addr), magic}
	hostile.handshake(930, n)
	var sentMutated atomic.Bool
	go c.serve(hostile, func(h int) []byte {
		if h == 1 && !sentMutated.Swap(true) {
			return mut.Bytes()
		}
		return nil // it holds back everything else
	})
	waitForWithin(t, 30*time.Second, "the mainnet headers", func() bool { return r.e.Snapshot().Status.Headers == n })
	d := dropOf(t, r.e, hostile.rawPeer)
	t.Logf("hostile peer dropped: %s: %s", d.Kind, d.Reason)
	if !sentMutated.Load() {
		t.Fatal("the node never asked for block 1")
	}
	if d.Kind != DropViolation || !strings.Contains(d.Reason, "mutated block 1 "+hash1.String()) ||
		!strings.Contains(d.Reason, "unexpected-witness") || !strings.Contains(d.Reason, "witness-commitment") {
		t.Errorf("dropped as %s: %q, want a violation naming mutated block 1 %s and unexpected-witness", d.Kind, d.Reason, hash1)
	}
	if !discouraged(r.e) {
		t.Error("the peer that sent the mutated block was not discouraged")
	}
	s := r.e.Snapshot()
	if s.Status.Headers != n {
		t.Errorf("headers after the mutated block: %d, want %d (the header is good)", s.Status.Headers, n)
	}
	if rule, failed := s.FailedBlocks[hash1]; failed {
		t.Errorf("block 1 marked invalid (%s): only its sender lied", rule)
	}
	if bs := s.Status.Sync.Blocks; bs == nil || bs.Mutated != 1 || bs.Failed != 0 {
		t.Errorf("block status after the mutated block: %+v", bs)
	}
	inboundDrained(t, r.e)
	onlyGenesisStored(t, r.e)

	// An honest peer: it asks for our headers from its tip (so the node
	// learns it has the whole chain) and serves every block.
	undiscourage(t, r.e)
	honest := netPeer{dialRaw(t, addr), magic}
	honest.handshake(931, n)
	tip := c.headers[n].BlockHash()
	if err := honest.sendMsgs(&wire.MsgGetHeaders{ProtocolVersion: protocol.ProtocolVersion, BlockLocatorHashes: []*chainhash.Hash{&tip}}); err != nil {
		t.Fatal(err)
	}
	go c.serve(honest, func(h int) []byte { return c.raw[h] })
	waitForWithin(t, 60*time.Second, "every block from the honest peer", func() bool { return r.e.Snapshot().Status.Blocks == n })
	for h := 1; h <= n; h++ {
		raw, err := r.e.RawBlock(t.Context(), c.headers[h].BlockHash().String())
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		if !bytes.Equal(raw, c.raw[h]) {
			t.Fatalf("block %d stored as %d bytes that differ from the real %d", h, len(raw), len(c.raw[h]))
		}
	}
	// Connected blocks may still wait for the store's next sync (the
	// connector needs them written, not durable); then all are committed.
	waitFor(t, "every block committed to the store's index", func() bool { return len(storedHashes(t, r.e)) == n+1 })
}
