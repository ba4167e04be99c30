package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/p2p"
)

// jobRunner runs the core's slow work off the engine goroutine. Saves of
// the same file go through a lane, so they happen in order and a newer
// state replaces one still waiting; header writes go to the store's own
// writer goroutine, in order.
type jobRunner struct {
	wg                 sync.WaitGroup
	addrs, bans, prune lane
}

func (j *jobRunner) init(e *Engine) {
	j.addrs = lane{name: "saving address book", log: e.log, wg: &j.wg}
	j.bans = lane{name: "saving ban list", log: e.log, wg: &j.wg}
	j.prune = lane{name: "pruning block files", log: e.log, wg: &j.wg}
}

// wait waits for every job started so far.
func (j *jobRunner) wait() { j.wg.Wait() }

// lane runs one kind of job, one at a time, newest state last.
type lane struct {
	name    string
	log     *slog.Logger
	wg      *sync.WaitGroup
	mu      sync.Mutex
	running bool
	next    func() error
}

// latest runs fn on the lane: after the job running now, replacing one
// that is still waiting (only the newest state of a file matters).
func (l *lane) latest(fn func() error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next = fn
	if !l.running {
		l.running = true
		l.wg.Go(l.loop)
	}
}

func (l *lane) loop() {
	for {
		l.mu.Lock()
		fn := l.next
		l.next = nil
		if fn == nil {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		if err := fn(); err != nil {
			l.log.Error(l.name, "err", err)
		}
	}
}

// storeHeaders hands a header write to the store's writer goroutine.
func (e *Engine) storeHeaders(w chain.Write) {
	if e.store != nil {
		e.store.Write(w)
	}
}

// storeFailed stops the node: the chain in memory is ahead of the disk
// and could no longer be saved, as Bitcoin Core stops when it cannot
// write ("Disk space is too low!", "A fatal internal error occurred").
// What is on disk is a valid prefix of the chain (headers) or a set of
// durable blocks the index points at (blocks); the next start resumes
// from it.
func (e *Engine) storeFailed(what string, err error, now time.Time) {
	if e.fatal != nil {
		return
	}
	e.fatal = fmt.Errorf("%s failed, the node stopped so that nothing is lost (free disk space or fix the disk, then restart): %w", what, err)
	e.log.Error("fatal: store write failed; stopping", "store", what, "err", err)
	e.eventLog.Append(Event{Time: now, Kind: EventFatal, Text: e.fatal.Error()})
}

// resolveSeeds asks the DNS seeds in the background.
func (e *Engine) resolveSeeds(j p2p.ResolveSeeds) {
	ctx := e.ctx
	e.wg.Go(func() {
		// The seeds are asked at once, not one after another: offline,
		// each lookup can take its whole timeout.
		type answer struct {
			hosts []string
			err   error
		}
		answers := make([]answer, len(j.Hosts))
		var lookups sync.WaitGroup
		for i, host := range j.Hosts {
			lookups.Go(func() {
				lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				hosts, err := e.cfg.LookupHost(lctx, host)
				if err != nil {
					err = fmt.Errorf("%s: %w", host, err)
				}
				answers[i] = answer{hosts, err}
			})
		}
		lookups.Wait()
		var ev evSeeds
		for _, a := range answers {
			if a.err != nil {
				ev.errs = append(ev.errs, shortDNSError(a.err))
				continue
			}
			for _, h := range a.hosts {
				if ip, err := netip.ParseAddr(h); err == nil {
					ev.addrs = append(ev.addrs, netip.AddrPortFrom(ip.Unmap(), j.Port))
				}
			}
		}
		e.post(ev)
	})
}

// shortDNSError keeps the part of a resolver error a person needs.
func shortDNSError(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Name + ": " + dnsErr.Err
	}
	return err.Error()
}
