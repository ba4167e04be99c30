package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/web"
)

// shutdownLimit is how long a shutdown may take before the process gives up
// waiting and exits anyway.
const shutdownLimit = 5 * time.Second

// run is the whole program, minus signal handling, so tests can run it
// in-process and check that it leaves no goroutine behind. prog is the
// program's name for usage texts and messages; args are the arguments after
// it. A first argument that is not a flag names a subcommand (cli.go).
func run(ctx context.Context, prog string, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return runSubcommand(prog, args, stdout, stderr)
	}
	cfg, err := parseFlags(prog, args, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 2
	}
	if cfg.version {
		return runVersionCommand(prog, nil, stdout, stderr)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if cfg.cpuProfile != "" {
		stop, err := startCPUProfile(cfg.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "%s: -cpuprofile: %v\n", prog, err)
			return 1
		}
		defer func() {
			if err := stop(); err != nil {
				fmt.Fprintf(stderr, "%s: -cpuprofile: %v\n", prog, err)
			}
		}()
	}
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	return 0
}

// defaultGCPercent is the node's GOGC unless the environment sets one. The
// heap is dominated by long-lived header arrays, while each headers message
// leaves short-lived garbage; collecting at 50% growth instead of Go's 100%
// keeps resident memory near the live data. Measured on a 1M-header sync
// (BENCHMARKS.md): 180 -> 137 bytes per header, with the sync no slower
// (fewer fresh pages to fault in). 25 saves more (115) but collects after
// every second headers message while the heap is small; and while it is
// small, the GC policy (gctune.go) collects later still.
const defaultGCPercent = 50

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	if os.Getenv("GOGC") == "" {
		// The policy is in gctune.go.
		defer startGCTuner(gcHeapFloor, defaultGCPercent, gcMaxPercent).stop()
	}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data folder: %w", err)
	}
	var params *consensus.Params
	if cfg.minChainWork != nil {
		params = consensus.ParamsFor(cfg.network)
		params.MinimumChainWork = *cfg.minChainWork
	}
	eng, err := engine.New(engine.Config{
		Network: cfg.network, DataDir: cfg.dataDir, Params: params, PruneMiB: cfg.pruneMiB,
		DBCacheMiB: cfg.dbCacheMiB, AssumeValid: cfg.assumeValid,
		Connect: cfg.connect, AddNode: cfg.addNode, Listen: cfg.listen,
		MaxPeers: cfg.maxPeers, MaxOutbound: cfg.maxOutbound,
		CaptureDir: captureDir(cfg), Capture: cfg.capture,
		V2Transport: cfg.v2transport, V2KeyLog: cfg.v2KeyLog,
		Logger: log.With("component", "engine"),
	})
	if err != nil {
		return err
	}
	cookiePath := filepath.Join(cfg.dataDir, web.CookieFile)
	token, err := web.WriteCookie(cookiePath)
	if err != nil {
		return err
	}
	defer os.Remove(cookiePath)
	ln, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return fmt.Errorf("web server: %w", err)
	}
	log.Info("node starting", "network", cfg.network, "datadir", cfg.dataDir, "http", "http://"+ln.Addr().String())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Run(ctx) }()
	webDone := make(chan error, 1)
	go func() {
		webDone <- web.Serve(ctx, ln, web.New(eng, token, log.With("component", "web"),
			web.WithRequireAuth(!web.IsLoopback(ln.Addr())), web.WithDecoderDir(decoderDir(cfg, log))))
	}()

	// Whichever stops first (a signal, or an error from either half) stops
	// the other; both must finish within shutdownLimit.
	var errs error
	pending := 2
	select {
	case <-ctx.Done():
	case err := <-engineDone:
		errs, pending = err, 1
		engineDone = nil
	case err := <-webDone:
		errs, pending = err, 1
		webDone = nil
	}
	cancel()
	log.Info("shutting down")
	deadline := time.After(shutdownLimit)
	for ; pending > 0; pending-- {
		select {
		case err := <-engineDone:
			errs = errors.Join(errs, err)
		case err := <-webDone:
			errs = errors.Join(errs, err)
		case <-deadline:
			return errors.Join(errs, fmt.Errorf("shutdown took longer than %s", shutdownLimit))
		}
	}
	log.Info("stopped")
	return errs
}

// captureDir is where -capture (or the dashboard's switch) records
// messages, as bitcoind's -capturemessages does: <datadir>/message_capture.
func captureDir(cfg config) string {
	return filepath.Join(cfg.dataDir, "message_capture")
}

// decoderDir is where the browser decoder's files are: -decoder-dir, or the
// folder of this executable, where `make build` puts them.
func decoderDir(cfg config, log *slog.Logger) string {
	if cfg.decoderDir != "" {
		return cfg.decoderDir
	}
	exe, err := os.Executable()
	if err != nil {
		log.Warn("cannot find the decoder's files: the executable's path is unknown", "err", err)
		return ""
	}
	return filepath.Dir(exe)
}
