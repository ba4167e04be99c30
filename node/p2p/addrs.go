package p2p

import (
	"net/netip"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/addrman"
)

// Addr gossip rate limit, Bitcoin Core's MAX_ADDR_RATE_PER_SECOND and
// MAX_ADDR_PROCESSING_TOKEN_BUCKET.
const (
	addrRatePerSecond = 0.1
	addrBucketMax     = 1000
)

// handleGetAddr answers an inbound peer's first getaddr with a sample of the
// address book, as Core does (outbound peers' requests are ignored to
// resist fingerprinting). Answering is optional work.
func (c *Core) handleGetAddr(p *peerState) {
	if !p.inbound() {
		return
	}
	if p.getaddrDone {
		c.redundant(p, wire.CmdGetAddr)
		return
	}
	if !p.hasRoom() {
		return
	}
	p.getaddrDone = true
	sample := c.addrs.Sample(wire.MaxAddrPerMsg, c.now)
	if len(sample) == 0 {
		return
	}
	if p.features.SendAddrV2 {
		msg := wire.NewMsgAddrV2()
		for _, a := range sample {
			msg.AddrList = append(msg.AddrList, wire.NetAddressV2FromBytes(a.Time, wire.ServiceFlag(a.Services), a.AddrPort.Addr().AsSlice(), a.AddrPort.Port()))
		}
		c.send(p, msg)
		return
	}
	msg := wire.NewMsgAddr()
	for _, a := range sample {
		na := wire.NewNetAddressTimestamp(a.Time, wire.ServiceFlag(a.Services), a.AddrPort.Addr().AsSlice(), a.AddrPort.Port())
		msg.AddAddress(na)
	}
	c.send(p, msg)
}

// learnAddrs adds gossiped addresses within the peer's token bucket. The
// message's n entries are rate-limited first, as Core does, and only the
// allowed ones are converted (entry returns the i-th; an invalid IP, such
// as a network we cannot dial, is skipped): a peer's 1,000-entry message
// costs conversion work only for what the bucket lets in.
func (c *Core) learnAddrs(p *peerState, n int, entry func(i int) (netip.Addr, uint16, wire.ServiceFlag, time.Time)) {
	if !p.addrTokenAt.IsZero() {
		p.addrTokens += c.now.Sub(p.addrTokenAt).Seconds() * addrRatePerSecond
	}
	p.addrTokenAt = c.now
	p.addrTokens = min(p.addrTokens, addrBucketMax)
	allowed := min(n, int(p.addrTokens))
	p.addrTokens -= float64(allowed)
	p.addrDropped += uint64(n - allowed)
	addrs := make([]addrman.Address, 0, allowed)
	for i := range allowed {
		if ip, port, services, at := entry(i); ip.IsValid() {
			addrs = append(addrs, addrman.Address{AddrPort: netip.AddrPortFrom(ip.Unmap(), port), Services: uint64(services), Time: at})
		}
	}
	if len(addrs) > 0 {
		c.addrs.Add(addrs, p.addr.Addr(), c.now)
		c.discovery.learned(len(addrs))
	}
}
