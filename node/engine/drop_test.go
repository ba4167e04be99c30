package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

func TestDropPath(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(true)
	h.link(p).sent = peer.Traffic{Bytes: 1000}
	h.link(p).recv = peer.Traffic{Bytes: 2000}
	var rec doneRecorder
	h.e.sendRequest(p, wire.NewMsgGetHeaders(), time.Minute, rec.done, h.now())
	h.push(p, wire.NewMsgPing(1))

	at := h.clock.Advance(time.Second)
	h.e.drop(p, dropReason(DropOperator, "disconnected by %s", "a test"), at)

	rec.expect(t, Released)
	if h.link(p).closeCount() != 1 {
		t.Errorf("link closed %d times, want 1", h.link(p).closeCount())
	}
	if p.in.Push(peer.Inbound{Size: 1}) || p.in.Len() != 0 {
		t.Error("inbound queue not closed and discarded")
	}
	if p.out.Push(peer.Outbound{Frame: []byte{1}, Control: true}) || p.out.Bytes() != 0 {
		t.Error("outbound queue not closed and discarded")
	}
	if len(h.e.order) != 0 || len(h.e.peers) != 0 || len(h.e.nonces) != 0 {
		t.Errorf("peer left behind: order %v, peers %d, nonces %d", h.e.order, len(h.e.peers), len(h.e.nonces))
	}
	want := Disconnect{ID: p.id, Addr: p.addr.String(), Inbound: true, UserAgent: "/Satoshi:27.0.0/",
		Kind: DropOperator, Reason: "disconnected by a test", Time: at}
	if got := h.lastDisconnect(); got != want {
		t.Errorf("disconnect = %+v, want %+v", got, want)
	}
	if h.e.closedSent != 1000 || h.e.closedRecv != 2000 {
		t.Errorf("closed traffic = %d/%d, want 1000/2000", h.e.closedSent, h.e.closedRecv)
	}
	if _, banned := h.e.bans.banned(p.addr.Addr(), at); banned {
		t.Error("an operator disconnect discouraged the address")
	}

	// Dropping twice is harmless and records nothing new.
	h.e.drop(p, dropReason(DropOperator, "again"), at)
	if len(h.e.disconnects) != 1 || h.link(p).closeCount() != 1 {
		t.Error("a second drop of the same peer had effects")
	}
	// The snapshot keeps the traffic of closed connections.
	h.e.publish(at)
	if st := h.e.Snapshot().Status; st.BytesSent != 1000 || st.BytesRecv != 2000 {
		t.Errorf("status traffic %d/%d", st.BytesSent, st.BytesRecv)
	}
}

func TestDisconnectHistoryBounded(t *testing.T) {
	h := newTestEngine(t)
	var ids []PeerID
	for i := range 150 {
		p := h.connectFakePeer(true)
		ids = append(ids, p.id)
		h.e.drop(p, dropReason(DropRemoteClose, "close %d", i), h.now())
	}
	if len(h.e.disconnects) != maxDisconnects {
		t.Fatalf("kept %d disconnects, want %d", len(h.e.disconnects), maxDisconnects)
	}
	if h.e.disconnects[0].ID != ids[50] || h.lastDisconnect().ID != ids[149] {
		t.Errorf("kept %d..%d, want the last 100 (%d..%d)", h.e.disconnects[0].ID, h.lastDisconnect().ID, ids[50], ids[149])
	}
	h.e.publish(h.now())
	s := h.e.Snapshot()
	if len(s.Disconnects) != maxDisconnects || s.Disconnects[0].ID != ids[149] {
		t.Errorf("snapshot disconnects: %d, newest first %d", len(s.Disconnects), s.Disconnects[0].ID)
	}
}

func TestClassifyConnError(t *testing.T) {
	for _, tc := range []struct {
		err        error
		kind       DropKind
		discourage bool
	}{
		{fmt.Errorf("%w: got 0b110907, want dab5bffa", protocol.ErrWrongMagic), DropViolation, true},
		{fmt.Errorf("x: %w", protocol.ErrChecksumMismatch), DropViolation, true},
		{fmt.Errorf("x: %w", protocol.ErrPayloadTooLarge), DropViolation, true},
		{fmt.Errorf("x: %w", protocol.ErrBadCommand), DropViolation, true},
		{fmt.Errorf("%w: ping: EOF", protocol.ErrMalformed), DropViolation, true},
		{io.EOF, DropRemoteClose, false},
		{fmt.Errorf("reading message header: %w", io.ErrUnexpectedEOF), DropRemoteClose, false},
		{net.ErrClosed, DropRemoteClose, false},
		{fmt.Errorf("%w: the peer accepted no bytes for 1m0s", peer.ErrSendStall), DropStall, false},
		{errors.New("connection reset by peer"), DropIOError, false},
	} {
		r := classifyConnError(tc.err)
		if r.kind != tc.kind || r.discourage != tc.discourage {
			t.Errorf("classifyConnError(%v) = %s (discourage %v), want %s (discourage %v)", tc.err, r.kind, r.discourage, tc.kind, tc.discourage)
		}
		if tc.kind != DropRemoteClose && !strings.Contains(r.text, tc.err.Error()) {
			t.Errorf("reason %q hides the error %q", r.text, tc.err)
		}
	}
}

