package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/watchnode/watchnode/internal/atomicfile"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// headerFileBatch is how many headers import-headers validates at a time.
const headerFileBatch = 2000

// runHeadersCommand runs "import-headers FILE" or "export-headers FILE".
func runHeadersCommand(prog, name string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	network := fs.String("network", string(protocol.Mainnet), "network of the chain")
	dataDir := fs.String("datadir", defaultDataDir(), "data folder; each network uses its own subfolder")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s [-network NET] [-datadir DIR] FILE\n\n", prog, name)
		if name == "import-headers" {
			fmt.Fprintf(fs.Output(), "Validates FILE (raw 80-byte headers, concatenated) with the full consensus rules and adds them to the chain.\n\n")
		} else {
			fmt.Fprintf(fs.Output(), "Writes the main chain, genesis included, to FILE as raw 80-byte headers.\n\n")
		}
		fs.PrintDefaults()
	}
	files, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "%s %s: want exactly one FILE argument, got %d (%s %s -help)\n", prog, name, len(files), prog, name)
		return 2
	}
	net, err := protocol.ParseNetwork(*network)
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: -network: %v\n", prog, name, err)
		return 2
	}
	dir := filepath.Join(*dataDir, string(net))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, name, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, store, err := chain.Open(dir, consensus.ParamsFor(net), log)
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, name, err)
		return 1
	}
	if name == "import-headers" {
		err = importHeaders(c, store, files[0], stdout)
	} else {
		err = exportHeaders(c, files[0], stdout)
	}
	if cerr := store.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, name, err)
		return 1
	}
	return 0
}

// importHeaders validates and adds the headers in path, in batches, and
// stores them.
func importHeaders(c *chain.Chain, store *chain.Store, path string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size()%80 != 0 {
		return fmt.Errorf("%s is %d bytes, not a whole number of 80-byte headers (%d left over at the end)", path, info.Size(), info.Size()%80)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var added, known int
	buf := make([]byte, 80)
	batch := make([]consensus.Header, 0, headerFileBatch)
	index := 0
	start := time.Now()
	flush := func() error {
		res, err := c.Accept(batch, nil, time.Now().Unix())
		// Stored with an error too: the headers before it were accepted.
		for _, w := range res.Writes {
			store.Write(w)
		}
		added += res.New
		known += res.Duplicates
		if err != nil {
			failed := index - len(batch) + res.New + res.Duplicates
			return fmt.Errorf("header %d of %s (file offset %d): %w", failed, path, failed*80, err)
		}
		batch = batch[:0]
		return nil
	}
	for {
		if _, err := io.ReadFull(r, buf); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		h, err := consensus.ParseHeader(buf)
		if err != nil {
			return fmt.Errorf("header %d of %s: %w", index, path, err)
		}
		batch = append(batch, h)
		index++
		if len(batch) == headerFileBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	if err := store.Flush(); err != nil {
		return err
	}
	height, hash, work := c.Tip()
	fmt.Fprintf(stdout, "imported %d new headers (%d already known) in %s; tip %d %s, chain work %s\n",
		added, known, time.Since(start).Round(time.Millisecond), height, hash, work.Hex())
	return nil
}

// exportHeaders writes the main chain to path, atomically.
func exportHeaders(c *chain.Chain, path string, stdout io.Writer) error {
	err := atomicfile.WriteFunc(path, 0o644, func(w io.Writer) error {
		buf := make([]byte, 0, 80)
		for h := int32(0); h <= c.Height(); h++ {
			buf = c.HeaderAt(h).Serialize(buf[:0])
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	height, hash, _ := c.Tip()
	fmt.Fprintf(stdout, "exported %d headers to %s; tip %d %s\n", height+1, path, height, hash)
	return nil
}
