package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/protocol"
)

// config is the parsed command line.
type config struct {
	network     protocol.Network
	dataDir     string // the network's own folder
	connect     []string
	addNode     []string
	listen      string
	maxPeers    int
	maxOutbound int
	httpAddr    string
	logLevel    slog.Level
	capture     bool
	decoderDir  string
	// v2transport is -v2transport (BIP324, on by default as in Core), and
	// v2KeyLog -v2keylog: a file for BIP324 connections' secrets.
	v2transport bool
	v2KeyLog    string
	// minChainWork overrides the network's minimum chain work
	// (-minimumchainwork, as Core's), nil keeps it.
	minChainWork *consensus.U256
	// pruneMiB is -prune: the target size of the block files in MiB, 0
	// to keep every block.
	pruneMiB int64
	// dbCacheMiB is -dbcache (the UTXO set's cache, MiB) and assumeValid
	// -assumevalid (a block hash, "0" for none, "" for the default).
	dbCacheMiB  int64
	assumeValid string
	// cpuProfile is -cpuprofile: a file for a CPU profile (runtime/pprof)
	// of the whole run, written when the node stops; empty for none.
	cpuProfile string
	// version: print the version and exit (-version), as bitcoind does;
	// nothing else in the config is set then.
	version bool
}

// hostPorts is a repeatable host:port flag.
type hostPorts []string

func (h *hostPorts) String() string { return strings.Join(*h, ",") }

func (h *hostPorts) Set(v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	*h = append(*h, v)
	return nil
}

// errHelp is returned when -help was asked for: not a failure.
var errHelp = flag.ErrHelp

