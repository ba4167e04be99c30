package netsync_test

// Block download and serving through the simulator: scripted peers send
// real frames that the node's reader path decodes (block hashes, txids and
// wtxids included), the sim plays the block store, and the node's block
// rules run in its StoreBlock jobs.

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/internal/sim"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
)

// blockChain is a generated regtest block chain seen as a remote node sees
// its own: headers for getheaders, blocks by hash for getdata.
type blockChain struct {
	*testChain
	raw map[chainhash.Hash][]byte
}

func newBlockChain(t testing.TB, n int, now time.Time) *blockChain {
	t.Helper()
	gen, err := blockgen.Generate(blockgen.Options{Seed: 7, Blocks: n, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	headers := []wire.BlockHeader{regtestGenesis()}
	raw := make(map[chainhash.Hash][]byte, n)
	for i, b := range gen.Blocks {
		headers = append(headers, b.Header)
		raw[b.BlockHash()] = gen.Raw(i)
	}
	return &blockChain{testChain: makeTestChain(headers), raw: raw}
}

// block decodes the block with hash as a block message.
func (c *blockChain) block(t testing.TB, hash chainhash.Hash) *wire.MsgBlock {
	t.Helper()
	var b wire.MsgBlock
	if err := b.Deserialize(bytes.NewReader(c.raw[hash])); err != nil {
		t.Fatal(err)
	}
	return &b
}

// How a scripted block peer answers getdata.
type serveMode int

const (
	serveAll      serveMode = iota // every block, in reverse order of asking
	serveNothing                   // accepts getdata and never answers (a staller)
	serveMutated                   // blocks whose transactions do not match the header
	serveNotFound                  // notfound for every block
)

// blockPeer is a scripted peer with a block chain.
type blockPeer struct {
	r     *sim.Remote
	c     *blockChain
	mode  serveMode
	asked []chainhash.Hash // every block it was asked for, in order
}

// respond answers what the peer was sent: headers from its chain, pongs,
// and getdata by its mode. It reports whether it was sent anything.
func (p *blockPeer) respond(t testing.TB) bool {
	t.Helper()
	if p.r.Closed() {
		return false
	}
	msgs := p.r.Drain()
	for _, m := range msgs {
		switch m := m.(type) {
		case *wire.MsgGetHeaders:
			p.r.Send(p.c.answer(m))
		case *wire.MsgPing:
			p.r.Send(wire.NewMsgPong(m.Nonce))
		case *wire.MsgGetData:
			var hashes []chainhash.Hash
			for _, iv := range m.InvList {
				hashes = append(hashes, iv.Hash)
			}
			p.asked = append(p.asked, hashes...)
			switch p.mode {
			case serveAll:
				// Out of order: the node must store them as they come
				// and connect them in order.
				for _, h := range slices.Backward(hashes) {
					p.r.Send(p.c.block(t, h))
				}
			case serveMutated:
				for _, h := range hashes {
					b := p.c.block(t, h)
					// A changed coinbase keeps the header (and so the
					// hash) but breaks the merkle root.
					b.Transactions[0].TxIn[0].Sequence ^= 1
					p.r.Send(b)
				}
			case serveNotFound:
				nf := wire.NewMsgNotFound()
				nf.InvList = m.InvList
				p.r.Send(nf)
			}
		}
		if p.r.Closed() {
			break
		}
	}
	return len(msgs) > 0
}

// blockHarness is a node that downloads blocks, with a bound on pending
// block memory low enough for small regtest blocks to reach it.
func newBlockHarness(t testing.TB, maxPending int) *harness {
	return newHarness(t, func(c *sim.NodeConfig) {
		c.Blocks = &netsync.BlockStart{MaxPendingBytes: maxPending}
	})
}

// connectBlockPeers connects one outbound block peer per mode, all with
// chain c.
func (h *harness) connectBlockPeers(c *blockChain, modes ...serveMode) []*blockPeer {
	var peers []*blockPeer
	for _, m := range modes {
		r, sent := h.establishedAt(false, c.tip())
		peers = append(peers, &blockPeer{r: r, c: c, mode: m})
		// What the handshake's answer held (a getheaders starting the
		// sync) is answered like the rest.
		for _, gh := range getHeadersIn(sent) {
			r.Send(c.answer(gh))
		}
	}
	return peers
}

// pump lets the peers answer until none is sent anything more, checking
// after every round that block memory stays within bound (when positive).
func (h *harness) pump(peers []*blockPeer, bound int) {
	h.t.Helper()
	for range 100_000 {
		moved := false
		for _, p := range peers {
			if p.respond(h.t) {
				moved = true
			}
		}
		if bound > 0 {
			if st := h.sync().StatusAt(h.Now()).Blocks; st.PendingBytes > bound {
				h.t.Fatalf("%d bytes of blocks pending, bound %d", st.PendingBytes, bound)
			}
		}
		if !moved {
			return
		}
	}
	h.t.Fatal("the peers never stopped talking")
}

// checkAllStored checks the node connected every block of c and stored
// each as c's bytes.
func (h *harness) checkAllStored(c *blockChain) {
	h.t.Helper()
	if got := h.sync().Connected(); got != c.tip() {
		h.t.Fatalf("connected %d, want %d; status %+v", got, c.tip(), *h.sync().StatusAt(h.Now()).Blocks)
	}
	for hash, raw := range c.raw {
		if !bytes.Equal(h.N.Blocks[hash], raw) {
			h.t.Fatalf("block %s stored as %d bytes, want its %d", hash, len(h.N.Blocks[hash]), len(raw))
		}
	}
}

func askedCount(peers []*blockPeer) []int {
	var n []int
	for _, p := range peers {
		n = append(n, len(p.asked))
	}
	return n
}

// TestBlocksFromThreePeers: the window is spread over every block peer;
// blocks arriving out of order are stored as they come and connect in
// order; every block ends up stored byte for byte, and pending block
// memory stays within its bound all along.
func TestBlocksFromThreePeers(t *testing.T) {
	h := newBlockHarness(t, 0)
	c := newBlockChain(t, 300, h.Now())
	peers := h.connectBlockPeers(c, serveAll, serveAll, serveAll)
	h.pump(peers, netsync.MaxBlockBytesPending)
	h.checkAllStored(c)
	for i, p := range peers {
		if len(p.asked) == 0 {
			t.Errorf("peer %d was asked for no block (asked %v)", i, askedCount(peers))
		}
	}
	total := 0
	for _, n := range askedCount(peers) {
		total += n
	}
	if total != int(c.tip()) {
		t.Errorf("%d blocks asked in all for %d blocks: some were asked twice", total, c.tip())
	}
	if st := h.sync().StatusAt(h.Now()).Blocks; st.InFlight != 0 || st.PendingBytes != 0 || st.StoredAhead != 0 {
		t.Errorf("after the download: %+v", *st)
	}
	if err := h.sync().CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestBlockMemoryBound: with the pending bound set to a few blocks and
// peers answering out of order, the memory held by blocks waiting for the
// store never passes the bound plus one block per peer, and the download
// still completes.
func TestBlockMemoryBound(t *testing.T) {
	// The store answers after a delay, so received blocks pile up.
	const bound = 8 << 10
	h := newBlockHarness(t, bound)
	h.S.Latency = 5 * time.Millisecond
	c := newBlockChain(t, 200, h.Now())
	peers := h.connectBlockPeers(c, serveAll, serveAll, serveAll)
	maxCost := 0
	for _, raw := range c.raw {
		maxCost = max(maxCost, p2p.PayloadCost(len(raw))*4) // generous: decoded form and hashes
	}
	limit := bound + len(peers)*maxCost
	highest := 0
	for range 10_000 {
		for _, p := range peers {
			p.respond(t)
		}
		st := h.sync().StatusAt(h.Now()).Blocks
		highest = max(highest, st.PendingBytes)
		if st.PendingBytes > limit {
			t.Fatalf("%d bytes of blocks pending, bound %d plus one block per peer (%d)", st.PendingBytes, bound, limit)
		}
		if st.Connected == c.tip() {
			break
		}
		h.S.Run(time.Millisecond)
	}
	h.checkAllStored(c)
	t.Logf("peak pending %d bytes (bound %d, with one block per peer %d)", highest, bound, limit)
	if highest == 0 {
		t.Fatal("nothing was ever pending: the test does not test the bound")
	}
}

// TestBlockStallerReplaced: a peer that accepts getdata and never answers
// holds the window's first blocks; once the others have fetched the rest
// of the window it is dropped as a staller after the stall timeout, the
// watcher is told which peer stalled, and its blocks come from the others.
func TestBlockStallerReplaced(t *testing.T) {
	h := newBlockHarness(t, 0)
	c := newBlockChain(t, netsync.BlockDownloadWindow+100, h.Now())
	peers := h.connectBlockPeers(c, serveNothing, serveAll, serveAll)
	staller := peers[0]
	h.pump(peers, 0)
	if len(staller.asked) == 0 || h.sync().Connected() != 0 {
		t.Fatalf("staller asked %d blocks, connected %d: the staller should hold the window's first block", len(staller.asked), h.sync().Connected())
	}
	h.Advance(netsync.StallTimeoutMin + time.Second)
	h.Tick()
	d := h.ExpectDropped(staller.r, p2p.DropStall, "block download stalled")
	t.Logf("staller dropped: %s", d.Reason)
	found := false
	for _, ev := range h.N.Events {
		if ev.Kind == p2p.EventStall && ev.Peer == staller.r.ID && strings.Contains(ev.Text, "waited") {
			found = true
		}
	}
	if !found {
		t.Errorf("no stall event for peer %d in %v", staller.r.ID, h.N.Events)
	}
	h.pump(peers, 0)
	h.checkAllStored(c)
	if st := h.sync().StatusAt(h.Now()).Blocks; st.Stalls != 1 || st.StallTimeoutS <= netsync.StallTimeoutMin.Seconds()*0.85 {
		t.Errorf("status after one stall: %+v, want 1 stall and a raised timeout", *st)
	}
}

// TestMutatedBlockPunished: a peer whose blocks do not match their headers
// is dropped as a protocol violation; the headers stay valid (no block is
// marked failed) and the blocks come from another peer.
func TestMutatedBlockPunished(t *testing.T) {
	h := newBlockHarness(t, 0)
	c := newBlockChain(t, 50, h.Now())
	peers := h.connectBlockPeers(c, serveMutated, serveAll)
	h.pump(peers, 0)
	h.ExpectDropped(peers[0].r, p2p.DropViolation, "mutated block")
	h.pump(peers, 0)
	h.checkAllStored(c)
	st := h.sync().StatusAt(h.Now()).Blocks
	if st.Failed != 0 || st.Mutated == 0 {
		t.Errorf("after a mutated block: %+v, want none failed and some mutated", *st)
	}
	if h.chain().Height() != c.tip() {
		t.Errorf("header chain at %d, want %d: a mutated block must not touch the headers", h.chain().Height(), c.tip())
	}
}

// TestNotFoundRoutedAround: a peer that answers notfound keeps its
// connection (it may simply lack the blocks), is not asked for those blocks
// again, and they come from another peer.
func TestNotFoundRoutedAround(t *testing.T) {
	h := newBlockHarness(t, 0)
	c := newBlockChain(t, 80, h.Now())
	peers := h.connectBlockPeers(c, serveNotFound, serveAll)
	h.pump(peers, 0)
	h.checkAllStored(c)
	if !peers[0].r.Alive() {
		t.Fatal("the peer answering notfound was dropped")
	}
	seen := make(map[chainhash.Hash]bool)
	for _, hash := range peers[0].asked {
		if seen[hash] {
			t.Fatalf("the notfound peer was asked for %s twice", hash)
		}
		seen[hash] = true
	}
	if len(peers[0].asked) == 0 {
		t.Fatal("the notfound peer was never asked: the test tests nothing")
	}
}

// TestServeBlocks: a peer downloading from us gets every block it asks
// for, as stored, in the order asked, one read at a time; blocks we lack
// are answered with notfound.
func TestServeBlocks(t *testing.T) {
	c := newBlockChain(t, 30, time.Now())
	stored := make(map[chainhash.Hash][]byte, len(c.raw))
	maps.Copy(stored, c.raw)
	headers := make([]consensus.Header, len(c.headers))
	for i := range c.headers {
		headers[i] = consensus.FromWire(&c.headers[i])
	}
	h := newHarness(t, func(cfg *sim.NodeConfig) {
		cfg.Blocks = &netsync.BlockStart{Connected: c.tip()}
		cfg.BlockStore = stored
		cfg.Stored = headers
	})
	r := h.Established(true)
	gd := wire.NewMsgGetData()
	for height := int32(1); height <= 20; height++ {
		gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &c.hashes[height]))
	}
	gd.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &c.hashes[21]))
	unknown := chainhash.Hash{1, 2, 3}
	gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &unknown))
	r.Send(gd)
	var got []*wire.MsgBlock
	var notFound []chainhash.Hash
	for range 100 {
		msgs := r.Drain()
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			switch m := m.(type) {
			case *wire.MsgBlock:
				got = append(got, m)
			case *wire.MsgNotFound:
				for _, iv := range m.InvList {
					notFound = append(notFound, iv.Hash)
				}
			}
		}
		h.S.Settle()
	}
	if len(got) != 21 {
		t.Fatalf("served %d blocks, want 21", len(got))
	}
	for i, b := range got {
		var buf bytes.Buffer
		if err := b.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		if want := c.hashes[i+1]; b.BlockHash() != want || !bytes.Equal(buf.Bytes(), c.raw[want]) {
			t.Fatalf("block %d served is %s, want %s as stored", i, b.BlockHash(), want)
		}
	}
	if !slices.Equal(notFound, []chainhash.Hash{unknown}) {
		t.Errorf("notfound for %v, want only the unknown block", notFound)
	}
	if h.N.BlockReads != 21 {
		t.Errorf("%d block reads, want 21", h.N.BlockReads)
	}
}

