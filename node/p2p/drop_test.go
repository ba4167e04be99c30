package p2p_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/protocol"
)

func TestDropPath(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true)
	var rec doneRecorder
	h.request(r, wire.NewMsgGetHeaders(), time.Minute, rec.done)
	r.Push(wire.NewMsgPing(1))

	at := h.Advance(time.Second)
	h.N.Do(func(c *p2p.Core) { c.Closed(at, r.ID, p2p.Because(p2p.DropOperator, "disconnected by %s", "a test")) })

	rec.expect(t, p2p.Released)
	if !r.Closed() {
		t.Error("connection not closed")
	}
	if h.N.InQueueLen(r.ID) != 0 {
		t.Error("inbound queue not discarded")
	}
	if h.c.OrderLen() != 0 || h.c.PeerCount() != 0 || h.c.NonceCount() != 0 {
		t.Errorf("peer left behind: order %d, peers %d, nonces %d", h.c.OrderLen(), h.c.PeerCount(), h.c.NonceCount())
	}
	want := p2p.Disconnect{ID: r.ID, Addr: r.Addr.String(), Inbound: true, UserAgent: "/Satoshi:27.0.0/",
		Kind: p2p.DropOperator, Reason: "disconnected by a test", Time: at}
	if got := h.LastDisconnect(); got != want {
		t.Errorf("disconnect = %+v, want %+v", got, want)
	}
	if _, banned := h.c.Banned(r.Addr.Addr(), at); banned {
		t.Error("an operator disconnect discouraged the address")
	}

	// Dropping twice is harmless and records nothing new: the first reason
	// stays.
	h.N.Do(func(c *p2p.Core) {
		c.Drop(r.ID, p2p.Because(p2p.DropOperator, "again"))
		c.Closed(h.Now(), r.ID, p2p.ReadFailure(io.EOF))
	})
	if n := len(h.c.DisconnectLog()); n != 1 {
		t.Errorf("a second drop of the same peer recorded %d disconnects", n)
	}
}

// A socket that never finished the handshake (anyone can open one) is
// recorded when it ends, but logged at DEBUG and makes no event; an
// established peer's end is logged at INFO and makes one.
func TestDisconnectEventsOnlyForEstablishedPeers(t *testing.T) {
	h := newHarness(t)
	stranger := h.Connect(true)
	peer := h.Established(true)
	h.N.Do(func(c *p2p.Core) {
		c.Closed(h.Now(), stranger.ID, p2p.ReadFailure(io.EOF))
		c.Closed(h.Now(), peer.ID, p2p.ReadFailure(io.EOF))
	})
	if n := len(h.c.DisconnectLog()); n != 2 {
		t.Fatalf("%d disconnects recorded, want 2", n)
	}
	events := map[p2p.PeerID]int{}
	for _, ev := range h.N.Events {
		if ev.Kind == p2p.EventDisconnect {
			events[ev.Peer]++
		}
	}
	if events[stranger.ID] != 0 || events[peer.ID] != 1 {
		t.Errorf("disconnect events %v, want one for peer %d only", events, peer.ID)
	}
	levels := map[slog.Level]int{}
	for _, l := range h.N.Logs {
		if l.Msg == "peer disconnected" {
			levels[l.Level]++
		}
	}
	if levels[slog.LevelDebug] != 1 || levels[slog.LevelInfo] != 1 {
		t.Errorf("peer disconnected logged at %v, want once at DEBUG and once at INFO", levels)
	}
}

func TestDisconnectHistoryBounded(t *testing.T) {
	h := newHarness(t)
	var ids []p2p.PeerID
	for i := range 150 {
		r := h.Connect(true)
		ids = append(ids, r.ID)
		h.N.Do(func(c *p2p.Core) { c.Drop(r.ID, p2p.Because(p2p.DropRemoteClose, "close %d", i)) })
	}
	log := h.c.DisconnectLog()
	if len(log) != p2p.MaxDisconnects {
		t.Fatalf("kept %d disconnects, want %d", len(log), p2p.MaxDisconnects)
	}
	if log[0].ID != ids[50] || h.LastDisconnect().ID != ids[149] {
		t.Errorf("kept %d..%d, want the last 100 (%d..%d)", log[0].ID, h.LastDisconnect().ID, ids[50], ids[149])
	}
	s := h.N.Snapshot()
	if len(s.Disconnects) != p2p.MaxDisconnects || s.Disconnects[0].ID != ids[149] {
		t.Errorf("snapshot disconnects: %d, newest first %d", len(s.Disconnects), s.Disconnects[0].ID)
	}
}

