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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	os.Exit(run(ctx, progName(os.Args), os.Args[1:], os.Stdout, os.Stderr))
}
