package engine

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/watchnode/watchnode/node/addrman"
	"github.com/watchnode/watchnode/node/peer"
)

// acceptLoop hands inbound connections to the engine until ctx ends.
func (e *Engine) acceptLoop(ctx context.Context, ln net.Listener) {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.log.Warn("accepting connection", "err", err)
			select {
			case <-time.After(100 * time.Millisecond): // e.g. out of file descriptors
			case <-ctx.Done():
				return
			}
			continue
		}
		select {
		case e.events <- evConnected{nc: nc, inbound: true}:
		case <-e.quit:
			nc.Close()
			return
		}
	}
}

// connected admits a new connection: refuses banned addresses, makes room
// for inbound ones by eviction when full, then starts the socket goroutines.
func (e *Engine) connected(ev evConnected, now time.Time) {
	if ev.target != "" {
		delete(e.dialing, ev.target)
	}
	addr := addrPortOf(ev.nc.RemoteAddr())
	refuse := func(r reason) {
		ev.nc.Close()
		e.recordDisconnect(Disconnect{Addr: addr.String(), Inbound: ev.inbound, Kind: r.kind, Reason: r.text, Time: now})
		for _, t := range e.targets {
			if t.addr == ev.target {
				t.disconnected(now, e.cfg.BackoffMin, e.cfg.BackoffMax, false)
			}
		}
	}
	if ban, banned := e.bans.banned(addr.Addr(), now); banned && !ev.manual {
		refuse(dropReason(DropRefused, "refused: address is banned (%s)", ban.Reason))
		return
	}
	if ev.inbound && !e.makeInboundRoom(now) {
		refuse(dropReason(DropRefused, "refused: inbound slots full (%d) and no peer evictable", e.maxInbound()))
		return
	}
	connType := OutboundFullRelay
	switch {
	case ev.inbound:
		connType = Inbound
	case ev.manual:
		connType = Manual
	}
	e.lastID++
	id := e.lastID
	in := peer.NewInQueue(inQueueLimit, e.notify)
	out := peer.NewOutQueue(outQueueLimit)
	capture := e.openCapture(addr.String())
	c := peer.Start(ev.nc, peer.Config{
		Magic: e.magic, WriteTimeout: e.cfg.WriteTimeout, In: in, Out: out, Capture: capture,
		OnWritten: func(req uint64, at time.Time) { e.post(evWritten{id: id, req: req, at: at}) },
		OnClose:   func(err error) { e.post(evClosed{id: id, err: err}) },
	})
	e.wg.Go(c.Wait)
	p := e.addPeer(id, connLink{c}, in, out, addr, connType, now)
	p.capture = capture
	if ev.manual {
		p.target = ev.target
		for _, t := range e.targets {
			if t.addr == ev.target {
				t.peer = id
			}
		}
	}
	if !ev.inbound {
		e.sendVersion(p, now)
	}
}

// addPeer enters a connection into the peer table.
func (e *Engine) addPeer(id PeerID, l link, in *peer.InQueue, out *peer.OutQueue, addr netip.AddrPort, ct ConnType, now time.Time) *peerState {
	p := &peerState{id: id, addr: addr, connType: ct, link: l, in: in, out: out, connectedAt: now, addrTokens: 1, addrTokenAt: now}
	e.peers[id] = p
	e.order = append(e.order, id)
	e.log.Debug("connection opened", "peer", id, "addr", addr, "type", ct)
	return p
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

func (e *Engine) maxInbound() int { return e.cfg.MaxPeers - e.cfg.MaxOutbound }

// makeInboundRoom reports whether an inbound connection can be admitted,
// evicting one inbound peer if the slots are full.
//
// Eviction policy (a simplified form of Bitcoin Core's
// AttemptToEvictConnection): outbound and manual peers are never evicted.
// Among inbound peers, protect the 4 with the lowest minimum ping, then the
// 4 connected longest among the rest; from the remaining candidates, take the network group with the most connections
// and evict its most recently connected peer.
func (e *Engine) makeInboundRoom(now time.Time) bool {
	inbound := 0
	var cands []*peerState
	for _, p := range e.peers {
		if p.inbound() {
			inbound++
			cands = append(cands, p)
		}
	}
	if inbound < e.maxInbound() {
		return true
	}
	victim := pickEviction(cands)
	if victim == nil {
		return false
	}
	e.drop(victim, dropReason(DropEvicted, "evicted to make room for a new inbound peer"), now)
	return true
}

// pickEviction applies the eviction policy to the inbound peers.
func pickEviction(cands []*peerState) *peerState {
	cands = slices.Clone(cands)
	// Protect the fastest: peers with a measured ping, lowest first.
	slices.SortStableFunc(cands, func(a, b *peerState) int {
		return cmpPing(a.minPing, b.minPing)
	})
	cands = cands[min(4, countMeasured(cands)):]
	// Protect the longest-connected.
	slices.SortStableFunc(cands, func(a, b *peerState) int { return a.connectedAt.Compare(b.connectedAt) })
	cands = cands[min(4, len(cands)):]
	if len(cands) == 0 {
		return nil
	}
	groups := make(map[string][]*peerState)
	for _, p := range cands {
		g := addrman.NetGroup(p.addr.Addr())
		groups[g] = append(groups[g], p)
	}
	var biggest []*peerState
	for _, g := range groups {
		if len(g) > len(biggest) || (len(g) == len(biggest) && g[0].id < biggest[0].id) {
			biggest = g
		}
	}
	return slices.MaxFunc(biggest, func(a, b *peerState) int { return a.connectedAt.Compare(b.connectedAt) })
}

func cmpPing(a, b time.Duration) int {
	switch {
	case a == b:
		return 0
	case a == 0:
		return 1
	case b == 0:
		return -1
	case a < b:
		return -1
	}
	return 1
}

func countMeasured(ps []*peerState) int {
	n := 0
	for _, p := range ps {
		if p.minPing > 0 {
			n++
		}
	}
	return n
}
