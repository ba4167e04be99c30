package p2p

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The operator's controls. Each takes the time of the command, like every
// other event.

// ErrNoSuchPeer is returned for a PeerID that is not connected.
var ErrNoSuchPeer = errors.New("no such peer")

// ErrNoCaptureDir is returned when capture is switched on for a node
// configured without a capture folder.
var ErrNoCaptureDir = errors.New("message capture has no folder configured")

// ErrNoSuchAddedNode is returned when removing an address that is not an
// added node.
var ErrNoSuchAddedNode = errors.New("not an added node")

// ErrTooManyAddedNodes is returned when the operator's targets are at
// MaxAddedNodes.
var ErrTooManyAddedNodes = errors.New("too many added nodes")

// Connect opens a manual outbound connection to addr (host:port, checked
// by the caller) and keeps it, reconnecting with backoff, like Bitcoin
// Core's addnode.
func (c *Core) Connect(now time.Time, addr string) error {
	c.now = now
	if t := c.findTarget(addr); t != nil {
		t.nextAttempt = now
		c.maintainConnections()
		return nil
	}
	if len(c.targets) >= MaxAddedNodes {
		return fmt.Errorf("%w: %d added nodes already; remove one first", ErrTooManyAddedNodes, len(c.targets))
	}
	c.addTarget(addr, SourceOperator, now)
	c.maintainConnections()
	return nil
}

func (c *Core) addTarget(addr string, source TargetSource, now time.Time) {
	if c.findTarget(addr) == nil {
		c.targets = append(c.targets, &target{addr: addr, source: source, addedAt: now, nextAttempt: now})
	}
}

// RemoveAddedNode takes addr off the operator's targets, as Core's
// "addnode remove": it is not dialled again. A connection to it that is
// up stays up (Disconnect ends it); it is not re-established when it ends.
func (c *Core) RemoveAddedNode(now time.Time, addr string) error {
	c.now = now
	t := c.findTarget(addr)
	if t == nil {
		return fmt.Errorf("%w: %s", ErrNoSuchAddedNode, addr)
	}
	c.removeTarget(addr)
	if t.peer != 0 {
		if p, ok := c.peers[t.peer]; ok {
			p.target = ""
		}
	}
	c.emitEvent(Event{Time: now, Kind: EventRemoved, Addr: addr, Text: addr + " removed from the added nodes by the operator"})
	c.Logf(slog.LevelInfo, "added node removed", "addr", addr)
	return nil
}

// Disconnect drops peer id with reason "operator". A manual target's
// connection is not re-established.
func (c *Core) Disconnect(now time.Time, id PeerID) error {
	c.now = now
	p, ok := c.peers[id]
	if !ok {
		return fmt.Errorf("%w: %d", ErrNoSuchPeer, id)
	}
	if p.target != "" {
		c.removeTarget(p.target)
	}
	c.drop(p, Because(DropOperator, "disconnected by the operator"))
	return nil
}

func (c *Core) removeTarget(addr string) {
	kept := c.targets[:0]
	for _, t := range c.targets {
		if t.addr != addr {
			kept = append(kept, t)
		}
	}
	clear(c.targets[len(kept):])
	c.targets = kept
}

// Ban refuses ip (an address, with or without port) for d, saves the bans
// and drops every peer at that IP.
func (c *Core) Ban(now time.Time, addr, reason string, d time.Duration) (Ban, error) {
	c.now = now
	ip, err := ParseBanAddr(addr)
	if err != nil {
		return Ban{}, err
	}
	if reason == "" {
		reason = "banned by the operator"
	}
	if d <= 0 {
		d = 24 * time.Hour
	}
	ban, changed := c.bans.add(ip, reason, true, now, d)
	if changed {
		c.saveBans()
	}
	c.emitEvent(Event{Time: now, Kind: EventBan, Addr: ip.String(), Text: ip.String() + " banned by the operator: " + reason})
	for _, id := range append([]PeerID(nil), c.order...) {
		if p, ok := c.peers[id]; ok && p.addr.Addr().Unmap() == ip {
			c.drop(p, Because(DropBan, "banned: %s", reason))
		}
	}
	return ban, nil
}

// Unban lifts a ban or discouragement on addr; it reports whether there
// was one.
func (c *Core) Unban(now time.Time, addr string) (bool, error) {
	c.now = now
	ip, err := ParseBanAddr(addr)
	if err != nil {
		return false, err
	}
	found, manual := c.bans.remove(ip)
	if manual {
		c.saveBans()
	}
	if found {
		c.emitEvent(Event{Time: now, Kind: EventUnban, Addr: ip.String(), Text: ip.String() + " unbanned by the operator"})
	}
	return found, nil
}

func (c *Core) saveBans() {
	if c.cfg.Persist {
		c.StartJob(SaveBans{Bans: c.bans.manual()})
	}
}

// SetCapture switches message capture on or off. On, it applies to
// connections opened from then on: like Core's -capturemessages, a
// connection is captured from its first message or not at all, so every
// capture decodes from the handshake. Off, it stops every capture at once.
func (c *Core) SetCapture(now time.Time, on bool) error {
	c.now = now
	if on && !c.cfg.CaptureAvailable {
		return ErrNoCaptureDir
	}
	if c.capturing == on {
		return nil
	}
	c.capturing = on
	if !on {
		for _, p := range c.peers {
			p.capture = false
		}
		c.emit(Action{Kind: ActStopCaptures})
	}
	state := "off"
	if on {
		state = "on"
	}
	c.Event(EventCapture, 0, "message capture switched "+state)
	return nil
}

// Capturing reports whether new connections are captured.
func (c *Core) Capturing() bool { return c.capturing }

// Shutdown drops every peer ("node shutting down") and saves the address
// book, for the shell's orderly stop.
func (c *Core) Shutdown(now time.Time) {
	c.now = now
	for _, id := range append([]PeerID(nil), c.order...) {
		if p, ok := c.peers[id]; ok {
			c.drop(p, Because(DropShutdown, "node shutting down"))
		}
	}
	c.SaveAddrs()
}