func TestReadFailure(t *testing.T) {
	for _, tc := range []struct {
		err        error
		kind       p2p.DropKind
		discourage bool
	}{
		{fmt.Errorf("%w: got 0b110907, want dab5bffa", protocol.ErrWrongMagic), p2p.DropViolation, true},
		{fmt.Errorf("x: %w", protocol.ErrChecksumMismatch), p2p.DropViolation, true},
		{fmt.Errorf("x: %w", protocol.ErrPayloadTooLarge), p2p.DropViolation, true},
		{fmt.Errorf("x: %w", protocol.ErrBadCommand), p2p.DropViolation, true},
		{fmt.Errorf("%w: ping: EOF", protocol.ErrMalformed), p2p.DropViolation, true},
		{io.EOF, p2p.DropRemoteClose, false},
		{fmt.Errorf("reading message header: %w", io.ErrUnexpectedEOF), p2p.DropRemoteClose, false},
		{errors.New("connection reset by peer"), p2p.DropIOError, false},
	} {
		r := p2p.ReadFailure(tc.err)
		if r.Kind != tc.kind || r.Discourage != tc.discourage {
			t.Errorf("ReadFailure(%v) = %s (discourage %v), want %s (discourage %v)", tc.err, r.Kind, r.Discourage, tc.kind, tc.discourage)
		}
		if tc.kind != p2p.DropRemoteClose && !strings.Contains(r.Text, tc.err.Error()) {
			t.Errorf("reason %q hides the error %q", r.Text, tc.err)
		}
	}
}

// A peer whose bytes fail to frame is dropped for it, through the framing
// code node/peer's reader calls, and discouraged.
func TestBadBytesDropAndDiscourage(t *testing.T) {
	h := newHarness(t)
	r := h.Established(true)
	frame, err := protocol.EncodeFrame(protocol.Regtest.Magic(), wire.NewMsgPing(1))
	if err != nil {
		t.Fatal(err)
	}
	frame[len(frame)-1] ^= 0xff // checksum no longer matches
	r.SendBytes(frame)
	h.ExpectDropped(r, p2p.DropViolation, "checksum")
	if _, banned := h.c.Banned(r.Addr.Addr(), h.Now()); !banned {
		t.Error("not discouraged")
	}
	// A late close report for the same peer is ignored.
	h.N.Do(func(c *p2p.Core) { c.Closed(h.Now(), r.ID, p2p.ReadFailure(io.EOF)) })
	if n := len(h.c.DisconnectLog()); n != 1 {
		t.Error("late close recorded twice")
	}
}

// Misbehaving addresses cannot grow the discouragement list without
// bound: at MaxDiscouraged the one expiring soonest makes room, and the
// operator's bans are never evicted.
func TestDiscouragementsBounded(t *testing.T) {
	h := newHarness(t)
	manual := netip.MustParseAddr("192.0.2.1")
	h.c.AddBan(manual, "operator", true, h.Now(), time.Minute)
	ipv6 := func(i int) netip.Addr {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
	}
	soonest := ipv6(0)
	h.c.AddBan(soonest, "misbehaving", false, h.Now(), time.Hour)
	for i := 1; i < p2p.MaxDiscouraged; i++ {
		h.c.AddBan(ipv6(i), "misbehaving", false, h.Now(), p2p.Discouragement)
	}
	if err := h.c.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	r := h.Established(true)
	frame, err := protocol.EncodeFrame(protocol.Regtest.Magic(), wire.NewMsgPing(1))
	if err != nil {
		t.Fatal(err)
	}
	frame[len(frame)-1] ^= 0xff
	r.SendBytes(frame)
	h.ExpectDropped(r, p2p.DropViolation, "checksum")
	if _, banned := h.c.Banned(r.Addr.Addr(), h.Now()); !banned {
		t.Error("the new misbehaving address is not discouraged")
	}
	if _, banned := h.c.Banned(soonest, h.Now()); banned {
		t.Error("the discouragement expiring soonest was kept past the bound")
	}
	if _, banned := h.c.Banned(ipv6(1), h.Now()); !banned {
		t.Error("a later discouragement was evicted")
	}
	if _, banned := h.c.Banned(manual, h.Now()); !banned {
		t.Error("the operator's ban was evicted")
	}
	if n := len(h.c.Snapshot(h.Now()).Bans); n != p2p.MaxDiscouraged+1 {
		t.Errorf("%d bans listed, want %d discouragements and the manual ban", n, p2p.MaxDiscouraged)
	}
	if err := h.c.CheckInvariants(); err != nil {
		t.Error(err)
	}
}