// mineBlock makes a block on prev (at height-1, hash prevHash) holding a
// coinbase for height and extra transactions, with regtest proof of work.
func mineBlock(t testing.TB, prev *wire.BlockHeader, height int32, extra ...*wire.MsgTx) *wire.MsgBlock {
	t.Helper()
	params := consensus.ParamsFor("regtest")
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript: append(consensus.CoinbaseHeightPrefix(height), "any extra nonce"...), Sequence: wire.MaxTxInSequenceNum})
	cb.AddTxOut(wire.NewTxOut(0, []byte{0x51}))
	b := &wire.MsgBlock{Header: wire.BlockHeader{
		Version: 0x20000000, PrevBlock: prev.BlockHash(), Timestamp: prev.Timestamp.Add(time.Second), Bits: params.PowLimitBits,
	}, Transactions: append([]*wire.MsgTx{cb}, extra...)}
	var ids []chainhash.Hash
	for _, tx := range b.Transactions {
		ids = append(ids, tx.TxHash())
	}
	b.Header.MerkleRoot, _ = consensus.MerkleRoot(ids)
	for {
		h := consensus.FromWire(&b.Header)
		hash := h.Hash()
		if consensus.HashToU256(&hash).Cmp(params.PowLimit) <= 0 {
			return b
		}
		b.Header.Nonce++
	}
}

