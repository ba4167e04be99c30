package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/netsync"
	"github.com/watchnode/watchnode/node/p2p"
)

var errStopped = errors.New("engine stopped")

// Errors of the operator's commands.
var (
	ErrNoSuchPeer   = p2p.ErrNoSuchPeer
	ErrNoCaptureDir = p2p.ErrNoCaptureDir
	// ErrNoSuchAddedNode: removing an address that is not an added node.
	ErrNoSuchAddedNode = p2p.ErrNoSuchAddedNode
	// ErrTooManyAddedNodes: adding past p2p.MaxAddedNodes.
	ErrTooManyAddedNodes = p2p.ErrTooManyAddedNodes
)

// do runs a command on the engine goroutine and waits for it. A command
// changes the node, so the engine publishes right after it and the caller
// reads its own change in the next snapshot; reads never come here.
func (e *Engine) do(ctx context.Context, fn func(now time.Time) error) error {
	errc := make(chan error, 1)
	ev := evCommand{fn: func(now time.Time) {
		err := fn(now)
		e.apply()
		e.publish(now)
		errc <- err
	}}
	select {
	case e.events <- ev:
	case <-e.quit:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-e.quit:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Connect opens a manual outbound connection to addr (host:port) and keeps
// it, reconnecting with backoff, like Bitcoin Core's addnode.
func (e *Engine) Connect(ctx context.Context, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	return e.do(ctx, func(now time.Time) error { return e.core.Connect(now, addr) })
}

// RemoveAddedNode takes addr off the added nodes (Core's "addnode remove"):
// it is not dialled again; a connection to it that is up stays up.
func (e *Engine) RemoveAddedNode(ctx context.Context, addr string) error {
	return e.do(ctx, func(now time.Time) error { return e.core.RemoveAddedNode(now, addr) })
}

// Disconnect drops peer id with reason "operator". A manual target's
// connection is not re-established.
func (e *Engine) Disconnect(ctx context.Context, id PeerID) error {
	return e.do(ctx, func(now time.Time) error { return e.core.Disconnect(now, id) })
}

// Ban refuses addr (an IP, with or without port) for d, persists the ban and
// drops every peer at that IP.
func (e *Engine) Ban(ctx context.Context, addr, reason string, d time.Duration) (Ban, error) {
	if _, err := p2p.ParseBanAddr(addr); err != nil {
		return Ban{}, err
	}
	var ban Ban
	err := e.do(ctx, func(now time.Time) error {
		var err error
		ban, err = e.core.Ban(now, addr, reason, d)
		return err
	})
	return ban, err
}

// Unban lifts a ban or discouragement on addr; it reports whether there was
// one.
func (e *Engine) Unban(ctx context.Context, addr string) (bool, error) {
	if _, err := p2p.ParseBanAddr(addr); err != nil {
		return false, err
	}
	var found bool
	err := e.do(ctx, func(now time.Time) error {
		var err error
		found, err = e.core.Unban(now, addr)
		return err
	})
	return found, err
}

// SetCapture switches message capture on or off at run time. On, it applies
// to connections opened from then on: like Core's -capturemessages, a
// connection is captured from its first message or not at all, so every
// capture decodes from the handshake. Off, it stops every capture at once.
func (e *Engine) SetCapture(ctx context.Context, on bool) error {
	if on && e.cfg.CaptureDir == "" {
		return ErrNoCaptureDir
	}
	return e.do(ctx, func(now time.Time) error {
		err := e.core.SetCapture(now, on)
		if err == nil && on {
			e.capturing.Store(true)
		}
		return err
	})
}

// CaptureDir is the folder captures are written to ("" when none is
// configured).
func (e *Engine) CaptureDir() string { return e.cfg.CaptureDir }

// Capturing reports whether new connections are being captured.
func (e *Engine) Capturing() bool { return e.capturing.Load() }

// InvalidateBlock marks a block (by hash) invalid, as Core's
// invalidateblock: the node leaves it and its descendants for the best
// other chain, disconnecting blocks from the UTXO set down to the fork.
func (e *Engine) InvalidateBlock(ctx context.Context, hash string) error {
	h, err := parseBlockHash(hash)
	if err != nil {
		return err
	}
	return e.do(ctx, func(time.Time) error {
		err := e.sync.InvalidateBlock(h)
		if errors.Is(err, netsync.ErrUnknownBlock) {
			return fmt.Errorf("%w: %s", ErrUnknownHeader, hash)
		}
		return err
	})
}

// ReconsiderBlock lifts an invalid mark (Core's reconsiderblock); the
// peers are asked for the block's chain again. It reports whether the block
// was marked.
func (e *Engine) ReconsiderBlock(ctx context.Context, hash string) (bool, error) {
	h, err := parseBlockHash(hash)
	if err != nil {
		return false, err
	}
	var marked bool
	err = e.do(ctx, func(time.Time) error {
		var err error
		marked, err = e.sync.ReconsiderBlock(h)
		return err
	})
	return marked, err
}

func parseBlockHash(s string) (chainhash.Hash, error) {
	h, err := chainhash.NewHashFromStr(s)
	if err != nil || len(s) != 64 {
		return chainhash.Hash{}, fmt.Errorf("%q is %w", s, ErrBadKey)
	}
	return *h, nil
}
