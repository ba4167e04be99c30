package sim

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
)

// NodeConfig configures a simulated node.
type NodeConfig struct {
	P2P p2p.Config
	// Params overrides the network's consensus parameters (tests lower the
	// minimum chain work).
	Params *consensus.Params
	// Stored is the header store's content at start, genesis first (nil:
	// a fresh node).
	Stored []consensus.Header
	// Listen makes the node accept connections at its address.
	Listen bool
	// NoSync runs the p2p core alone, without header sync.
	NoSync bool
	// FailStoreAfter, when positive, makes the header store fail on that
	// write and every later one.
	FailStoreAfter int
	// Blocks, when set, makes the node download, store and serve blocks,
	// starting from the block store it describes (Blocks holds that
	// store's content, by hash); nil keeps headers only.
	Blocks     *netsync.BlockStart
	BlockStore map[chainhash.Hash][]byte
}

// Node is one simulated node: its cores and the shell's part the
// simulation plays (queues, jobs, the header store, the logs).
type Node struct {
	sim   *Sim
	Addr  netip.AddrPort
	Core  *p2p.Core
	Sync  *netsync.Sync // nil with NoSync
	conns map[p2p.PeerID]*conn
	// poolUsed is the share of p2p.InQueuePool this node's queues hold.
	poolUsed int

	// What the shell would have done with the actions.
	Events      []p2p.Event
	Logs        []p2p.LogRecord
	Jobs        []p2p.Job
	Dials       []string
	DialsV2     []bool // for each of Dials: did it start with BIP324
	StoreWrites int
	// StoredHeaders counts the header store's records, as the shell
	// would have written them; StoreErr is set once a write failed.
	StoredHeaders  int
	StoreErr       error
	failStoreAfter int
	// Blocks is the block store as the shell would have written it: every
	// block that passed its StoreBlock job, by hash. BlockChecks counts
	// the StoreBlock jobs, BlockReads the blocks ReadBlocks jobs read.
	Blocks      map[chainhash.Hash][]byte
	BlockChecks int
	BlockReads  int
	// Seeds answers the node's DNS seed queries (nil: every seed fails).
	Seeds func(hosts []string, port uint16) ([]netip.AddrPort, []string)
	// LogSeq is the number of the newest message in the node's message
	// log: the simulation numbers every message read and written, as the
	// engine's log does (it keeps no records). Links are the request links
	// the core emitted, oldest first.
	LogSeq uint64
	Links  []p2p.Link
}

// logMessage numbers one more message in the node's message log.
func (n *Node) logMessage() uint64 {
	n.LogSeq++
	return n.LogSeq
}

// NewNode adds a node to the world.
func (s *Sim) NewNode(cfg NodeConfig) (*Node, error) {
	n := &Node{sim: s, Addr: s.newAddr(), conns: make(map[p2p.PeerID]*conn), failStoreAfter: cfg.FailStoreAfter}
	if cfg.P2P.Network == "" {
		cfg.P2P.Network = "regtest"
	}
	if cfg.P2P.Seed == ([32]byte{}) {
		for i := range cfg.P2P.Seed {
			cfg.P2P.Seed[i] = byte(s.rng.Uint32())
		}
	}
	cfg.P2P.AllowLocal = true
	params := cfg.Params
	if params == nil {
		params = consensus.ParamsFor(cfg.P2P.Network)
	}
	var newSync func(*p2p.Core) p2p.Sync
	if !cfg.NoSync {
		ch, writes, err := chain.New(params, cfg.Stored)
		if err != nil {
			return nil, err
		}
		for _, w := range writes {
			n.writeHeaders(w)
		}
		if cfg.Blocks != nil {
			n.Blocks = make(map[chainhash.Hash][]byte, len(cfg.BlockStore))
			maps.Copy(n.Blocks, cfg.BlockStore)
		}
		newSync = func(c *p2p.Core) p2p.Sync {
			n.Sync = netsync.New(c, ch, cfg.Blocks)
			return n.Sync
		}
	}
	core, err := p2p.New(cfg.P2P, s.now, newSync)
	if err != nil {
		return nil, err
	}
	n.Core = core
	core.SetFlusher(n.carryOut)
	s.nodes = append(s.nodes, n)
	if cfg.Listen {
		s.byAddr[n.Addr] = n
	}
	return n, nil
}

// Start starts the node's core (first dials, DNS seeds).
func (n *Node) Start() {
	n.Core.Start(n.sim.now)
	n.apply()
}

// Tick runs the node's timers now.
func (n *Node) Tick() {
	backlog := make(map[p2p.PeerID]time.Time)
	for id, c := range n.conns {
		if len(c.inq) > 0 {
			backlog[id] = c.inq[0].Received
		}
	}
	n.Core.Tick(n.sim.now, backlog)
	n.apply()
}

// ServeRound serves one round of the node's inbound queues, as the
// engine's loop does, and reports whether anything was handled.
func (n *Node) ServeRound() bool {
	worked := n.Core.ServeRound(n.sim.now, func(id p2p.PeerID) (*p2p.Message, bool) {
		c, ok := n.conns[id]
		if !ok || len(c.inq) == 0 {
			return nil, false
		}
		m := c.inq[0]
		c.inq[0] = nil
		c.inq = c.inq[1:]
		c.release(m)
		return m, true
	})
	n.apply()
	if worked {
		// Popping made room: blocked readers go on.
		for _, id := range n.connIDs() {
			n.conns[id].read()
		}
	}
	return worked
}

// ServeAll serves until every inbound queue is empty or paused.
func (n *Node) ServeAll() {
	for n.ServeRound() {
	}
}

// apply carries out the core's actions as the engine would.
func (n *Node) apply() { n.carryOut(n.Core.TakeActions()) }

