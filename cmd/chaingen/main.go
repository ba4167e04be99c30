// Command chaingen writes a valid header chain, or a valid block chain, to
// a file, for feeding the node's header and block import in tests and
// benchmarks.
//
//	chaingen -n 40000 -o FILE [-network regtest] [-end RFC3339] [-spacing D] [-seed N]
//	chaingen -format blocks [-n BLOCKS] [-txs N] [-size BYTES] [-tail N] -o FILE [-end RFC3339] [-seed N]
//
// With -format headers (the default) the file holds raw concatenated
// 80-byte headers following the network's genesis block (genesis
// excluded). Timestamps lie in the past, ending an hour before -end
// (default now), which btcd's own miner cannot produce for long chains.
// Only regtest is practical: other networks' proof-of-work limits need
// billions of hashes per header.
//
// With -format blocks the file is a Bitcoin Core block file (records of
// the network magic, the block size as uint32 little-endian, and the
// block) of a regtest chain from internal/blockgen: -n blocks, or with
// -size as many as reach that many block bytes, each from coinbase
// maturity on carrying -txs signed spends of every common output type.
// btcd and Core accept these chains; blocks are regtest only.
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

	"github.com/watchnode/watchnode/internal/blockgen"
	"github.com/watchnode/watchnode/internal/chaingen"
	"github.com/watchnode/watchnode/node/protocol"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command-line mistake, which exits 2 like flag's own
// errors so scripts can tell it from a failed run.
var errUsage = errors.New("usage")

// Output formats.
const (
	formatHeaders = "headers"
	formatBlocks  = "blocks"
)

// config is the parsed command line.
type config struct {
	n      int
	out    string
	format string
	opts   chaingen.Options
	// blocks configures -format blocks.
	blocks blockgen.Options
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
	if cfg.format == formatBlocks {
		return runBlocks(cfg, stdout, stderr)
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

// runBlocks is run for -format blocks.
func runBlocks(cfg config, stdout, stderr io.Writer) int {
	start := time.Now()
	st, err := writeBlockFile(cfg.out, protocol.Regtest.Magic(), cfg.blocks)
	if err != nil {
		fmt.Fprintf(stderr, "chaingen: %v\n", err)
		return 1
	}
	elapsed := time.Since(start)
	noun := "blocks"
	if st.blocks == 1 {
		noun = "block"
	}
	fmt.Fprintf(stdout, "wrote %d regtest %s (%d transactions, %d block bytes) to %s\n", st.blocks, noun, st.txs, st.bytes, cfg.out)
	if st.blocks > 0 {
		fmt.Fprintf(stdout, "first %s at %s\n", st.first.hash, st.first.time.UTC().Format(time.RFC3339))
		fmt.Fprintf(stdout, "last  %s at %s\n", st.last.hash, st.last.time.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "elapsed %v (%.2f MB/s)\n", elapsed.Round(time.Millisecond), float64(st.bytes)/1e6/elapsed.Seconds())
	return 0
}

// parseFlags parses and checks args. Flag's own errors are already printed
// with the usage text and come back wrapped as errUsage; other returned
// errors still need printing.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("chaingen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 0, "number of headers or blocks after genesis (required, unless -size)")
	out := fs.String("o", "", "output file (required)")
	network := fs.String("network", string(protocol.Regtest), "network whose genesis and pow limit to use")
	end := fs.String("end", "", "RFC3339 time the chain ends an hour before (default now)")
	spacing := fs.Duration("spacing", 0, "time between headers, whole seconds (default: ten minutes, less if the chain would not fit)")
	seed := fs.Uint64("seed", 0, "seed for merkle roots, or blocks' keys; different seeds give different chains")
	format := fs.String("format", formatHeaders, "what to write: headers (raw 80-byte headers) or blocks (a Core block file)")
	txs := fs.Int("txs", 0, "signed spends per block from coinbase maturity (height 101) on; blocks only")
	size := fs.Int64("size", 0, "go on past -n blocks until the blocks total this many bytes; blocks only")
	tail := fs.Int("tail", 0, "coinbase-only blocks after the rest; 2016 puts every other block two weeks below the tip, deep enough for -assumevalid=TIP to skip its scripts (as Core); blocks only")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: chaingen -n COUNT -o FILE [-network NAME] [-end RFC3339] [-spacing D] [-seed N]\n")
		fmt.Fprintf(stderr, "       chaingen -format blocks [-n COUNT] [-txs N] [-size BYTES] [-tail N] -o FILE [-end RFC3339] [-seed N]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, errUsage
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var cfg config
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *format != formatHeaders && *format != formatBlocks:
		return cfg, fmt.Errorf("-format must be %s or %s, got %q", formatHeaders, formatBlocks, *format)
	case *format == formatHeaders && (set["txs"] || set["size"] || set["tail"]):
		return cfg, errors.New("-txs, -size and -tail apply to -format blocks only")
	case *format == formatBlocks && set["spacing"]:
		return cfg, errors.New("-spacing applies to headers only: blocks are spaced as internal/blockgen lays them out")
	case *txs < 0:
		return cfg, fmt.Errorf("-txs must not be negative, got %d", *txs)
	case *size < 0:
		return cfg, fmt.Errorf("-size must not be negative, got %d", *size)
	case *tail < 0:
		return cfg, fmt.Errorf("-tail must not be negative, got %d", *tail)
	case *format == formatBlocks && *n < 0:
		return cfg, fmt.Errorf("-n must not be negative, got %d", *n)
	case *format == formatBlocks && *n == 0 && *size == 0:
		return cfg, errors.New("-format blocks needs -n BLOCKS or -size BYTES")
	case *format == formatHeaders && *n <= 0:
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
	if *format == formatBlocks && net != protocol.Regtest {
		return cfg, fmt.Errorf("-format blocks makes regtest chains only, not %s", net)
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
	cfg.n, cfg.out, cfg.format = *n, *out, *format
	cfg.opts = chaingen.Options{Network: net, End: endTime, Spacing: *spacing, Seed: *seed}
	cfg.blocks = blockgen.Options{Seed: *seed, Blocks: *n, TxPerBlock: *txs, TargetBytes: *size, TailBlocks: *tail, Now: endTime}
	return cfg, nil
}
