package p2p

import (
	"net/netip"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/addrman"
)

// Internals the external tests (package p2p_test) look at.

const (
	UnsolicitedPenalty = unsolicitedPenalty
	NoTxFeeRate        = noTxFeeRate
	AddrBucketMax      = addrBucketMax
	MaxDisconnects     = maxDisconnects
	Discouragement     = discouragement
	MaxDiscouraged     = maxDiscouraged
)

// PeerDebug is what the tests read of a peer's state beyond PeerInfo.
type PeerDebug struct {
	Version     *wire.MsgVersion
	VerackRecv  bool
	LocalNonce  uint64
	LastPing    time.Duration
	MinPing     time.Duration
	GetaddrDone bool
	AddrTokens  float64
	Requests    []*Request
	ConnectedAt time.Time
	ConnType    ConnType
	Target      string
}

func (c *Core) Debug(id PeerID) (PeerDebug, bool) {
	p, ok := c.peers[id]
	if !ok {
		return PeerDebug{}, false
	}
	return PeerDebug{Version: p.version, VerackRecv: p.verackRecv, LocalNonce: p.localNonce,
		LastPing: p.lastPing, MinPing: p.minPing, GetaddrDone: p.getaddrDone, AddrTokens: p.addrTokens,
		Requests: append([]*Request(nil), p.reqs...), ConnectedAt: p.connectedAt, ConnType: p.connType, Target: p.target}, true
}

// SetPeerTimes sets a peer's connection time and minimum ping (eviction
// tests build their peers' histories directly).
func (c *Core) SetPeerTimes(id PeerID, connectedAt time.Time, minPing time.Duration) {
	p := c.peers[id]
	p.connectedAt, p.minPing = connectedAt, minPing
}

func (c *Core) NonceOwner(nonce uint64) (PeerID, bool) { id, ok := c.nonces[nonce]; return id, ok }
func (c *Core) NonceCount() int                        { return len(c.nonces) }
func (c *Core) OrderLen() int                          { return len(c.order) }
func (c *Core) Addrs() *addrman.Manager                { return c.addrs }
func (c *Core) DisconnectLog() []Disconnect            { return c.disconnects }
func (c *Core) Banned(ip netip.Addr, at time.Time) (Ban, bool) {
	return c.bans.banned(ip, at)
}
func (c *Core) AddBan(ip netip.Addr, reason string, manual bool, at time.Time, d time.Duration) {
	c.bans.add(ip, reason, manual, at, d)
}
func (c *Core) DiscoveryText() string { return c.discovery.describe(c.now) }
func (c *Core) DiscoveryGossip() int  { return c.discovery.gossip }
func (c *Core) SeedAddrs() int        { return c.discovery.seedAddrs }
func (c *Core) SeedErrs() []string    { return c.discovery.seedErrs }
func (c *Core) Querying() bool        { return c.discovery.querying }
func (c *Core) Dialing() int          { return len(c.dialing) }

// TargetState is a test's view of an operator target.
type TargetState struct {
	Addr        string
	Peer        PeerID
	Failures    int
	NextAttempt time.Time
	LastError   string
}

func (c *Core) Targets() []TargetState {
	var out []TargetState
	for _, t := range c.targets {
		out = append(out, TargetState{t.addr, t.peer, t.failures, t.nextAttempt, t.lastError})
	}
	return out
}

// QueueFrame queues f for peer id as the core queues any frame.
func (c *Core) QueueFrame(id PeerID, f *Frame) bool { return c.sendFrame(c.peers[id], f, 0) }

// PickEviction runs the eviction policy over the inbound peers.
func (c *Core) PickEviction() (PeerID, bool) {
	var cands []*peerState
	for _, id := range c.order {
		if p := c.peers[id]; p.inbound() {
			cands = append(cands, p)
		}
	}
	if v := pickEviction(cands); v != nil {
		return v.id, true
	}
	return 0, false
}

// PickEvictionAmong runs the policy over the given peers, in that order.
func (c *Core) PickEvictionAmong(ids []PeerID) (PeerID, bool) {
	var cands []*peerState
	for _, id := range ids {
		cands = append(cands, c.peers[id])
	}
	if v := pickEviction(cands); v != nil {
		return v.id, true
	}
	return 0, false
}

// MakeInboundRoom applies the inbound admission rule.
func (c *Core) MakeInboundRoom(now time.Time) bool { c.now = now; return c.makeInboundRoom() }

// DescribeDiscovery describes a discovery state built by a test.
func DescribeDiscovery(mode string, queriedAt time.Time, seedErrs []string, gossip int) string {
	d := discovery{mode: mode, queriedAt: queriedAt, seedErrs: seedErrs, gossip: gossip}
	return d.describe(queriedAt)
}

// BanList is a test's handle on a ban list.
type BanList struct{ b *banList }

func NewBanList(manual []Ban) (BanList, error) {
	b, err := newBanList(manual)
	return BanList{b}, err
}
func (l BanList) Add(ip netip.Addr, reason string, manual bool, now time.Time, d time.Duration) (Ban, bool) {
	return l.b.add(ip, reason, manual, now, d)
}
func (l BanList) Banned(ip netip.Addr, now time.Time) (Ban, bool) { return l.b.banned(ip, now) }
func (l BanList) Remove(ip netip.Addr) (bool, bool)               { return l.b.remove(ip) }
func (l BanList) List(now time.Time) []Ban                        { return l.b.list(now) }
func (l BanList) Manual() []Ban                                   { return l.b.manual() }

// WantV2 exposes the transport choice of a dial.
func (c *Core) WantV2(addr string, manual bool, services uint64) bool {
	return c.wantV2(addr, manual, services)
}
