package engine

import (
	"net"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

// ourServices are the services the node offers: it understands witness
// serialization. It serves no blocks, so it claims neither NETWORK nor
// NETWORK_LIMITED (header serving needs no service bit).
const ourServices = wire.SFNodeWitness

// noTxFeeRate is the feefilter the node sends: Bitcoin Core's MAX_MONEY in
// sat/kvB, which tells the peer not to announce any transaction (the node
// relays none, and says so with relay=false in its version too).
const noTxFeeRate = 21_000_000 * 100_000_000

// sendVersion queues our version message; the nonce lets us recognise a
// connection to ourselves.
func (e *Engine) sendVersion(p *peerState, now time.Time) {
	p.localNonce = e.rng.Uint64()
	e.nonces[p.localNonce] = p.id
	you := wire.NewNetAddressIPPort(net.IP(p.addr.Addr().AsSlice()), p.addr.Port(), 0)
	me := wire.NewNetAddressIPPort(net.IPv4zero, 0, ourServices)
	v := wire.NewMsgVersion(me, you, p.localNonce, e.chain.Height())
	v.ProtocolVersion = int32(protocol.ProtocolVersion)
	v.Services = ourServices
	v.UserAgent = e.cfg.UserAgent
	v.Timestamp = time.Unix(now.Unix(), 0)
	v.DisableRelayTx = true
	p.versionSent = true
	e.send(p, v, now)
}

// handleVersion checks the peer's version and answers it. The order of our
// replies follows Bitcoin Core: our version (inbound), then wtxidrelay and
// sendaddrv2, which BIP339 and BIP155 require between version and verack,
// then verack.
func (e *Engine) handleVersion(p *peerState, v *wire.MsgVersion, now time.Time) {
	if p.version != nil {
		p.ignored++ // Core ignores a redundant version
		return
	}
	if owner, self := e.nonces[v.Nonce]; self && owner != p.id {
		e.drop(p, dropReason(DropRefused, "connected to self (version nonce %x is ours)", v.Nonce), now)
		return
	}
	if v.ProtocolVersion < protocol.MinPeerProtocolVersion {
		e.drop(p, dropReason(DropRefused, "obsolete protocol version %d (minimum %d)", v.ProtocolVersion, protocol.MinPeerProtocolVersion), now)
		return
	}
	p.version = v
	p.features.Relay = !v.DisableRelayTx
	if !p.versionSent {
		e.sendVersion(p, now)
	}
	if uint32(v.ProtocolVersion) >= wire.AddrV2Version {
		e.send(p, wire.NewMsgWTxIdRelay(), now)
		e.send(p, wire.NewMsgSendAddrV2(), now)
	}
	e.send(p, wire.NewMsgVerAck(), now)
	e.log.Debug("version received", "peer", p.id, "version", v.ProtocolVersion, "agent", v.UserAgent)
}

// handleVerack completes the handshake: announce what we want, learn
// addresses, and start pinging.
func (e *Engine) handleVerack(p *peerState, now time.Time) {
	if p.version == nil {
		// Core ignores messages other than version before version.
		p.ignored++
		return
	}
	if p.verackRecv {
		p.ignored++
		return
	}
	p.verackRecv = true
	e.send(p, wire.NewMsgSendHeaders(), now)
	e.send(p, wire.NewMsgFeeFilter(noTxFeeRate), now)
	if !p.inbound() {
		// Ask outbound peers for addresses once, as Core does; inbound ones
		// could feed us a poisoned list.
		e.sendRequest(p, wire.NewMsgGetAddr(), 2*time.Minute, nil, now)
		p.addrTokens += 1000
		if p.target == "" {
			e.addrs.Good(p.addr, now)
		}
	}
	for _, t := range e.targets {
		if t.peer == p.id {
			t.established()
		}
	}
	e.sendPing(p, now)
	if e.sync.state == SyncSynced {
		e.askTip(p, now)
	} else {
		e.maintainSync(now)
	}
	e.event(now, EventConnect, p, "%s peer connected: %s, version %d", p.connType, protocol.OneLine(p.version.UserAgent, 64), p.version.ProtocolVersion)
	e.log.Info("peer connected", "peer", p.id, "addr", p.addr, "inbound", p.inbound(),
		"agent", p.version.UserAgent, "version", p.version.ProtocolVersion)
}
