package engine

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"time"

	"github.com/watchnode/watchnode/node/peer"
)

// ErrNoCaptureDir is returned when capture is switched on for an engine
// configured without a capture folder.
var ErrNoCaptureDir = errors.New("message capture has no folder configured")

// CaptureFolderName is the folder Bitcoin Core's layout uses for a peer's
// capture below the capture directory: the address with ":" as "_" (and,
// here, IPv6 brackets left out so the name is a plain path element).
func CaptureFolderName(addr string) string {
	return strings.NewReplacer(":", "_", "[", "", "]", "").Replace(addr)
}

// CaptureDir is the folder captures are written to ("" when none is
// configured).
func (e *Engine) CaptureDir() string { return e.cfg.CaptureDir }

// Capturing reports whether new connections are being captured.
func (e *Engine) Capturing() bool { return e.capturing.Load() }

// SetCapture switches message capture on or off at run time. On, it applies
// to connections opened from then on: like Core's -capturemessages, a
// connection is captured from its first message or not at all, so every
// capture decodes from the handshake. Off, it stops every capture at once.
func (e *Engine) SetCapture(ctx context.Context, on bool) error {
	if on && e.cfg.CaptureDir == "" {
		return ErrNoCaptureDir
	}
	return e.do(ctx, func(now time.Time) error {
		was := e.capturing.Swap(on)
		if was == on {
			return nil
		}
		if !on {
			for _, p := range e.peers {
				if p.capture != nil {
					p.capture.Stop()
					p.capture = nil
				}
			}
		}
		state := "off"
		if on {
			state = "on"
		}
		e.event(now, EventCapture, nil, "message capture switched %s", state)
		return nil
	})
}

// openCapture starts capturing a new connection's messages, if capture is
// on; a failure is logged and the connection goes on uncaptured.
func (e *Engine) openCapture(addr string) *peer.Capture {
	if !e.capturing.Load() {
		return nil
	}
	dir := filepath.Join(e.cfg.CaptureDir, CaptureFolderName(addr))
	c, err := peer.OpenCapture(dir)
	if err != nil {
		e.log.Error("cannot capture this peer's messages", "addr", addr, "err", err)
		return nil
	}
	return c
}
