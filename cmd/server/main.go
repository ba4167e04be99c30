// Command server runs the watchnode Bitcoin node: the peer manager and
// protocol engine, and the web server with its JSON API.
//
// Usage:
//
//	server [flags]
//
// Run "server -help" for the flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
