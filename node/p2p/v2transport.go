package p2p

import (
	"log/slog"

	"github.com/btcsuite/btcd/wire/v2"
)

// maxV1Only bounds the addresses remembered as v1-only (a set the
// operator's targets and the address book's peers fill, 40 bytes or so
// each); past it the set starts over, which costs at most one refused v2
// attempt per address.
const maxV1Only = 1024

// wantV2 says whether a dial to addr starts with BIP324: only when we
// speak it, and not to an address that refused it; the operator's targets
// always (their services are unknown before the handshake, and Core tries
// v2 with them too), others when the address book says NODE_P2P_V2.
func (c *Core) wantV2(addr string, manual bool, services uint64) bool {
	if !c.cfg.V2Transport || c.v1Only[addr] {
		return false
	}
	return manual || wire.ServiceFlag(services)&wire.SFNodeP2PV2 != 0
}

// retryV1 handles an outbound peer that hung up on our BIP324 key: the
// address is remembered as v1-only (and loses NODE_P2P_V2 in the address
// book, so the memory survives a restart) and is redialled with v1 at
// once, as Core's reconnection with v1 does.
func (c *Core) retryV1(p *peerState) {
	addr, manual := p.addr.String(), false
	if p.target != "" {
		addr, manual = p.target, true
	}
	if len(c.v1Only) >= maxV1Only {
		clear(c.v1Only)
	}
	c.v1Only[addr] = true
	c.addrs.ClearServices(p.addr, uint64(wire.SFNodeP2PV2))
	c.Logf(slog.LevelInfo, "peer speaks v1 only; redialling with v1", "addr", addr)
	c.dial(addr, manual, false)
}