func TestConnErrorEventDropsAndDiscourages(t *testing.T) {
	h := newTestEngine(t)
	p := h.established(true)
	h.e.handleEvent(evClosed{id: p.id, err: fmt.Errorf("x: %w", protocol.ErrChecksumMismatch)}, h.now())
	h.expectDropped(p, DropViolation, "checksum")
	if _, banned := h.e.bans.banned(p.addr.Addr(), h.now()); !banned {
		t.Error("not discouraged")
	}
	// A late event for the same peer is ignored.
	h.e.handleEvent(evClosed{id: p.id, err: io.EOF}, h.now())
	if len(h.e.disconnects) != 1 {
		t.Error("late close event recorded twice")
	}
}

func TestBansPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bans.json")
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	b, err := loadBans(path)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("203.0.113.7")
	if _, err := b.add(ip, "spam", true, now, 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	// Discouragements are memory only.
	if _, err := b.add(netip.MustParseAddr("198.51.100.1"), "bad", false, now, discouragement); err != nil {
		t.Fatal(err)
	}

	b2, err := loadBans(path)
	if err != nil {
		t.Fatal(err)
	}
	ban, ok := b2.banned(ip, now.Add(47*time.Hour))
	if !ok || !ban.Manual || ban.Reason != "spam" || !ban.Until.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("reloaded ban = %+v, %v", ban, ok)
	}
	if _, ok := b2.banned(netip.MustParseAddr("198.51.100.1"), now); ok {
		t.Error("a discouragement was persisted")
	}
	// IPv4-mapped forms are the same address.
	if _, ok := b2.banned(netip.MustParseAddr("::ffff:203.0.113.7"), now); !ok {
		t.Error("mapped address not banned")
	}
	if l := b2.list(now); len(l) != 1 || l[0].Addr != "203.0.113.7" {
		t.Errorf("list = %+v", l)
	}

	found, err := b2.remove(ip)
	if !found || err != nil {
		t.Fatalf("remove = %v, %v", found, err)
	}
	if found, _ := b2.remove(ip); found {
		t.Error("removed twice")
	}
	b3, err := loadBans(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b3.banned(ip, now); ok {
		t.Error("unban not persisted")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestBanFileErrors(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"corrupt": "{not json",
		"version": `{"version": 2, "bans": []}`,
		"addr":    `{"version": 1, "bans": [{"addr": "not-an-ip"}]}`,
	} {
		path := filepath.Join(dir, name+".json")
		os.WriteFile(path, []byte(content), 0o600)
		if _, err := loadBans(path); err == nil {
			t.Errorf("%s ban file loaded without error", name)
		}
	}
	// And New refuses to start with a corrupt one rather than forget bans.
	os.WriteFile(filepath.Join(dir, "bans.json"), []byte("{not json"), 0o600)
	if _, err := New(Config{Network: protocol.Regtest, DataDir: dir}); err == nil {
		t.Error("New accepted a corrupt ban file")
	}
}

func TestDiscouragementDoesNotShortenManualBan(t *testing.T) {
	b, _ := loadBans("")
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("203.0.113.7")
	b.add(ip, "operator", true, now, 7*24*time.Hour)
	got, _ := b.add(ip, "misbehaving", false, now, discouragement)
	if !got.Manual || got.Reason != "operator" {
		t.Errorf("add returned %+v, want the manual ban", got)
	}
	ban, ok := b.banned(ip, now.Add(6*24*time.Hour))
	if !ok || !ban.Manual || !ban.Until.Equal(now.Add(7*24*time.Hour)) {
		t.Errorf("ban = %+v %v, want the week-long manual ban", ban, ok)
	}
	// A manual ban replaces a discouragement.
	ip2 := netip.MustParseAddr("203.0.113.8")
	b.add(ip2, "misbehaving", false, now, discouragement)
	b.add(ip2, "operator", true, now, time.Hour)
	if ban, _ := b.banned(ip2, now); !ban.Manual {
		t.Error("manual ban did not replace the discouragement")
	}
}

// A manual ban that has run out (but is not yet pruned by list) must not
// swallow a new discouragement.
func TestExpiredManualBanDoesNotBlockDiscouragement(t *testing.T) {
	b, _ := loadBans("")
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("203.0.113.7")
	b.add(ip, "operator", true, now, time.Hour)
	later := now.Add(2 * time.Hour)
	b.add(ip, "misbehaving", false, later, discouragement)
	if _, ok := b.banned(ip, later.Add(time.Hour)); !ok {
		t.Error("misbehaving address not discouraged because an expired manual ban was in the way")
	}
}

func TestParseBanAddr(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3.4":            "1.2.3.4",
		"1.2.3.4:8333":       "1.2.3.4",
		"::ffff:1.2.3.4":     "1.2.3.4",
		"[2001:db8::1]:8333": "2001:db8::1",
		"2001:db8::1":        "2001:db8::1",
	} {
		got, err := ParseBanAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseBanAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "example.com", "1.2.3:80"} {
		if _, err := ParseBanAddr(bad); err == nil {
			t.Errorf("ParseBanAddr(%q) succeeded", bad)
		}
	}
}
