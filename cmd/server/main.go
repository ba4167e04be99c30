// Command server runs the watchnode Bitcoin node: the peer manager and
// protocol engine, and the web server with its JSON API.
//
// Usage:
//
//	server [flags]                  run the node
//	server import-headers FILE      validate and add a file of headers
//	server export-headers FILE      write the main chain to a file
//	server import-blocks FILE...    check and store the blocks of Core block files
//	server decode FILE...           decode P2P messages to JSON
//	server version                  print the version
//	server help [COMMAND]
//
// Run "server -help" for the flags, "server COMMAND -help" for a command's.
//
// SIGINT, SIGTERM and SIGHUP each stop the node cleanly: it closes every
// socket, saves its address book and exits. SIGHUP is among them because
// closing the terminal sends it; the node keeps no log file to reopen on it.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	oneMoreP()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	os.Exit(run(ctx, progName(os.Args), os.Args[1:], os.Stdout, os.Stderr))
}

// oneMoreP gives the Go scheduler one P (a slot for running Go code) more
// than its default, one per core, unless GOMAXPROCS is set in the
// environment. Decision: the script workers (one per P) spend most of
// their time in libsecp256k1's C calls, and with one P per core the block
// connector and the network goroutines waited for a P behind them. On the
// benchmark machine (two cores) a validating IBD took 46.6–47.9 s with
// three Ps against 50.5–52.1 s with two, using less CPU, and a 1M-header
// sync 0.92 s against 1.05 s (BENCHMARKS.md). The OS still runs at most
// one thread a core; the extra P only lets a third goroutine be ready.
func oneMoreP() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
}
