package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/watchnode/watchnode/internal/atomicfile"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
)

// headerFileBatch is how many headers import-headers validates at a time.
const headerFileBatch = 2000

// runHeadersCommand runs "import-headers FILE" or "export-headers FILE".
// Import opens the header store for writing, so the node must not be
// running on the same data folder; export only reads it (chain.ReadStore)
// and works while the node runs.
func runHeadersCommand(prog, name string, args []string, stdout, stderr io.Writer) int {
	export := name == "export-headers"
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := addDataFlags(fs, "network of the chain")
	force := new(bool)
	if export {
		force = fs.Bool("force", false, "replace FILE if it exists")
	}
	fs.Usage = func() {
		if export {
			fmt.Fprintf(fs.Output(), "Usage: %s %s [-network NET] [-datadir DIR] [-force] FILE\n\n"+
				"Writes the main chain, genesis included, to FILE as raw 80-byte headers. It only reads\n"+
				"the header store, so it works while the node runs. FILE must not exist unless -force is\n"+
				"given; it appears whole or not at all.\n\n", prog, name)
		} else {
			fmt.Fprintf(fs.Output(), "Usage: %s %s [-network NET] [-datadir DIR] FILE\n\n"+
				"Validates FILE (raw 80-byte headers, concatenated) with the full consensus rules and adds\n"+
				"them to the chain. The node must not be running on the same data folder.\n\n", prog, name)
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
	net, root, dir, err := data.resolve()
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, name, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	params := consensus.ParamsFor(net)
	if export {
		err = exportHeaders(dir, params, files[0], *force, stdout, log)
	} else {
		err = importHeadersInto(dir, params, files[0], root, stdout, log)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, name, err)
		return 1
	}
	return 0
}

// importHeadersInto imports path into the chain in dir, opened for writing;
// dataRoot (-datadir) is where the other networks' folders are, for naming
// the network a file belongs to when it does not connect.
func importHeadersInto(dir string, params *consensus.Params, path, dataRoot string, stdout io.Writer, log *slog.Logger) error {
	// The file first: a mistyped name must not create a data folder.
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the data folder: %w", err)
	}
	c, store, err := chain.Open(dir, params, log)
	if err != nil {
		return err
	}
	hint := func(first *consensus.Header) string { return otherNetworkHint(first, params.Network, dataRoot) }
	err = importHeaders(c, store, f, stdout, hint)
	if cerr := store.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

// importHeaders validates and adds the headers in f, in batches, and
// stores them. When the file's first header does not connect, hint says
// what the file may be instead ("" when it knows nothing).
func importHeaders(c *chain.Chain, store *chain.Store, f *os.File, stdout io.Writer, hint func(first *consensus.Header) string) error {
	path := f.Name()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size()%80 != 0 {
		return fmt.Errorf("%s is %s, not a whole number of 80-byte headers (%s left over at the end)",
			path, plural(info.Size(), "byte", "bytes"), plural(info.Size()%80, "byte", "bytes"))
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var added, known int
	var first consensus.Header
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
			if failed == 0 && errors.Is(err, chain.ErrNotConnected) {
				if h := hint(&first); h != "" {
					return fmt.Errorf("header 0 of %s: %w; %s", path, err, h)
				}
			}
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
		if index == 0 {
			first = h
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
	fmt.Fprintf(stdout, "imported %s (%d already known) in %s; tip %d %s, chain work %s\n",
		plural(int64(added), "new header", "new headers"), known, time.Since(start).Round(time.Millisecond), height, hash, work.Hex())
	return nil
}

// exportHeaders writes the main chain in dir to path, reading the store
// without locking or changing it. path must not exist unless force; it is
// written whole under a temporary name and then renamed.
func exportHeaders(dir string, params *consensus.Params, path string, force bool, stdout io.Writer, log *slog.Logger) error {
	if !force {
		// Before the work; atomicfile.CreateFunc checks again, atomically.
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s exists; -force replaces it", path)
		}
	}
	c, err := chain.OpenReadOnly(dir, params, log)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no %s chain in %s (check -datadir and -network): %w", params.Network, dir, err)
	}
	if err != nil {
		return err
	}
	write := atomicfile.CreateFunc
	if force {
		write = atomicfile.WriteFunc
	}
	err = write(path, 0o644, func(w io.Writer) error {
		buf := make([]byte, 0, 80)
		for h := int32(0); h <= c.Height(); h++ {
			buf = c.HeaderAt(h).Serialize(buf[:0])
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; -force replaces it", path)
	}
	if err != nil {
		return err
	}
	height, hash, _ := c.Tip()
	fmt.Fprintf(stdout, "exported %s to %s; tip %d %s\n", plural(int64(height)+1, "header", "headers"), path, height, hash)
	return nil
}
