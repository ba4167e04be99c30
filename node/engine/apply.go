package engine

import (
	"context"
	"errors"
	"net"
	"runtime"
	"time"

	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
	"github.com/watchnode/watchnode/node/peer"
)

// apply carries out the actions the core produced, in order, and then
// publishes if one of them (here or in a flush during the event) asked for
// it: publishing reads the cores' snapshots, which only happens between
// events.
func (e *Engine) apply() {
	e.carryOut(e.core.TakeActions())
	if e.publishDue {
		e.publishSoon(e.cfg.Now())
	}
}

// publishSoon publishes the snapshot an action asked for, unless the last
// one is younger than minPublishGap: then it arms the publish timer for
// the rest of the gap, and the snapshot built then has every change made
// meanwhile.
func (e *Engine) publishSoon(now time.Time) {
	if wait := e.published.Add(minPublishGap).Sub(now); wait > 0 {
		if !e.publishArmed {
			e.publishTimer.Reset(wait)
			e.publishArmed = true
		}
		return
	}
	e.publish(now)
}

// publishWaited runs when the publish timer fires.
func (e *Engine) publishWaited() {
	e.publishArmed = false
	if e.publishDue {
		e.publishSoon(e.cfg.Now())
	}
}

// carryOut carries out actions, in order. It is also the core's flusher,
// for actions the core wants carried out in the middle of an event, so it
// never calls back into the core: a publish is only marked due.
func (e *Engine) carryOut(actions []p2p.Action) {
	for _, a := range actions {
		switch a.Kind {
		case p2p.ActSend:
			if c, ok := e.conns[a.Peer]; ok {
				c.out.Push(peer.Outbound{Frame: a.Frame, Request: a.Request})
			}
		case p2p.ActDrop:
			if c, ok := e.conns[a.Peer]; ok {
				e.closeConn(c)
			}
		case p2p.ActDial:
			e.dial(a.Addr, a.Manual, a.V2)
		case p2p.ActJob:
			e.runJob(a.Job)
		case p2p.ActEvent:
			e.eventLog.Append(a.Event)
		case p2p.ActLink:
			e.linkLog.Append(a.Link)
		case p2p.ActLog:
			e.log.Log(context.Background(), a.Log.Level, a.Log.Msg, a.Log.Attrs...)
		case p2p.ActStopCaptures:
			e.capturing.Store(false)
			for _, c := range e.conns {
				if c.capture != nil {
					c.capture.Stop()
					c.capture = nil
				}
			}
		case p2p.ActPublish:
			e.publishDue = true
		}
	}
}

// flushEarly carries out the actions a handler flushes before its slow part
// (header sync's next getheaders, sent before the batch is validated), then
// yields the processor. The writer goroutine just woken is queued to run
// next on this very thread, so it writes at once: left to another CPU, the
// wake-up took 0.27 ms (median; 1.1 ms at p90) on a two-core VM, 20 times
// a batch on the critical path of a 40,000-header sync (BENCHMARKS.md).
func (e *Engine) flushEarly(actions []p2p.Action) {
	e.carryOut(actions)
	runtime.Gosched()
}

// runJob starts job off the engine goroutine.
func (e *Engine) runJob(job p2p.Job) {
	if e.late != nil {
		switch job.(type) {
		case netsync.StoreBlock, netsync.ReadBlocks, netsync.ConnectBlocks:
			e.late.held = append(e.late.held, job)
			return
		}
	}
	switch j := job.(type) {
	case netsync.StoreHeaders:
		e.storeHeaders(j.Write)
	case netsync.StoreBlock:
		e.pipeline.submit(j)
	case netsync.ReadBlocks:
		e.readBlocks(j)
	case netsync.ConnectBlocks:
		e.connector.setTarget(j)
	case p2p.SaveAddrs:
		if e.addrsPath != "" {
			e.jobs.addrs.latest(func() error { return j.Book.Save(e.addrsPath) })
		}
	case p2p.SaveBans:
		if e.bansPath != "" {
			e.jobs.bans.latest(func() error { return saveBans(e.bansPath, j.Bans) })
		}
	case p2p.ResolveSeeds:
		e.resolveSeeds(j)
	default:
		e.log.Error("unknown job", "job", job.JobName())
	}
}

// classifyConnError turns the error that ended a connection's reader or
// writer into a reason: the core's classification, plus the socket errors
// only the shell sees.
func classifyConnError(err error) p2p.Reason {
	if errors.Is(err, net.ErrClosed) {
		return p2p.Because(p2p.DropRemoteClose, "connection closed")
	}
	return p2p.ReadFailure(err)
}