// TestInvalidBlockLeavesItsChain: a peer offers a chain with more work
// whose block 21 breaks a block rule (two coinbases). The node downloads
// it, finds the block invalid, marks it failed with its rule, drops the
// peer, and follows the best chain it can still connect: the other peer's,
// whose blocks it then downloads and connects. Headers building on the
// invalid block are refused from then on.
func TestInvalidBlockLeavesItsChain(t *testing.T) {
	h := newBlockHarness(t, 0)
	good := newBlockChain(t, 40, h.Now())
	// The bad chain shares blocks 1..20, then goes its own way.
	badHeaders := slices.Clone(good.headers[:21])
	badRaw := make(map[chainhash.Hash][]byte)
	for _, hdr := range badHeaders[1:] {
		badRaw[hdr.BlockHash()] = good.raw[hdr.BlockHash()]
	}
	second := mineBlock(t, &good.headers[19], 20).Transactions[0] // a coinbase too
	for height := int32(21); height <= 45; height++ {
		var extra []*wire.MsgTx
		if height == 21 {
			extra = append(extra, second)
		}
		b := mineBlock(t, &badHeaders[height-1], height, extra...)
		badHeaders = append(badHeaders, b.Header)
		var buf bytes.Buffer
		if err := b.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		badRaw[b.BlockHash()] = buf.Bytes()
	}
	bad := &blockChain{testChain: makeTestChain(badHeaders), raw: badRaw}
	invalid := bad.hashes[21]

	peers := h.connectBlockPeers(bad, serveAll)
	peers = append(peers, h.connectBlockPeers(good, serveAll)...)
	h.pump(peers, 0)
	h.ExpectDropped(peers[0].r, p2p.DropViolation, "invalid block 21")
	h.pump(peers, 0)
	if rule, ok := h.sync().FailedRule(invalid); !ok || rule != "single-coinbase" {
		t.Fatalf("block 21 of the bad chain: failed %v rule %q, want single-coinbase", ok, rule)
	}
	if tip := h.chain().HashAt(h.chain().Height()); h.chain().Height() != 40 || tip != good.hashes[40] {
		t.Fatalf("tip %d %s, want the good chain's 40 %s", h.chain().Height(), tip, good.hashes[40])
	}
	h.checkAllStored(good)
	if _, stored := h.N.Blocks[invalid]; stored {
		t.Fatal("the invalid block was stored")
	}
	// A new peer offering the bad chain's headers is refused.
	r, sent := h.establishedAt(false, 45)
	for _, gh := range getHeadersIn(sent) {
		r.Send(good.answer(gh))
	}
	r.Drain()
	r.Send(bad.msg(21, 45))
	h.ExpectDropped(r, p2p.DropViolation, "invalid")
}

