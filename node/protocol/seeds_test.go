package protocol

import (
	"net/netip"
	"strconv"
	"testing"
)

// Every embedded list parses, holds only routable clearnet addresses on
// its network's port (no CJDNS fc00::/8, which looks like IPv6 but is not
// reachable here), and has no duplicates.
func TestFixedSeeds(t *testing.T) {
	cjdns := netip.MustParsePrefix("fc00::/8")
	for _, n := range Networks {
		seeds := FixedSeeds(n)
		_, hasFile := seedFile[n]
		if hasFile != (len(seeds) > 0) {
			t.Errorf("%s: %d fixed seeds", n, len(seeds))
		}
		port, _ := strconv.Atoi(n.DefaultPort())
		seen := map[netip.AddrPort]bool{}
		for _, s := range seeds {
			a := s.Addr()
			if int(s.Port()) != port || !a.IsGlobalUnicast() || a.IsPrivate() || cjdns.Contains(a) || seen[s] {
				t.Errorf("%s: bad or repeated seed %s", n, s)
			}
			seen[s] = true
		}
	}
	if n := len(FixedSeeds(Mainnet)); n < 200 {
		t.Errorf("only %d mainnet fixed seeds", n)
	}
}

func TestParseSeedsRejectsGarbage(t *testing.T) {
	if _, err := parseSeeds("1.2.3.4:8333 # AS1\nnot-an-address:8333\n"); err == nil {
		t.Error("a bad line parsed")
	}
	got, err := parseSeeds("# comment\n\n[2001:db8::1]:8333 # AS2\n")
	if err != nil || len(got) != 1 || got[0].String() != "[2001:db8::1]:8333" {
		t.Errorf("parse = %v, %v", got, err)
	}
}
