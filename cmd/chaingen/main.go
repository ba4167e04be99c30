// Command chaingen writes a valid header chain to a file, for feeding the
// node's header import in tests and benchmarks.
//
//	chaingen -n 40000 -o FILE [-network regtest] [-end RFC3339] [-spacing D] [-seed N]
//
// The file holds raw concatenated 80-byte headers following the network's
// genesis block (genesis excluded). Timestamps lie in the past, ending an
// hour before -end (default now), which btcd's own miner cannot produce for
// long chains. Only regtest is practical: other networks' proof-of-work
// limits need billions of hashes per header.
//
// Bad flags exit with status 2, failures to write with status 1.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/protocol"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command-line mistake, which exits 2 like flag's own
// errors so scripts can tell it from a failed run.
var errUsage = errors.New("usage")

// config is the parsed command line.
type config struct {
	n    int
	out  string
	opts chaingen.Options
}

// run is main without the process exit, so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0 // -h asked for the usage text, which flag printed
	case errors.Is(err, errUsage):
		return 2 // flag printed the error and the usage text
	case err != nil:
		fmt.Fprintf(stderr, "chaingen: %v\n", err)
		return 2
	}
	if cfg.opts.Network != protocol.Regtest {
		fmt.Fprintf(stderr, "chaingen: warning: %s headers need billions of hashes each; this may take very long\n", cfg.opts.Network)
	}

	start := time.Now()
	headers := chaingen.Generate(cfg.n, cfg.opts)
	if err := chaingen.WriteFile(cfg.out, headers); err != nil {
		fmt.Fprintf(stderr, "chaingen: %v\n", err)
		return 1
	}
	elapsed := time.Since(start)

	first, last := headers[0], headers[len(headers)-1]
	noun := "headers"
	if len(headers) == 1 {
		noun = "header"
	}
	fmt.Fprintf(stdout, "wrote %d %s %s to %s\n", len(headers), cfg.opts.Network, noun, cfg.out)
	fmt.Fprintf(stdout, "first %s at %s\n", first.BlockHash(), first.Timestamp.UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "last  %s at %s\n", last.BlockHash(), last.Timestamp.UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "elapsed %v (%.0f headers/s)\n", elapsed.Round(time.Millisecond), float64(len(headers))/elapsed.Seconds())
	return 0
}

// parseFlags parses and checks args. Flag's own errors are already printed
// with the usage text and come back wrapped as errUsage; other returned
// errors still need printing.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("chaingen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 0, "number of headers after genesis (required)")
	out := fs.String("o", "", "output file (required)")
	network := fs.String("network", string(protocol.Regtest), "network whose genesis and pow limit to use")
	end := fs.String("end", "", "RFC3339 time the chain ends an hour before (default now)")
	spacing := fs.Duration("spacing", 0, "time between headers, whole seconds (default: ten minutes, less if the chain would not fit)")
	seed := fs.Uint64("seed", 0, "seed for merkle roots; different seeds give different chains")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: chaingen -n COUNT -o FILE [-network NAME] [-end RFC3339] [-spacing D] [-seed N]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, errUsage
	}

	var cfg config
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *n <= 0:
		return cfg, fmt.Errorf("-n must be a positive number of headers, got %d", *n)
	case *out == "":
		return cfg, errors.New("-o FILE is required")
	case *spacing < 0:
		return cfg, fmt.Errorf("-spacing must not be negative, got %v", *spacing)
	case *spacing > 0 && *spacing < time.Second:
		return cfg, fmt.Errorf("-spacing must be at least 1s (headers store whole seconds), got %v", *spacing)
	}
	net, err := protocol.ParseNetwork(*network)
	if err != nil {
		return cfg, fmt.Errorf("-network: %w", err)
	}
	var endTime time.Time
	if *end != "" {
		if endTime, err = time.Parse(time.RFC3339, *end); err != nil {
			return cfg, fmt.Errorf("-end: want an RFC3339 time such as 2025-06-01T12:00:00Z: %w", err)
		}
		genesis := net.Params().GenesisBlock.Header.Timestamp
		if !endTime.After(genesis.Add(time.Hour + time.Second)) {
			return cfg, fmt.Errorf("-end %s leaves no room after the %s genesis (%s) and the one-hour margin",
				*end, net, genesis.UTC().Format(time.RFC3339))
		}
	}
	cfg.n, cfg.out = *n, *out
	cfg.opts = chaingen.Options{Network: net, End: endTime, Spacing: *spacing, Seed: *seed}
	return cfg, nil
}
