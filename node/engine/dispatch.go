package engine

import (
	"net"
	"net/netip"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/addrman"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// unsolicitedPenalty is the misbehaviour cost of a response to a request we
// never made, for the messages the protocol only allows as responses. Five
// of them get a peer dropped.
const unsolicitedPenalty = 20

// penalizedUnsolicited lists the responses that are never legitimate without
// a request. headers (announcements), addr/addrv2 (gossip), inv and block
// (Core accepts unrequested blocks) are allowed unsolicited.
var penalizedUnsolicited = map[string]bool{
	wire.CmdPong: true, wire.CmdNotFound: true, wire.CmdMerkleBlock: true,
	wire.CmdCFilter: true, wire.CmdCFHeaders: true, wire.CmdCFCheckpt: true,
	wire.CmdTx: true, // we said relay=false in our version
}

// preHandshake are the messages the protocol allows before verack.
var preHandshake = map[string]bool{
	wire.CmdVersion: true, wire.CmdVerAck: true, wire.CmdWTxIdRelay: true,
	wire.CmdSendAddrV2: true, protocol.CmdSendTxRcncl: true,
}

// handleMessage applies one message from p.
func (e *Engine) handleMessage(p *peerState, m peer.Inbound, now time.Time) {
	if p.version == nil && m.Command != wire.CmdVersion {
		p.ignored++ // Core ignores everything before version
		return
	}
	if !p.verackRecv && !preHandshake[m.Command] {
		p.ignored++ // and everything else before verack
		return
	}
	var answered *Request
	if IsTrackedResponse(m.Command) {
		if r := p.reqs.match(m.Msg); r != nil {
			answered = r
			if w := r.WrittenAt(); r.Command == wire.CmdPing && !w.IsZero() {
				rtt := m.Received.Sub(w)
				if m.Received.IsZero() {
					rtt = now.Sub(w)
				}
				p.lastPing = rtt
				if p.minPing == 0 || rtt < p.minPing {
					p.minPing = rtt
				}
			}
			if r.Items == nil || len(r.Items) == 0 || r.Command != wire.CmdGetData {
				e.finish(r, Answered)
			}
		} else {
			if p.unsolicited == nil {
				p.unsolicited = make(map[string]uint64)
			}
			p.unsolicited[m.Command]++
			if penalizedUnsolicited[m.Command] {
				e.penalize(p, unsolicitedPenalty, "unsolicited "+m.Command, now)
				return
			}
		}
	} else if penalizedUnsolicited[m.Command] {
		if p.unsolicited == nil {
			p.unsolicited = make(map[string]uint64)
		}
		p.unsolicited[m.Command]++
		e.penalize(p, unsolicitedPenalty, "unsolicited "+m.Command, now)
		return
	}

	switch msg := m.Msg.(type) {
	case *wire.MsgVersion:
		e.handleVersion(p, msg, now)
	case *wire.MsgVerAck:
		e.handleVerack(p, now)
	case *wire.MsgWTxIdRelay:
		if p.verackRecv {
			e.drop(p, violation("wtxidrelay received after verack"), now)
			return
		}
		p.features.WtxidRelay = true
	case *wire.MsgSendAddrV2:
		if p.verackRecv {
			e.drop(p, violation("sendaddrv2 received after verack"), now)
			return
		}
		p.features.SendAddrV2 = true
	case *wire.MsgSendHeaders:
		p.features.SendHeaders = true
	case *protocol.MsgSendCmpct:
		p.features.SendCmpct = true
		p.features.CmpctAnnounce = msg.Announce
		p.features.CmpctVersion = msg.Version
	case *wire.MsgFeeFilter:
		if msg.MinFee >= 0 && msg.MinFee <= noTxFeeRate {
			p.features.FeeFilter = msg.MinFee
		}
	case *wire.MsgPing:
		e.send(p, wire.NewMsgPong(msg.Nonce), now)
	case *wire.MsgGetAddr:
		e.handleGetAddr(p, now)
	case *wire.MsgAddr:
		addrs := make([]addrman.Address, 0, len(msg.AddrList))
		for _, a := range msg.AddrList {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				addrs = append(addrs, addrman.Address{AddrPort: netip.AddrPortFrom(ip.Unmap(), a.Port), Services: uint64(a.Services), Time: a.Timestamp})
			}
		}
		e.learnAddrs(p, addrs, now)
	case *wire.MsgAddrV2:
		addrs := make([]addrman.Address, 0, len(msg.AddrList))
		for _, a := range msg.AddrList {
			// Only IPv4 and IPv6 can be dialled; Tor, I2P and CJDNS are
			// skipped. wire represents each network with its own
			// unexported net.Addr type (never *net.TCPAddr), whose String
			// is an IP address only for IPv4 and IPv6 (Tor gives .onion).
			if a.Addr == nil {
				continue
			}
			if ip, err := netip.ParseAddr(a.Addr.String()); err == nil {
				addrs = append(addrs, addrman.Address{AddrPort: netip.AddrPortFrom(ip.Unmap(), a.Port), Services: uint64(a.Services), Time: a.Timestamp})
			}
		}
		e.learnAddrs(p, addrs, now)
	case *wire.MsgGetData:
		e.handleGetData(p, msg, now)
	case *wire.MsgHeaders:
		e.handleHeaders(p, m, answered, now)
	case *wire.MsgInv:
		e.handleInv(p, msg, now)
	case *wire.MsgGetHeaders:
		e.handleGetHeaders(p, msg, now)
	case *protocol.MsgUnknown:
		if m.Command == protocol.CmdSendTxRcncl {
			p.features.SendTxRcncl = true
			return
		}
		p.ignored++
	case *wire.MsgFilterLoad, *wire.MsgFilterAdd, *wire.MsgFilterClear, *wire.MsgMemPool:
		// Bitcoin Core disconnects these when it does not offer NODE_BLOOM;
		// neither do we, so no Core node sends them to us.
		e.drop(p, violation("%s sent although we do not offer bloom filters", m.Command), now)
	default:
		// block, getblocks, reject, cf* requests: the node keeps no
		// blocks yet; they are counted by command.
	}
}

