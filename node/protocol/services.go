package protocol

import (
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"
)

// serviceBitNames names service bits as Bitcoin Core's getpeerinfo does.
var serviceBitNames = map[int]string{
	0:  "NETWORK",
	2:  "BLOOM",
	3:  "WITNESS",
	6:  "COMPACT_FILTERS",
	10: "NETWORK_LIMITED",
	11: "P2P_V2",
}

// ServiceNames names every service bit set in f, from the least significant
// up, as Core names them; bits Core does not name appear as
// "UNKNOWN[2^n]". It returns an empty, non-nil list for no services.
func ServiceNames(f wire.ServiceFlag) []string {
	names := []string{}
	for bit := range 64 {
		if f&(1<<bit) == 0 {
			continue
		}
		if name, ok := serviceBitNames[bit]; ok {
			names = append(names, name)
		} else {
			names = append(names, fmt.Sprintf("UNKNOWN[2^%d]", bit))
		}
	}
	return names
}
