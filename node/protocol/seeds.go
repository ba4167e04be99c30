package protocol

import (
	"embed"
	"fmt"
	"net/netip"
	"strings"
)

// The fixed seeds are data from Bitcoin Core (contrib/seeds/nodes_*.txt,
// the lists Core compiles into chainparamsseeds.h), kept in Core's own
// text format so that refreshing them is a copy; see seeds/*.txt for what
// was taken. btcd's chaincfg has DNS seeds only, so there is no library
// to take them from.
//
//go:embed seeds/*.txt
var seedFiles embed.FS

// seedFile names each network's list; testnet3 and regtest have none
// (Core's testnet3 list holds onion addresses only, which this node cannot
// reach).
var seedFile = map[Network]string{
	Mainnet:  "seeds/main.txt",
	Testnet4: "seeds/testnet4.txt",
	Signet:   "seeds/signet.txt",
}

// FixedSeeds returns the network's fixed seed addresses: the last resort
// of peer discovery, used as Core uses them when no DNS seed has given a
// peer within a minute. Each call parses afresh, so callers may keep or
// shuffle the slice.
func FixedSeeds(n Network) []netip.AddrPort {
	name, ok := seedFile[n]
	if !ok {
		return nil
	}
	data, err := seedFiles.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("protocol: embedded seed list %s: %v", name, err)) // embedded: cannot happen
	}
	seeds, err := parseSeeds(string(data))
	if err != nil {
		panic(fmt.Sprintf("protocol: embedded seed list %s: %v", name, err)) // a test parses every list
	}
	return seeds
}

// parseSeeds reads Core's seed format: one host:port per line, "#"
// starting a comment.
func parseSeeds(text string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for i, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		ap, err := netip.ParseAddrPort(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		out = append(out, ap)
	}
	return out, nil
}
