package main

import (
	"fmt"
	"path/filepath"

	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// otherNetworkHint names the network a file of headers belongs to when its
// first header does not connect to the chosen network's chain: when that
// header is another network's genesis (an export starts with it), follows
// one, or follows a header of another network's chain stored under
// dataRoot (-datadir), read without locking it. It returns "" when it finds
// none: the file may then be of the chosen network, starting past our tip.
func otherNetworkHint(first *consensus.Header, chosen protocol.Network, dataRoot string) string {
	hash := first.Hash()
	for _, n := range protocol.Networks {
		if n == chosen {
			continue
		}
		genesis := consensus.ParamsFor(n).GenesisHash
		switch genesis {
		case hash:
			return fmt.Sprintf("the file starts with the %s genesis: did you mean -network=%s?", n, n)
		case first.PrevBlock:
			return fmt.Sprintf("its first header follows the %s genesis: did you mean -network=%s?", n, n)
		}
	}
	for _, n := range protocol.Networks {
		if n == chosen {
			continue
		}
		dir := filepath.Join(dataRoot, string(n))
		c, err := chain.OpenReadOnly(dir, consensus.ParamsFor(n), nil)
		if err != nil {
			continue // no chain of that network here, or an unreadable one: no hint from it
		}
		if height, ok := c.MainHeight(&first.PrevBlock); ok {
			return fmt.Sprintf("its first header follows header %d of the %s chain in %s: did you mean -network=%s?", height, n, dir, n)
		}
	}
	return ""
}
