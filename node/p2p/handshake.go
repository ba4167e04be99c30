package p2p

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

// noTxFeeRate is the feefilter the node sends: Bitcoin Core's MAX_MONEY in
// sat/kvB, which tells the peer not to announce any transaction (the node
// relays none, and says so with relay=false in its version too).
const noTxFeeRate = 21_000_000 * 100_000_000

// sendVersion queues our version message; the nonce lets us recognise a
// connection to ourselves.
func (c *Core) sendVersion(p *peerState) {
	p.localNonce = c.rng.Uint64()
	c.nonces[p.localNonce] = p.id
	you := wire.NewNetAddressIPPort(p.addr.Addr().AsSlice(), p.addr.Port(), 0)
	me := wire.NewNetAddressIPPort(netip.IPv4Unspecified().AsSlice(), 0, c.cfg.Services)
	v := wire.NewMsgVersion(me, you, p.localNonce, c.sync.Height())
	v.ProtocolVersion = int32(protocol.ProtocolVersion)
	v.Services = c.cfg.Services
	v.UserAgent = c.cfg.UserAgent
	v.Timestamp = time.Unix(c.now.Unix(), 0)
	v.DisableRelayTx = true
	p.versionSent = true
	c.send(p, v)
}

// handleVersion checks the peer's version and answers it. The order of our
// replies follows Bitcoin Core: our version (inbound), then wtxidrelay and
// sendaddrv2, which BIP339 and BIP155 require between version and verack,
// then verack.
func (c *Core) handleVersion(p *peerState, v *wire.MsgVersion) {
	if p.version != nil {
		c.redundant(p, "version") // Core ignores a redundant version
		return
	}
	if owner, self := c.nonces[v.Nonce]; self && owner != p.id {
		c.drop(p, Because(DropRefused, "connected to self (version nonce %x is ours)", v.Nonce))
		return
	}
	if v.ProtocolVersion < protocol.MinPeerProtocolVersion {
		c.drop(p, Because(DropRefused, "obsolete protocol version %d (minimum %d)", v.ProtocolVersion, protocol.MinPeerProtocolVersion))
		return
	}
	if p.connType == OutboundFullRelay && !desirableServices(v.Services) {
		// Core's HasAllDesirableServiceFlags: a peer we chose to connect
		// to must serve blocks and witness data, or the slot is wasted on a
		// peer we can download nothing from. Manual peers are the
		// operator's choice; inbound peers chose us.
		c.drop(p, Because(DropRefused, "peer does not offer blocks with witness data (services %s)", strings.Join(protocol.ServiceNames(v.Services), ",")))
		return
	}
	p.version = v
	p.features.Relay = !v.DisableRelayTx
	if !p.versionSent {
		c.sendVersion(p)
	}
	if uint32(v.ProtocolVersion) >= wire.AddrV2Version {
		c.send(p, wire.NewMsgWTxIdRelay())
		c.send(p, wire.NewMsgSendAddrV2())
	}
	c.send(p, wire.NewMsgVerAck())
	c.Logf(slog.LevelDebug, "version received", "peer", p.id, "version", v.ProtocolVersion, "agent", v.UserAgent)
}

// desirableServices reports whether services include serving blocks (all
// of them or the last 288) and witness data.
func desirableServices(services wire.ServiceFlag) bool {
	return services&wire.SFNodeWitness != 0 && services&(wire.SFNodeNetwork|wire.SFNodeNetworkLimited) != 0
}

// handleVerack completes the handshake: announce what we want, learn
// addresses, start pinging, and hand the peer to header sync.
func (c *Core) handleVerack(p *peerState) {
	if p.verackRecv {
		c.redundant(p, "verack")
		return
	}
	p.verackRecv = true
	c.send(p, wire.NewMsgSendHeaders())
	c.send(p, wire.NewMsgFeeFilter(noTxFeeRate))
	if !p.inbound() {
		// Ask outbound peers for addresses once, as Core does; inbound ones
		// could feed us a poisoned list.
		c.request(p, wire.NewMsgGetAddr(), 2*time.Minute, nil)
		p.addrTokens += 1000
		if p.target == "" {
			c.addrs.Good(p.addr, c.now)
		}
		// What a peer says of itself beats what gossip said of it (Core's
		// SetServices): a v1-only peer stops being dialled with v2.
		c.addrs.SetServices(p.addr, uint64(p.version.Services))
	}
	for _, t := range c.targets {
		if t.peer == p.id {
			t.established(c.now)
		}
	}
	c.sendPing(p)
	c.peerEvent(EventConnect, p, c.connectText(p))
	c.Logf(slog.LevelInfo, "peer connected", "peer", p.id, "addr", p.addr, "inbound", p.inbound(),
		"agent", p.version.UserAgent, "version", p.version.ProtocolVersion)
	c.sync.PeerEstablished(p.id)
}

func (c *Core) connectText(p *peerState) string {
	return fmt.Sprintf("%s peer connected: %s, version %d", p.connType, protocol.OneLine(p.version.UserAgent, 64), p.version.ProtocolVersion)
}
