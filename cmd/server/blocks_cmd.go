package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/blockstore"
	"github.com/watchnode/watchnode/node/chain"
	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/protocol"
)

// maxOrphanBlocks bounds the blocks import-blocks holds while their parent
// has not been read yet (Core's -loadblock keeps such blocks until their
// parent comes, too): a file of blocks in a hopeless order fails instead of
// filling memory.
const maxOrphanBlocks = 10_000

// runImportBlocksCommand runs "import-blocks FILE...": Core's -loadblock.
// It opens the header chain and the block store for writing, so the node
// must not be running on the same data folder.
func runImportBlocksCommand(prog string, args []string, stdout, stderr io.Writer) int {
	name := "import-blocks"
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := addDataFlags(fs, "network of the blocks")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s [-network NET] [-datadir DIR] FILE...\n\n"+
			"Reads Bitcoin Core block files (blkNNNNN.dat) or bootstrap.dat-style files (records of\n"+
			"network magic, size and block), as Core's -loadblock: every block's header is validated\n"+
			"and added to the header chain, every block checked against the block rules and stored.\n"+
			"Blocks may come in any order (Core's files are in download order). The node must not be\n"+
			"running on the same data folder; its next start connects what was imported.\n\n", prog, name)
		fs.PrintDefaults()
	}
	files, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "%s %s: want at least one FILE (%s %s -help)\n", prog, name, prog, name)
		return 2
	}
	net, _, dir, err := data.resolve()
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, name, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := importBlocks(dir, net, files, stdout, log); err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, name, err)
		return 1
	}
	return 0
}

// blockImporter adds blocks read from files to the chain and the store.
type blockImporter struct {
	chain   *chain.Chain
	headers *chain.Store
	blocks  *blockstore.Store
	params  *consensus.Params
	// orphans holds blocks whose parent is not known yet, by parent hash.
	orphans        map[chainhash.Hash][]orphanBlock
	orphanCount    int
	added, skipped int
	bytes          int64
}

type orphanBlock struct {
	raw    []byte
	where  string
	parsed *consensus.Block
}

func importBlocks(dir string, net protocol.Network, files []string, stdout io.Writer, log *slog.Logger) error {
	// The files first: a mistyped name must not create a data folder.
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the data folder: %w", err)
	}
	params := consensus.ParamsFor(net)
	c, hs, err := chain.Open(dir, params, log)
	if err != nil {
		return err
	}
	bs, err := blockstore.Open(blockstore.Options{Dir: dir, Magic: net.Magic(), Logger: log})
	if err != nil {
		return errors.Join(err, hs.Close())
	}
	imp := &blockImporter{chain: c, headers: hs, blocks: bs, params: params, orphans: make(map[chainhash.Hash][]orphanBlock)}
	start := time.Now()
	err = imp.run(files, net)
	err = errors.Join(err, bs.Close(), hs.Close())
	if err != nil {
		return err
	}
	height, hash, _ := c.Tip()
	fmt.Fprintf(stdout, "imported %s (%d already stored), %s, in %s; header tip %d %s\n",
		plural(int64(imp.added), "block", "blocks"), imp.skipped, plural(imp.bytes, "byte", "bytes"),
		time.Since(start).Round(time.Millisecond), height, hash)
	return nil
}

func (imp *blockImporter) run(files []string, net protocol.Network) error {
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		err = blockstore.ScanBlockFile(f, net.Magic(), func(offset int64, raw []byte) error {
			return imp.block(raw, fmt.Sprintf(" (read from %s at offset %d)", path, offset))
		})
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := imp.blocks.Sync(); err != nil {
			return err
		}
	}
	if imp.orphanCount > 0 {
		for parent, waiting := range imp.orphans {
			return fmt.Errorf("%d blocks never met their parent; one, %s%s, builds on %s, which no file holds",
				imp.orphanCount, waiting[0].parsed.Hash, waiting[0].where, parent)
		}
	}
	return imp.headers.Flush()
}

