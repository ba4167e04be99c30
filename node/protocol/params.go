package protocol

import (
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Network names one of the Bitcoin networks the node can join.
type Network string

// The networks the node supports, named as on the command line.
const (
	Mainnet  Network = "mainnet"
	Testnet3 Network = "testnet3"
	Testnet4 Network = "testnet4"
	Signet   Network = "signet"
	Regtest  Network = "regtest"
)

// Networks lists every supported network in the order the help text shows them.
var Networks = []Network{Mainnet, Testnet3, Testnet4, Signet, Regtest}

// ParseNetwork returns the network with the given command-line name.
func ParseNetwork(name string) (Network, error) {
	for _, n := range Networks {
		if string(n) == name {
			return n, nil
		}
	}
	names := make([]string, len(Networks))
	for i, n := range Networks {
		names[i] = string(n)
	}
	return "", fmt.Errorf("unknown network %q (want one of %s)", name, strings.Join(names, ", "))
}

// Params returns the consensus and network parameters of n from btcd's
// chaincfg. It panics on a Network value not in Networks, which is a
// programming error: values come from ParseNetwork or the constants.
func (n Network) Params() *chaincfg.Params {
	switch n {
	case Mainnet:
		return &chaincfg.MainNetParams
	case Testnet3:
		return &chaincfg.TestNet3Params
	case Testnet4:
		return &chaincfg.TestNet4Params
	case Signet:
		return &chaincfg.SigNetParams
	case Regtest:
		return &chaincfg.RegressionNetParams
	}
	panic(fmt.Sprintf("protocol: unknown network %q", string(n)))
}

// Magic returns the four start bytes that open every message on n, as the
// little-endian integer wire uses.
func (n Network) Magic() wire.BitcoinNet { return n.Params().Net }

// DefaultPort returns the network's standard P2P port.
func (n Network) DefaultPort() string { return n.Params().DefaultPort }

// NetworkByMagic returns the network whose messages start with magic.
func NetworkByMagic(magic wire.BitcoinNet) (Network, bool) {
	for _, n := range Networks {
		if n.Magic() == magic {
			return n, true
		}
	}
	return "", false
}
