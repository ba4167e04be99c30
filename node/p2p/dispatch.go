package p2p

import (
	"net/netip"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
)

// unsolicitedPenalty is the misbehaviour cost of a response to a request we
// never made, for the messages the protocol only allows as responses. Five
// of them get a peer dropped.
const unsolicitedPenalty = 20

// redundantPenalty is the cost of repeating a one-time message (a second
// version, verack, sendheaders...): an honest peer sends each once, so a
// hundred repeats drop the peer instead of costing us forever.
const redundantPenalty = 1

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

// Message hands the core one message from peer id, as its reader
// goroutine decoded it, outside a round of service. The engine serves
// messages with ServeRound; tests and benchmarks use Message to hand one
// in directly.
func (c *Core) Message(now time.Time, id PeerID, m *Message) {
	c.now = now
	p, ok := c.peers[id]
	if !ok {
		return
	}
	c.stampRequests(p, m.Stamps)
	c.handleMessage(p, m)
}

// handleMessage applies one message from p.
func (c *Core) handleMessage(p *peerState, m *Message) {
	if p.version == nil && m.Command != wire.CmdVersion {
		p.ignored++ // Core ignores everything before version
		return
	}
	if !p.verackRecv && !preHandshake[m.Command] {
		p.ignored++ // and everything else before verack
		return
	}
	answered, ok := c.matchResponse(p, m)
	if !ok {
		return
	}

	switch msg := m.Msg.(type) {
	case *wire.MsgVersion:
		c.handleVersion(p, msg)
	case *wire.MsgVerAck:
		c.handleVerack(p)
	case *wire.MsgWTxIdRelay:
		c.negotiate(p, &p.features.WtxidRelay, m.Command)
	case *wire.MsgSendAddrV2:
		c.negotiate(p, &p.features.SendAddrV2, m.Command)
	case *wire.MsgSendHeaders:
		if p.features.SendHeaders {
			c.redundant(p, m.Command)
			return
		}
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
		c.sendPong(p, msg.Nonce)
	case *wire.MsgPong:
		// Matched above; its round trip is recorded.
	case *wire.MsgGetAddr:
		c.handleGetAddr(p)
	case *wire.MsgAddr:
		c.learnAddrs(p, len(msg.AddrList), func(i int) (netip.Addr, uint16, wire.ServiceFlag, time.Time) {
			a := msg.AddrList[i]
			ip, _ := netip.AddrFromSlice(a.IP)
			return ip, a.Port, a.Services, a.Timestamp
		})
	case *wire.MsgAddrV2:
		c.learnAddrs(p, len(msg.AddrList), func(i int) (netip.Addr, uint16, wire.ServiceFlag, time.Time) {
			// Only IPv4 and IPv6 can be dialled; Tor, I2P and CJDNS are
			// skipped. wire represents each network with its own
			// unexported net.Addr type (never *net.TCPAddr), whose String
			// is an IP address only for IPv4 and IPv6 (Tor gives .onion).
			a := msg.AddrList[i]
			var ip netip.Addr
			if a.Addr != nil {
				ip, _ = netip.ParseAddr(a.Addr.String())
			}
			return ip, a.Port, a.Services, a.Timestamp
		})
	case *protocol.MsgUnknown:
		// wire has no type for sendtxrcncl (BIP330), so it arrives as an
		// unknown message; every other unknown command is ignored.
		switch m.Command {
		case protocol.CmdSendTxRcncl:
			c.negotiate(p, &p.features.SendTxRcncl, m.Command)
		default:
			p.ignored++
		}
	case *wire.MsgFilterLoad, *wire.MsgFilterAdd, *wire.MsgFilterClear, *wire.MsgMemPool:
		// Bitcoin Core disconnects these when it does not offer NODE_BLOOM;
		// neither do we, so no Core node sends them to us.
		c.drop(p, Violation("%s sent although we do not offer bloom filters", m.Command))
	default:
		// Headers, inventory, data requests and blocks belong to sync.
		c.sync.Message(p.id, m, answered)
	}
}

// matchResponse matches a response to its tracked request and records a
// ping's round trip. It penalizes a response the protocol only allows to a
// request we made, and reports false when the message needs no further
// handling (it was penalized).
func (c *Core) matchResponse(p *peerState, m *Message) (answered *Request, ok bool) {
	if IsTrackedResponse(m.Command) {
		if r := p.reqs.match(m); r != nil {
			c.linkAnswer(r, m)
			if r.Command == wire.CmdPing && !r.Written.IsZero() {
				// Every reader stamps a message with when it arrived.
				rtt := m.Received.Sub(r.Written)
				p.lastPing = rtt
				if p.minPing == 0 || rtt < p.minPing {
					p.minPing = rtt
				}
			}
			if len(r.Items) == 0 {
				// Fully answered: getdata items answer one by one.
				c.finish(r, Answered)
			}
			return r, true
		}
	}
	if !IsTrackedResponse(m.Command) && !penalizedUnsolicited[m.Command] {
		return nil, true
	}
	if penalizedUnsolicited[m.Command] {
		if p.unsolicited == nil {
			p.unsolicited = make(map[string]uint64)
		}
		p.unsolicited[m.Command]++
		c.penalize(p, unsolicitedPenalty, "unsolicited "+m.Command)
		return nil, false
	}
	// A response type the protocol also allows unasked (headers, inv,
	// addr, block announcements): normal traffic, counted apart so that
	// nobody mistakes it for misbehaviour.
	if p.announcements == nil {
		p.announcements = make(map[string]uint64)
	}
	p.announcements[m.Command]++
	return nil, true
}

// negotiate records a feature the peer may announce once, before verack.
func (c *Core) negotiate(p *peerState, flag *bool, command string) {
	if p.verackRecv && command != protocol.CmdSendTxRcncl {
		c.drop(p, Violation("%s received after verack", command))
		return
	}
	if *flag {
		c.redundant(p, command)
		return
	}
	*flag = true
}

// redundant counts and penalizes a repeated one-time message.
func (c *Core) redundant(p *peerState, command string) {
	p.ignored++
	p.redundant++
	c.penalize(p, redundantPenalty, "repeated "+command)
}