// block imports one block, then any orphans waiting for it; where says
// where it was read, for the errors of orphans imported later.
func (imp *blockImporter) block(raw []byte, where string) error {
	b, err := consensus.DecodeBlock(raw)
	if err != nil {
		return err // the scan names the file and the offset
	}
	if b.Hash == imp.params.GenesisHash {
		return imp.store(b, raw, 0, "")
	}
	if !imp.chain.Known(&b.Header.PrevBlock) {
		if imp.orphanCount >= maxOrphanBlocks {
			return fmt.Errorf("block %s: more than %d blocks read before their parents; the files are in no usable order", b.Hash, maxOrphanBlocks)
		}
		imp.orphans[b.Header.PrevBlock] = append(imp.orphans[b.Header.PrevBlock], orphanBlock{raw: raw, where: where, parsed: b})
		imp.orphanCount++
		return nil
	}
	// The block itself is named by the scan's error; the orphans it
	// frees say where they were read.
	queue := []orphanBlock{{raw: raw, parsed: b}}
	for len(queue) > 0 {
		o := queue[0]
		queue = queue[1:]
		if err := imp.connect(o.parsed, o.raw, o.where); err != nil {
			return err
		}
		if waiting := imp.orphans[o.parsed.Hash]; len(waiting) > 0 {
			delete(imp.orphans, o.parsed.Hash)
			imp.orphanCount -= len(waiting)
			queue = append(queue, waiting...)
		}
	}
	return nil
}

// connect validates b's header into the chain, checks the block rules and
// stores it.
func (imp *blockImporter) connect(b *consensus.Block, raw []byte, where string) error {
	res, err := imp.chain.Accept([]consensus.Header{b.Header}, []chainhash.Hash{b.Hash}, time.Now().Unix())
	for _, w := range res.Writes {
		imp.headers.Write(w)
	}
	if err != nil {
		return fmt.Errorf("block %s%s: header: %w", b.Hash, where, err)
	}
	info, _ := imp.chain.Lookup(&b.Hash)
	ctx := consensus.BlockContext{Params: imp.params, Height: info.Height,
		MedianTimePast: consensus.MedianTimePast(branchAncestors{imp.chain, b.Header.PrevBlock, info.Height - 1}, info.Height-1)}
	// The rules' errors name the block, its height and the rule.
	if err := consensus.CheckBlockMutation(&ctx, b); err != nil {
		return fmt.Errorf("%w%s", err, where)
	}
	if err := consensus.CheckBlock(&ctx, b); err != nil {
		return fmt.Errorf("%w%s", err, where)
	}
	return imp.store(b, raw, info.Height, where)
}

func (imp *blockImporter) store(b *consensus.Block, raw []byte, height int32, where string) error {
	if imp.blocks.Has(b.Hash) {
		imp.skipped++
		return nil
	}
	if _, err := imp.blocks.WriteBlock(b.Hash, height, raw); err != nil {
		return fmt.Errorf("storing block %s%s: %w", b.Hash, where, err)
	}
	imp.added++
	imp.bytes += int64(len(raw))
	return nil
}

// branchAncestors gives consensus.MedianTimePast the headers of the branch
// ending at tip (hash tip at height top), main chain or fork, by walking
// back from tip: a block in a file may be on any branch.
type branchAncestors struct {
	chain *chain.Chain
	tip   chainhash.Hash
	top   int32
}

// HeaderAt implements consensus.Ancestors for heights at most top.
func (a branchAncestors) HeaderAt(height int32) *consensus.Header {
	hash := a.tip
	for h := a.top; ; h-- {
		info, ok := a.chain.Lookup(&hash)
		if !ok {
			panic(fmt.Sprintf("import-blocks: ancestor %s at height %d not in the chain", hash, h))
		}
		if h == height || info.Main {
			if info.Main {
				return a.chain.HeaderAt(height)
			}
			hdr := info.Header
			return &hdr
		}
		hash = info.Header.PrevBlock
	}
}