func TestBanListRules(t *testing.T) {
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	b, err := p2p.NewBanList([]p2p.Ban{{Addr: "203.0.113.7", Reason: "spam", Until: now.Add(48 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("203.0.113.7")
	ban, ok := b.Banned(ip, now.Add(47*time.Hour))
	if !ok || !ban.Manual || ban.Reason != "spam" {
		t.Fatalf("loaded ban = %+v, %v", ban, ok)
	}
	// Discouragements are not the operator's: never saved.
	if _, changed := b.Add(netip.MustParseAddr("198.51.100.1"), "bad", false, now, p2p.Discouragement); changed {
		t.Error("a discouragement asks for a save")
	}
	if l := b.Manual(); len(l) != 1 || l[0].Addr != "203.0.113.7" {
		t.Errorf("manual = %+v", l)
	}
	// IPv4-mapped forms are the same address.
	if _, ok := b.Banned(netip.MustParseAddr("::ffff:203.0.113.7"), now); !ok {
		t.Error("mapped address not banned")
	}
	if l := b.List(now); len(l) != 2 || l[0].Addr != "198.51.100.1" {
		t.Errorf("list = %+v", l)
	}
	found, manual := b.Remove(ip)
	if !found || !manual {
		t.Fatalf("remove = %v, %v", found, manual)
	}
	if found, _ := b.Remove(ip); found {
		t.Error("removed twice")
	}
	if _, err := p2p.NewBanList([]p2p.Ban{{Addr: "not-an-ip"}}); err == nil {
		t.Error("a bad address in the ban list accepted")
	}
}

func TestDiscouragementDoesNotShortenManualBan(t *testing.T) {
	b, _ := p2p.NewBanList(nil)
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("203.0.113.7")
	b.Add(ip, "operator", true, now, 7*24*time.Hour)
	got, _ := b.Add(ip, "misbehaving", false, now, p2p.Discouragement)
	if !got.Manual || got.Reason != "operator" {
		t.Errorf("add returned %+v, want the manual ban", got)
	}
	ban, ok := b.Banned(ip, now.Add(6*24*time.Hour))
	if !ok || !ban.Manual || !ban.Until.Equal(now.Add(7*24*time.Hour)) {
		t.Errorf("ban = %+v %v, want the week-long manual ban", ban, ok)
	}
	// A manual ban replaces a discouragement.
	ip2 := netip.MustParseAddr("203.0.113.8")
	b.Add(ip2, "misbehaving", false, now, p2p.Discouragement)
	b.Add(ip2, "operator", true, now, time.Hour)
	if ban, _ := b.Banned(ip2, now); !ban.Manual {
		t.Error("manual ban did not replace the discouragement")
	}
}

// A manual ban that has run out (but is not yet pruned) must not swallow a
// new discouragement.
func TestExpiredManualBanDoesNotBlockDiscouragement(t *testing.T) {
	b, _ := p2p.NewBanList(nil)
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("203.0.113.7")
	b.Add(ip, "operator", true, now, time.Hour)
	later := now.Add(2 * time.Hour)
	b.Add(ip, "misbehaving", false, later, p2p.Discouragement)
	if _, ok := b.Banned(ip, later.Add(time.Hour)); !ok {
		t.Error("misbehaving address not discouraged because an expired manual ban was in the way")
	}
}

// The operator's bans are saved (a job) whenever they change, and only
// then.
func TestBanSavedAsJob(t *testing.T) {
	h := newHarness(t, func(c *p2p.Config) { c.Persist = true })
	r := h.Established(true)
	var err error
	h.N.Do(func(c *p2p.Core) { _, err = c.Ban(h.Now(), "203.0.113.7:8333", "spam", time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	saves := func() (n int, last p2p.SaveBans) {
		for _, j := range h.N.Jobs {
			if s, ok := j.(p2p.SaveBans); ok {
				n, last = n+1, s
			}
		}
		return
	}
	if n, last := saves(); n != 1 || len(last.Bans) != 1 || last.Bans[0].Addr != "203.0.113.7" || !last.Bans[0].Manual {
		t.Fatalf("after a ban: %d saves, last %+v", n, last)
	}
	// Misbehaviour discourages without a save.
	r.Send(wire.NewMsgFilterClear())
	if n, _ := saves(); n != 1 {
		t.Errorf("a discouragement saved the ban list (%d saves)", n)
	}
	h.N.Do(func(c *p2p.Core) { c.Unban(h.Now(), "203.0.113.7") })
	if n, last := saves(); n != 2 || len(last.Bans) != 0 {
		t.Errorf("after unban: %d saves, last %+v", n, last)
	}
}

func TestParseBanAddr(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3.4":            "1.2.3.4",
		"1.2.3.4:8333":       "1.2.3.4",
		"::ffff:1.2.3.4":     "1.2.3.4",
		"[2001:db8::1]:8333": "2001:db8::1",
		"2001:db8::1":        "2001:db8::1",
		"[2001:db8::1]":      "2001:db8::1",
	} {
		got, err := p2p.ParseBanAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseBanAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "example.com", "1.2.3:80"} {
		if _, err := p2p.ParseBanAddr(bad); err == nil {
			t.Errorf("ParseBanAddr(%q) succeeded", bad)
		}
	}
}
