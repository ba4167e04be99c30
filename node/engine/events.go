package engine

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/peer"
	"github.com/watchnode/watchnode/node/protocol"
)

// event is something that happened off the engine goroutine: a socket, a
// writer's report, a job's result, an operator's command.
type event interface{}

// roundStage shows a stage's time to the microsecond.
func roundStage(d time.Duration) time.Duration { return d.Round(time.Microsecond) }

type (
	// evBlockConnected: the connector connected a block near the best
	// header (during a download, the sync page shows the progress; an
	// event per block would flood the event log).
	evBlockConnected struct {
		hash   chainhash.Hash
		height int32
		stages ConnectStages
	}
	evConnected struct {
		nc      net.Conn
		target  string // "" for inbound
		manual  bool
		inbound bool
		v2      bool // an outbound dial that starts with BIP324
	}
	evDialFailed struct {
		target string
		err    error
	}
	evClosed struct {
		id  p2p.PeerID
		err error
	}
	evWritten struct {
		id     p2p.PeerID
		report p2p.WriteReport
	}
	evSeeds struct {
		addrs []netip.AddrPort
		errs  []string
	}
	evCaptureOpened struct {
		id      p2p.PeerID
		nc      net.Conn
		capture *peer.Capture // nil when opening failed
	}
	// evStoreFailed: a write to the header or block store (what) failed.
	evStoreFailed struct {
		what string
		err  error
	}
	// evJobsDone carries job results back to the core.
	evJobsDone struct{ results []p2p.Job }
	evCommand  struct {
		fn func(now time.Time)
	}
)

// post hands ev to the engine goroutine, or drops it once the engine stopped.
func (e *Engine) post(ev event) {
	select {
	case e.events <- ev:
	case <-e.quit:
	}
}

// notify wakes the engine after a peer's inbound queue got a message.
func (e *Engine) notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) handle(ev event) {
	now := e.cfg.Now()
	switch ev := ev.(type) {
	case evConnected:
		e.connected(ev, now)
	case evDialFailed:
		e.core.DialFailed(now, ev.target, ev.err.Error())
		e.log.Debug("dial failed", "addr", ev.target, "err", ev.err)
	case evClosed:
		e.core.Closed(now, ev.id, classifyConnError(ev.err))
	case evWritten:
		e.core.Written(now, ev.id, ev.report)
	case evSeeds:
		e.core.SeedsResolved(now, ev.addrs, ev.errs)
	case evCaptureOpened:
		e.captureOpened(ev)
	case evStoreFailed:
		e.storeFailed(ev.what, ev.err, now)
	case evStoresOpened:
		e.storesOpened(ev)
	case evJobsDone:
		for _, r := range ev.results {
			e.core.JobDone(now, r)
		}
		e.maybePrune()
	case evCommand:
		ev.fn(now)
	case evBlockConnected:
		s := ev.stages
		e.eventLog.Append(Event{Time: now, Kind: p2p.EventBlock, Text: fmt.Sprintf(
			"block %d %s connected: %d transactions, %d inputs (%d scripts verified); read %s, inputs %s, scripts %s, write %s",
			ev.height, protocol.ShortHash(ev.hash), s.Txs, s.InputCount, s.ScriptsChecked,
			roundStage(s.Read), roundStage(s.Inputs), roundStage(s.Scripts), roundStage(s.Write))})
	}
	e.apply()
}

// reporter receives a connection's reports on its reader and writer
// goroutines and posts them to the engine.
type reporter struct{ e *Engine }

func (r reporter) Written(id p2p.PeerID, w p2p.WriteReport) { r.e.post(evWritten{id: id, report: w}) }

func (r reporter) Closed(id p2p.PeerID, err error) { r.e.post(evClosed{id: id, err: err}) }