// handleGetAddr answers an inbound peer's first getaddr with a sample of the
// address book, as Core does (outbound peers' requests are ignored to
// resist fingerprinting). Answering is optional work.
func (e *Engine) handleGetAddr(p *peerState, now time.Time) {
	if !p.inbound() || p.getaddrDone || !p.out.HasRoom() {
		return
	}
	p.getaddrDone = true
	sample := e.addrs.Sample(wire.MaxAddrPerMsg, now)
	if len(sample) == 0 {
		return
	}
	if p.features.SendAddrV2 {
		msg := wire.NewMsgAddrV2()
		for _, a := range sample {
			msg.AddrList = append(msg.AddrList, wire.NetAddressV2FromBytes(a.Time, wire.ServiceFlag(a.Services), a.AddrPort.Addr().AsSlice(), a.AddrPort.Port()))
		}
		e.send(p, msg, now)
		return
	}
	msg := wire.NewMsgAddr()
	for _, a := range sample {
		na := wire.NewNetAddressTimestamp(a.Time, wire.ServiceFlag(a.Services), net.IP(a.AddrPort.Addr().AsSlice()), a.AddrPort.Port())
		msg.AddAddress(na)
	}
	e.send(p, msg, now)
}

// handleGetData answers with notfound: the node keeps no blocks or
// transactions yet, and notfound lets the peer ask elsewhere at once.
func (e *Engine) handleGetData(p *peerState, msg *wire.MsgGetData, now time.Time) {
	if !p.out.HasRoom() || len(msg.InvList) == 0 {
		return
	}
	nf := wire.NewMsgNotFound()
	for _, iv := range msg.InvList {
		nf.AddInvVect(iv)
	}
	e.send(p, nf, now)
}

// Addr gossip rate limit, Bitcoin Core's MAX_ADDR_RATE_PER_SECOND and
// MAX_ADDR_PROCESSING_TOKEN_BUCKET.
const (
	addrRatePerSecond = 0.1
	addrBucketMax     = 1000
)

// learnAddrs adds gossiped addresses within the peer's token bucket.
func (e *Engine) learnAddrs(p *peerState, addrs []addrman.Address, now time.Time) {
	if !p.addrTokenAt.IsZero() {
		p.addrTokens += now.Sub(p.addrTokenAt).Seconds() * addrRatePerSecond
	}
	p.addrTokenAt = now
	p.addrTokens = min(p.addrTokens, addrBucketMax)
	allowed := min(len(addrs), int(p.addrTokens))
	p.addrTokens -= float64(allowed)
	p.addrDropped += uint64(len(addrs) - allowed)
	if allowed > 0 {
		e.addrs.Add(addrs[:allowed], p.addr.Addr(), now)
		e.discovery.learned(allowed)
	}
}
