package engine

import (
	"net"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/protocol"
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

func addrCount(e *Engine) int {
	n, t := e.addrs.Counts()
	return n + t
}

func TestAddrGossipRateLimited(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(true) // inbound: we never ask it for addresses

	h.deliver(p, bigAddr(1000, h.now(), 0))
	if !h.alive(p) || p.misbehavior != 0 {
		t.Fatal("addr gossip punished")
	}
	// The bucket starts with one token, as in Core.
	if p.addrDropped != 999 || addrCount(h.e) != 1 || h.e.discovery.gossip != 1 {
		t.Fatalf("rate-limited %d, learned %d (gossip %d), want 999 and 1", p.addrDropped, addrCount(h.e), h.e.discovery.gossip)
	}
	// Tokens refill at 0.1/s.
	h.clock.Advance(100 * time.Second)
	h.deliver(p, bigAddr(1000, h.now(), 50))
	if p.addrDropped != 999+990 || h.e.discovery.gossip != 11 {
		t.Fatalf("after 100s: rate-limited %d, gossip %d, want %d and 11", p.addrDropped, h.e.discovery.gossip, 999+990)
	}
	h.e.publish(h.now())
	if info := h.e.Snapshot().Peers[0]; info.AddrDropped != p.addrDropped {
		t.Errorf("snapshot addr_rate_limited = %d, want %d", info.AddrDropped, p.addrDropped)
	}
	// The bucket is capped: a long silence does not bank more than 1000.
	h.clock.Advance(24 * time.Hour)
	h.deliver(p, bigAddr(1000, h.now(), 100))
	if p.addrTokens > addrBucketMax || p.addrDropped != 999+990 {
		t.Errorf("after a day: tokens %v, rate-limited %d", p.addrTokens, p.addrDropped)
	}
}

func TestAddrAnswerToGetAddrAccepted(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(false) // we sent getaddr at verack
	if tracked(p, wire.CmdGetAddr) == nil {
		t.Fatal("no getaddr in flight")
	}
	h.deliver(p, bigAddr(1000, h.now(), 0))
	if p.addrDropped != 0 || h.e.discovery.gossip != 1000 {
		t.Fatalf("answer to getaddr: rate-limited %d, accepted %d, want 0 and 1000", p.addrDropped, h.e.discovery.gossip)
	}
	if n := addrCount(h.e); n < 700 { // a few collide in the buckets of one source group
		t.Errorf("only %d of 1000 addresses in the book", n)
	}
	if tracked(p, wire.CmdGetAddr) != nil || len(p.unsolicited) != 0 {
		t.Error("getaddr not answered by addr")
	}
	// The grant was for one answer, not for ever.
	h.deliver(p, bigAddr(1000, h.now(), 50))
	if p.addrDropped != 1000 {
		t.Errorf("second unrequested addr: rate-limited %d, want 1000", p.addrDropped)
	}
}

func TestAddrV2Learned(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(false)
	msg := wire.NewMsgAddrV2()
	msg.AddrList = append(msg.AddrList,
		wire.NetAddressV2FromBytes(h.now(), wire.SFNodeNetwork, net.IPv4(44, 1, 2, 3).To4(), 8333),
		wire.NetAddressV2FromBytes(h.now(), wire.SFNodeNetwork, net.ParseIP("2a01:4f8::1"), 8333),
		wire.NetAddressV2FromBytes(h.now(), wire.SFNodeNetwork, make([]byte, 32), 8333), // torv3: not dialable
	)
	// Through the codec, as the reader goroutine would hand it over.
	payload, err := protocol.Encode(msg)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := protocol.Decode(wire.CmdAddrV2, payload)
	if err != nil {
		t.Fatal(err)
	}
	h.deliver(p, decoded)
	if addrCount(h.e) != 2 || tracked(p, wire.CmdGetAddr) != nil {
		t.Errorf("learned %d addresses, want 2 (IPv4 and IPv6, not Tor)", addrCount(h.e))
	}
}