// TestServeBlocksToASlowReader: a peer that asks for 40 blocks of 100 KB
// and reads nothing for a while (a node busy validating) is not dropped
// for overflowing its send queue: the node queues blocks only while the
// queue has room, keeps the rest waiting, and once the peer reads, every
// block comes, in the order asked.
func TestServeBlocksToASlowReader(t *testing.T) {
	headers := []wire.BlockHeader{regtestGenesis()}
	raw := map[chainhash.Hash][]byte{}
	for h := int32(1); h <= 40; h++ {
		big := wire.NewMsgTx(1)
		big.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{byte(h)}}})
		big.AddTxOut(wire.NewTxOut(0, append([]byte{0x6a}, make([]byte, 100_000)...)))
		b := mineBlock(t, &headers[len(headers)-1], h, big)
		var buf bytes.Buffer
		if err := b.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		headers = append(headers, b.Header)
		raw[b.BlockHash()] = buf.Bytes()
	}
	c := &blockChain{testChain: makeTestChain(headers), raw: raw}
	stored := make([]consensus.Header, len(headers))
	for i := range headers {
		stored[i] = consensus.FromWire(&headers[i])
	}
	h := newHarness(t, func(cfg *sim.NodeConfig) {
		cfg.Blocks = &netsync.BlockStart{Connected: c.tip()}
		cfg.BlockStore = raw
		cfg.Stored = stored
	})
	r := h.Established(true)
	gd := wire.NewMsgGetData()
	for height := int32(1); height <= 40; height++ {
		gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &c.hashes[height]))
	}
	r.Send(gd)
	// The peer takes a block at a time, and between blocks lets the
	// node's reads finish.
	var got []chainhash.Hash
	for range 40 {
		h.S.Settle()
		for _, f := range r.ReadAtMost(1) {
			if b, ok := f.Msg.(*wire.MsgBlock); ok {
				got = append(got, b.BlockHash())
			}
		}
		if !r.Alive() {
			break
		}
	}
	if !r.Alive() {
		t.Fatalf("the slow reader was dropped: %+v", h.N.Core.Snapshot(h.S.Now()).Disconnects)
	}
	if q := r.Info().QueueBytes; q > 2*p2p.OutQueueLimit+5_000_000 {
		t.Errorf("%d bytes queued for the slow reader, above the bound", q)
	}
	for range 200 {
		for _, m := range r.Drain() {
			if b, ok := m.(*wire.MsgBlock); ok {
				got = append(got, b.BlockHash())
			}
		}
		if len(got) == 40 {
			break
		}
		h.S.Settle()
	}
	if !slices.Equal(got, c.hashes[1:]) {
		t.Fatalf("the slow reader got %d blocks, want the 40 in order", len(got))
	}
	if !r.Alive() {
		t.Error("the slow reader was dropped after reading")
	}
}