// parseFlags parses args; usage and errors go to stderr, naming the
// program prog.
func parseFlags(prog string, args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	names := make([]string, len(protocol.Networks))
	for i, n := range protocol.Networks {
		names[i] = string(n)
	}
	data := addDataFlags(fs, "network to join: "+strings.Join(names, " | "))
	var connect, addNode hostPorts
	fs.Var(&connect, "connect", "connect only to this peer (host:port, repeatable); turns discovery off")
	fs.Var(&addNode, "addnode", "also keep a connection to this peer (host:port, repeatable)")
	listen := fs.String("listen", "", "address for inbound peers (default: all interfaces on the network's P2P port; empty disables inbound)")
	maxPeers := fs.Int("maxpeers", engine.DefaultMaxPeers, "maximum number of peers, inbound and outbound")
	maxOutbound := fs.Int("maxoutbound", engine.DefaultMaxOutbound, "number of outbound peers to keep")
	httpAddr := fs.String("http", "127.0.0.1:8080", "address of the web server and JSON API")
	logLevel := fs.String("loglevel", "info", "log level: debug | info | warn | error")
	capture := fs.Bool("capture", false, "record every message of every peer in Bitcoin Core's capture format under <datadir>/message_capture (the dashboard can switch it too)")
	v2transport := fs.Bool("v2transport", true, "speak BIP324's encrypted v2 transport: inbound v1 or v2 on one port, outbound v2 first where the peer offers it, falling back to v1 (as Core's -v2transport)")
	v2KeyLog := fs.String("v2keylog", "", "append each BIP324 connection's session secret to this file (mode 0600), so the decoder can decrypt captures of it; this breaks those connections' privacy")
	decoderDir := fs.String("decoder-dir", "", "folder holding the browser decoder's decoder.wasm and wasm_exec.js (default: this executable's folder, where make build puts them)")
	version := fs.Bool("version", false, "print the version and exit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (for go tool pprof), finished when the node stops")
	minChainWork := fs.String("minimumchainwork", "", "minimum chain work (hex) a chain must have before its headers are stored (default: the network's, as Core's)")
	dbCache := fs.Int64("dbcache", 450, "UTXO set cache size in MiB (as Core's -dbcache)")
	assumeValid := fs.String("assumevalid", "", "skip script checks of this block's ancestors (0: check every script; default: the network's, as Core's)")
	prune := fs.Int64("prune", 0, "keep the block files under this many MiB by deleting the oldest (at least 550, as Core; 0 keeps every block)")
	fs.Usage = func() {
		writeUsage(fs.Output(), prog)
		fmt.Fprintf(fs.Output(), "\nFlags of the node:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if *version {
		return config{version: true}, nil
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var c config
	var err error
	if c.network, _, c.dataDir, err = data.resolve(); err != nil {
		return config{}, err
	}
	c.connect, c.addNode = connect, addNode
	c.listen = ":" + c.network.DefaultPort()
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "listen" {
			c.listen = *listen
		}
	})
	if c.listen != "" {
		if _, _, err := net.SplitHostPort(c.listen); err != nil {
			return config{}, fmt.Errorf("-listen: want host:port or empty: %w", err)
		}
	}
	if *maxPeers < 1 {
		return config{}, fmt.Errorf("-maxpeers: must be at least 1, got %d", *maxPeers)
	}
	if *maxOutbound < 0 || *maxOutbound > *maxPeers {
		return config{}, fmt.Errorf("-maxoutbound: must be between 0 and -maxpeers (%d), got %d", *maxPeers, *maxOutbound)
	}
	c.maxPeers, c.maxOutbound = *maxPeers, *maxOutbound
	if _, _, err := net.SplitHostPort(*httpAddr); err != nil {
		return config{}, fmt.Errorf("-http: want host:port: %w", err)
	}
	c.httpAddr = *httpAddr
	c.capture = *capture
	c.v2transport, c.v2KeyLog = *v2transport, *v2KeyLog
	c.decoderDir = *decoderDir
	c.cpuProfile = *cpuProfile
	if *minChainWork != "" {
		w, err := consensus.ParseU256Hex(*minChainWork)
		if err != nil {
			return config{}, fmt.Errorf("-minimumchainwork: %w", err)
		}
		c.minChainWork = &w
	}
	if *prune != 0 && *prune < engine.MinPruneMiB {
		return config{}, fmt.Errorf("-prune: the target must be 0 (keep everything) or at least %d MiB, got %d", engine.MinPruneMiB, *prune)
	}
	if *prune < 0 {
		return config{}, fmt.Errorf("-prune: must not be negative, got %d", *prune)
	}
	c.pruneMiB = *prune
	if *dbCache < 4 {
		return config{}, fmt.Errorf("-dbcache: at least 4 MiB (as Core's minimum), got %d", *dbCache)
	}
	c.dbCacheMiB, c.assumeValid = *dbCache, *assumeValid
	if err := c.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return config{}, fmt.Errorf("-loglevel: want debug, info, warn or error: %w", err)
	}
	return c, nil
}

// dataFlags are -network and -datadir, which the node and the header
// commands share.
type dataFlags struct{ network, dataDir *string }

// addDataFlags defines -network (described by networkUsage) and -datadir
// on fs.
func addDataFlags(fs *flag.FlagSet, networkUsage string) dataFlags {
	return dataFlags{
		network: fs.String("network", string(protocol.Mainnet), networkUsage),
		dataDir: fs.String("datadir", defaultDataDir(), "data folder; each network uses its own subfolder"),
	}
}

// resolve checks the parsed flags and returns the network, the data folder
// given and the network's own folder in it.
func (d dataFlags) resolve() (net protocol.Network, root, dir string, err error) {
	if net, err = protocol.ParseNetwork(*d.network); err != nil {
		return "", "", "", fmt.Errorf("-network: %w", err)
	}
	if *d.dataDir == "" {
		return "", "", "", errors.New("-datadir: must not be empty")
	}
	return net, *d.dataDir, filepath.Join(*d.dataDir, string(net)), nil
}

// defaultDataDir is ~/.watchnode, beside bitcoind's ~/.bitcoin.
func defaultDataDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".watchnode"
	}
	return filepath.Join(home, ".watchnode")
}
