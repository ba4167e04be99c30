package engine

import (
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/peer"
)

// closedTraffic sums the traffic of connections already gone.
type closedTraffic struct {
	sent, recv       uint64
	sentCmd, recvCmd map[string]p2p.CommandTraffic
	// byTransport: bytes by transport; a connection that never settled
	// one (it closed during a BIP324 handshake) counts as v2.
	byTransport [2]struct{ sent, recv uint64 }
}

func (t *closedTraffic) add(transport string, sent, recv peer.Traffic) {
	t.sent += sent.Bytes
	t.recv += recv.Bytes
	bt := &t.byTransport[transportIndex(transport)]
	bt.sent += sent.Bytes
	bt.recv += recv.Bytes
	t.sentCmd = addTraffic(t.sentCmd, sent.ByCommand)
	t.recvCmd = addTraffic(t.recvCmd, recv.ByCommand)
}

// transportIndex is 0 for v1, 1 for v2 (or a handshake that did not end).
func transportIndex(transport string) int {
	if transport == peer.TransportNameV1 {
		return 0
	}
	return 1
}

// transportNames index closedTraffic.byTransport.
var transportNames = [2]string{peer.TransportNameV1, peer.TransportNameV2}

// addTraffic adds per-command counters into total (allocating it if nil).
func addTraffic(total map[string]p2p.CommandTraffic, add map[string]p2p.CommandTraffic) map[string]p2p.CommandTraffic {
	if total == nil {
		total = make(map[string]p2p.CommandTraffic)
	}
	for cmd, t := range add {
		c := total[cmd]
		c.Bytes += t.Bytes
		c.Messages += t.Messages
		total[cmd] = c
	}
	return total
}

// publish builds a snapshot from the cores' copies and the connections'
// counters and stores it for observers. It runs on the engine goroutine,
// a few times a second, after the operator's commands, and when the core
// asks (at most every minPublishGap); reads never publish.
func (e *Engine) publish(now time.Time) {
	e.publishAt = now.Add(publishInterval)
	e.published, e.publishDue = now, false
	e.publishes.Add(1)
	ps := e.core.Snapshot(now)
	ss := e.sync.Snapshot(now)
	s := &Snapshot{Time: now, Peers: ps.Peers, Disconnects: ps.Disconnects, Bans: ps.Bans, AddedNodes: ps.AddedNodes, Chain: ss.Chain}
	st := &s.Status
	height, tip, work := ss.Chain.Tip()
	st.Network = ps.Network
	st.Height, st.BestHash, st.ChainWork = height, tip.String(), work.Hex()
	st.Headers, st.Blocks = height, ss.Connected
	s.FailedBlocks = ss.FailedBlocks
	if e.blocks != nil {
		st.SizeOnDisk = e.blocks.SizeOnDisk()
	}
	st.Pruned = e.cfg.PruneMiB > 0
	if e.connector != nil {
		u := e.connector.stats.Load()
		st.UTXO = &UTXOStatus{Coins: u.Coins, Height: u.Best.Height, Hash: u.Best.Hash.String(),
			MuHash: u.MuHash.String(), MuHashHeight: u.Flushed.Height,
			BytesOnDisk: u.DiskBytes, CacheBytes: u.CacheBytes, CacheLimit: u.CacheLimit}
		if av := e.connector.assumeValid; av != (chainhash.Hash{}) {
			st.AssumeValid = av.String()
		}
		v := e.connector.record.status()
		v.ChainTx = u.Best.ChainTx
		v.SignatureLibrary = e.connector.scripts.SignatureLibrary()
		v.FastSignatures = e.connector.scripts.FastVerified()
		v.SignatureChecks = e.connector.scripts.SignatureChecks()
		v.BlocksHandedOver, v.BlocksReadBack = e.connector.handoff.counts()
		tipTime := now
		if u.Best.Height >= 0 && u.Best.Height <= height && ss.Chain.HashAt(u.Best.Height) == u.Best.Hash {
			tipTime = time.Unix(int64(ss.Chain.HeaderAt(u.Best.Height).Timestamp), 0)
		}
		v.HasTxData = e.cfg.Params.TxData.TxCount > 0
		v.VerificationProgress = verificationProgress(txDataOf(e.cfg.Params.TxData), v.ChainTx, tipTime, now)
		st.Validation = &v
	}
	if ss.Window != nil {
		s.Blocks = e.blocksView(&ss)
	}
	st.TipTime = time.Unix(int64(ss.Chain.TipHeader().Timestamp), 0).UTC()
	st.Sync = ss.Status
	st.ForkHeaders = ss.Chain.ForkCount()
	st.UptimeS = ps.UptimeS
	st.Discovery = ps.Discovery
	st.Listen = ps.Listen
	st.AddrNew, st.AddrTried = ps.AddrNew, ps.AddrTried
	st.UserAgent = ps.UserAgent
	st.ProtocolV = ps.ProtocolVersion
	st.StartedAt = ps.StartedAt
	st.DisconnectsByKind = ps.DisconnectsByKind
	st.RequestTimeouts = ps.RequestTimeouts
	st.Inbound, st.Outbound, st.Peers = ps.Inbound, ps.Outbound, len(ps.Peers)
	st.BytesSent, st.BytesRecv = e.closed.sent, e.closed.recv
	st.MsgsSent = addTraffic(nil, e.closed.sentCmd)
	st.MsgsRecv = addTraffic(nil, e.closed.recvCmd)
	st.InQueuePool = e.pool.Used()
	st.Transports = make(map[string]TransportTraffic, 2)
	for i, name := range transportNames {
		bt := e.closed.byTransport[i]
		st.Transports[name] = TransportTraffic{BytesSent: bt.sent, BytesRecv: bt.recv}
	}
	for i := range s.Peers {
		info := &s.Peers[i]
		info.SyncedHeight = ss.PeerHeights[info.ID]
		if pb, ok := ss.PeerBlocks[info.ID]; ok {
			info.BlocksInFlight, info.BlocksReceived = pb.InFlight, pb.Received
			info.BlockBytes, info.BlockBusyS = pb.Bytes, pb.Busy.Seconds()
			info.BlockDeliveryMs = float64(pb.AvgDelivery) / float64(time.Millisecond)
		}
		st.OutQueueBytes += info.QueueBytes
		c, ok := e.conns[info.ID]
		if !ok {
			continue
		}
		info.InQueueBytes = c.in.Cost()
		st.InQueueBytes += info.InQueueBytes
		if c.conn == nil {
			continue
		}
		sent, recv := c.conn.Stats.Snapshot()
		info.Transport, info.SessionID = c.conn.Transport(), c.conn.SessionID()
		name := transportNames[transportIndex(info.Transport)]
		tt := st.Transports[name]
		tt.BytesSent += sent.Bytes
		tt.BytesRecv += recv.Bytes
		if info.Transport != "" {
			tt.Peers++
		}
		st.Transports[name] = tt
		info.BytesSent, info.BytesRecv = sent.Bytes, recv.Bytes
		info.MsgsSent, info.MsgsRecv = sent.ByCommand, recv.ByCommand
		info.LastSend, info.LastRecv = sent.Last, recv.Last
		st.BytesSent += sent.Bytes
		st.BytesRecv += recv.Bytes
		st.MsgsSent = addTraffic(st.MsgsSent, sent.ByCommand)
		st.MsgsRecv = addTraffic(st.MsgsRecv, recv.ByCommand)
	}
	e.snapshot.Store(s)
}
