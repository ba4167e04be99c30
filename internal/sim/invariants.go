package sim

import (
	"errors"
	"fmt"

	"github.com/watchnode/watchnode/node/p2p"
)

// CheckInvariants checks every node: the core's own invariants (see
// p2p.Core.CheckInvariants), that the shell's side agrees with the core
// (a connection for every peer, none for a dropped one), and that every
// inbound queue is within its bound.
func (s *Sim) CheckInvariants() error {
	var errs []error
	for _, n := range s.nodes {
		if err := n.Core.CheckInvariants(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
		for _, id := range n.connIDs() {
			c := n.conns[id]
			if !n.Alive(id) {
				errs = append(errs, fmt.Errorf("%s: connection %d open but the core dropped it", n, id))
			}
			if c.inCost > p2p.InQueueFloor && len(c.inq) > 1 {
				errs = append(errs, fmt.Errorf("%s: peer %d queues %d bytes in %d messages (floor %d)", n, id, c.inCost, len(c.inq), p2p.InQueueFloor))
			}
		}
		if n.poolUsed < 0 || n.poolUsed > p2p.InQueuePool {
			errs = append(errs, fmt.Errorf("%s: inbound pool use %d (bound %d)", n, n.poolUsed, p2p.InQueuePool))
		}
		snap := n.Snapshot()
		for _, p := range snap.Peers {
			if _, ok := n.conns[p.ID]; !ok {
				errs = append(errs, fmt.Errorf("%s: peer %d has no connection", n, p.ID))
			}
		}
	}
	return errors.Join(errs...)
}