// carryOut carries out actions (also the core's flusher).
func (n *Node) carryOut(actions []p2p.Action) {
	for _, a := range actions {
		switch a.Kind {
		case p2p.ActLink:
			n.Links = append(n.Links, a.Link)
		case p2p.ActSend:
			if c, ok := n.conns[a.Peer]; ok {
				c.queue(outFrame{frame: a.Frame, request: a.Request})
			}
		case p2p.ActDrop:
			if c, ok := n.conns[a.Peer]; ok {
				n.closeConn(c)
			}
		case p2p.ActDial:
			n.Dials = append(n.Dials, a.Addr)
			n.DialsV2 = append(n.DialsV2, a.V2)
			n.sim.dial(n, a.Addr, a.Manual)
		case p2p.ActJob:
			n.Jobs = append(n.Jobs, a.Job)
			n.runJob(a.Job)
		case p2p.ActEvent:
			n.Events = append(n.Events, a.Event)
		case p2p.ActLog:
			n.Logs = append(n.Logs, a.Log)
		case p2p.ActStopCaptures:
			for _, c := range n.conns {
				c.capture = false
			}
		case p2p.ActPublish:
			// Nothing observes a simulated node between steps: tests
			// read its snapshot when they want it.
		}
	}
}

// runJob does a job's I/O in memory. Results that go back to the core are
// delivered later, as events, the way the shell's job runner reports.
func (n *Node) runJob(j p2p.Job) {
	switch j := j.(type) {
	case netsync.StoreHeaders:
		n.writeHeaders(j.Write)
	case netsync.StoreBlock:
		// The engine's pipeline: the rules, then the write; the result
		// reaches the core a moment later, and the store's sync after it.
		n.BlockChecks++
		err := j.Check()
		if err == nil {
			n.Blocks[j.Block.Hash] = j.Raw
		}
		n.sim.after(n.sim.Latency, func() {
			n.Core.JobDone(n.sim.now, j.Result(err))
			n.apply()
		})
		if err == nil {
			// The store's sync, a moment later still.
			n.sim.after(2*n.sim.Latency, func() {
				n.Core.JobDone(n.sim.now, netsync.BlocksSynced{Hashes: []chainhash.Hash{j.Block.Hash}})
				n.apply()
			})
		}
	case netsync.ReadBlocks:
		res := j.Read(func(hash chainhash.Hash) ([]byte, error) {
			raw, ok := n.Blocks[hash]
			if !ok {
				return nil, fmt.Errorf("sim: block %s not stored", hash)
			}
			n.BlockReads++
			return raw, nil
		})
		n.sim.after(n.sim.Latency, func() {
			n.Core.JobDone(n.sim.now, res)
			n.apply()
		})
	case p2p.ResolveSeeds:
		addrs, errs := []netip.AddrPort(nil), []string{"sim: no DNS"}
		if n.Seeds != nil {
			addrs, errs = n.Seeds(j.Hosts, j.Port)
		}
		n.sim.after(n.sim.Latency, func() {
			n.Core.SeedsResolved(n.sim.now, addrs, errs)
			n.apply()
		})
	}
}

// writeHeaders plays the header store.
func (n *Node) writeHeaders(w chain.Write) {
	n.StoreWrites++
	if n.StoreErr != nil || (n.failStoreAfter > 0 && n.StoreWrites >= n.failStoreAfter) {
		if n.StoreErr == nil {
			n.StoreErr = errors.New("sim: header store write failed")
		}
		return
	}
	n.StoredHeaders = int(w.From) + w.Count()
}

// closeConn closes c from this side; the other side learns of it after the
// link's latency.
func (n *Node) closeConn(c *conn) {
	delete(n.conns, c.id)
	c.release(nil)
	c.closed = true
	if c.remote != nil {
		c.remote.closed = true
	}
	if o := c.other; o != nil {
		n.sim.after(n.sim.Latency, func() {
			if !o.closed {
				o.node.Core.Closed(n.sim.now, o.id, p2p.ReadFailure(errEOF))
				o.node.apply()
			}
		})
	}
}

func (n *Node) connIDs() []p2p.PeerID {
	ids := make([]p2p.PeerID, 0, len(n.conns))
	for id := range n.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Do runs fn on the node's core (as the engine runs an operator's command)
// and carries out its actions.
func (n *Node) Do(fn func(c *p2p.Core)) {
	fn(n.Core)
	n.apply()
}

// Snapshot returns the core's snapshot now.
func (n *Node) Snapshot() *p2p.Snapshot { return n.Core.Snapshot(n.sim.now) }

// PeerInfo returns what the core says of peer id.
func (n *Node) PeerInfo(id p2p.PeerID) (p2p.PeerInfo, bool) {
	for _, p := range n.Snapshot().Peers {
		if p.ID == id {
			return p, true
		}
	}
	return p2p.PeerInfo{}, false
}

// Alive reports whether the core still has peer id.
func (n *Node) Alive(id p2p.PeerID) bool {
	_, ok := n.Core.Peer(id)
	return ok
}

// LastDisconnect returns the newest disconnect the core recorded.
func (n *Node) LastDisconnect() (p2p.Disconnect, bool) {
	ds := n.Snapshot().Disconnects
	if len(ds) == 0 {
		return p2p.Disconnect{}, false
	}
	return ds[0], true
}

// InQueueLen returns how many messages of peer id wait in the node's
// inbound queue.
func (n *Node) InQueueLen(id p2p.PeerID) int {
	if c, ok := n.conns[id]; ok {
		return len(c.inq)
	}
	return 0
}

// String names the node.
func (n *Node) String() string { return fmt.Sprintf("node %s", n.Addr) }
