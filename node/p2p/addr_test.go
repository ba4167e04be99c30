package p2p_test

import (
	"net"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
)

// bigAddr is an addr message with n distinct routable addresses spread over
// many /16s, so the address book has room for all of them.
func bigAddr(n int, seen time.Time, salt byte) *wire.MsgAddr {
	msg := wire.NewMsgAddr()
	for i := range n {
		ip := net.IPv4(byte(11+i%180), byte(i/180)+salt, byte(i), 7)
		msg.AddAddress(wire.NewNetAddressTimestamp(seen, wire.SFNodeNetwork, ip, 8333))
	}
	return msg
}

func (h *harness) addrCount() int {
	n, t := h.c.Addrs().Counts()
	return n + t
}

func TestAddrGossipRateLimited(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true) // inbound: we never ask it for addresses
	r.AutoRead = true

	r.Send(bigAddr(1000, h.Now(), 0))
	if info := r.Info(); !r.Alive() || info.Misbehavior != 0 {
		t.Fatal("addr gossip punished")
	}
	// The bucket starts with one token, as in Core.
	if info := r.Info(); info.AddrDropped != 999 || h.addrCount() != 1 || h.c.DiscoveryGossip() != 1 {
		t.Fatalf("rate-limited %d, learned %d (gossip %d), want 999 and 1", info.AddrDropped, h.addrCount(), h.c.DiscoveryGossip())
	}
	// Tokens refill at 0.1/s.
	h.Advance(100 * time.Second)
	r.Send(bigAddr(1000, h.Now(), 50))
	if info := r.Info(); info.AddrDropped != 999+990 || h.c.DiscoveryGossip() != 11 {
		t.Fatalf("after 100s: rate-limited %d, gossip %d, want %d and 11", info.AddrDropped, h.c.DiscoveryGossip(), 999+990)
	}
	// The bucket is capped: a long silence does not bank more than 1000.
	h.Advance(24 * time.Hour)
	r.Send(bigAddr(1000, h.Now(), 100))
	if d, info := h.debug(r), r.Info(); d.AddrTokens > p2p.AddrBucketMax || info.AddrDropped != 999+990 {
		t.Errorf("after a day: tokens %v, rate-limited %d", d.AddrTokens, info.AddrDropped)
	}
}

func TestAddrAnswerToGetAddrAccepted(t *testing.T) {
	h := newHarness(t)
	r := h.Established(false) // we sent getaddr at verack
	if h.tracked(r, wire.CmdGetAddr) == nil {
		t.Fatal("no getaddr in flight")
	}
	r.Send(bigAddr(1000, h.Now(), 0))
	if info := r.Info(); info.AddrDropped != 0 || h.c.DiscoveryGossip() != 1000 {
		t.Fatalf("answer to getaddr: rate-limited %d, accepted %d, want 0 and 1000", info.AddrDropped, h.c.DiscoveryGossip())
	}
	if n := h.addrCount(); n < 700 { // a few collide in the buckets of one source group
		t.Errorf("only %d of 1000 addresses in the book", n)
	}
	if info := r.Info(); h.tracked(r, wire.CmdGetAddr) != nil || len(info.Unsolicited) != 0 {
		t.Error("getaddr not answered by addr")
	}
	// The grant was for one answer, not for ever.
	r.Send(bigAddr(1000, h.Now(), 50))
	if info := r.Info(); info.AddrDropped != 1000 {
		t.Errorf("second unrequested addr: rate-limited %d, want 1000", info.AddrDropped)
	}
}

func TestAddrV2Learned(t *testing.T) {
	h := newHarness(t)
	r := h.Established(false)
	msg := wire.NewMsgAddrV2()
	msg.AddrList = append(msg.AddrList,
		wire.NetAddressV2FromBytes(h.Now(), wire.SFNodeNetwork, net.IPv4(44, 1, 2, 3).To4(), 8333),
		wire.NetAddressV2FromBytes(h.Now(), wire.SFNodeNetwork, net.ParseIP("2a01:4f8::1"), 8333),
		wire.NetAddressV2FromBytes(h.Now(), wire.SFNodeNetwork, make([]byte, 32), 8333), // torv3: not dialable
	)
	r.Send(msg)
	if h.addrCount() != 2 || h.tracked(r, wire.CmdGetAddr) != nil {
		t.Errorf("learned %d addresses, want 2 (IPv4 and IPv6, not Tor)", h.addrCount())
	}
}