// TestSyncPeerServesHeadersFirst: the peer we download headers from is
// asked for no block while that download runs, since each would wait in
// front of our next getheaders; once the sync caught up it serves blocks
// like any other peer.
func TestSyncPeerServesHeadersFirst(t *testing.T) {
	h := newBlockHarness(t, 0)
	c := newBlockChain(t, 2_100, h.Now()) // a full batch of headers, then a short one
	r, sent := h.establishedAt(false, c.tip())
	p := &blockPeer{r: r, c: c, mode: serveAll}
	ghs := getHeadersIn(sent)
	if len(ghs) != 1 {
		t.Fatalf("handshake answered with %d getheaders, want 1", len(ghs))
	}
	r.Send(c.answer(ghs[0]))
	var gotHeaders bool
	for _, m := range r.Drain() {
		switch m := m.(type) {
		case *wire.MsgGetData:
			t.Fatalf("getdata for %d blocks sent to the sync peer before its headers caught up", len(m.InvList))
		case *wire.MsgGetHeaders:
			gotHeaders = true
			r.Send(c.answer(m))
		}
	}
	if !gotHeaders {
		t.Fatal("no getheaders followed the full batch")
	}
	if h.sync().Height() != c.tip() {
		t.Fatalf("header height %d, want %d", h.sync().Height(), c.tip())
	}
	h.pump([]*blockPeer{p}, 0)
	if len(p.asked) == 0 {
		t.Fatal("the caught-up sync peer was never asked for a block")
	}
	h.checkAllStored(c)
}
