package blockstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/cockroachdb/pebble/v2"
)

// MinPruneTarget is the smallest prune target the node may configure,
// Core's MIN_DISK_SPACE_FOR_BLOCK_FILES (550 MiB). Prune itself takes any
// target, as Core's manual pruning (pruneblockchain) ignores the target:
// checking the configured value is the option parser's job, as it is
// Core's init's.
const MinPruneTarget = 550 << 20

// MinBlocksToKeep is how many blocks below the tip a pruning node keeps,
// Core's MIN_BLOCKS_TO_KEEP: enough to disconnect blocks in any reorg
// Core expects and to serve recent blocks to peers.
const MinBlocksToKeep = 288

// ErrPruned is returned by ReadBlockAt for a block the store no longer has
// because its file was pruned. It is not ErrNotFound: the block existed,
// and fetching it again is pointless while the node prunes.
var ErrPruned = errors.New("block pruned")

// PruneResult says what one Prune call deleted.
type PruneResult struct {
	Files  []int // numbers of the blk/rev pairs deleted, ascending
	Blocks int   // index entries removed
	Bytes  int64 // blk and rev bytes freed
}

// Prune deletes whole blk/rev pairs, oldest (lowest number) first, while
// SizeOnDisk is above target, as Core's FindFilesToPrune does. A pair is
// deleted only if every block in it is below keepFrom (its highest height
// is below keepFrom) and it is not the file being written. The caller
// passes the lower of tip-MinBlocksToKeep and the last connected height+1,
// so no block the chain may still disconnect or connect is lost (Core
// prunes a file whose nHeightLast <= tip-MIN_BLOCKS_TO_KEEP, so this keeps
// one block more than Core); holding off until the chain is past the
// network's PruneAfterHeight is the caller's choice too.
//
// Staged writes are committed first (a pruned file has no staged entries).
// The pruned pairs' block entries are removed in the same synced batch that
// marks the pairs pruned and raises PruneHeight; the files are deleted only
// after it commits, so a crash leaves either the old index with its files
// or the new one with orphan files, which Open deletes. A failure to delete
// a file after the commit is returned with the result filled in: the
// index no longer has the pair, and the next Open deletes it again.
func (s *Store) Prune(target int64, keepFrom int32) (PruneResult, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.sync(); err != nil {
		return PruneResult{}, fmt.Errorf("pruning: %w", err)
	}
	var res PruneResult
	s.mu.Lock()
	usage := int64(0)
	for _, fi := range s.files {
		usage += fi.Bytes + fi.UndoBytes
	}
	height := s.pruneHeight
	for n := 0; n < s.last && usage > target; n++ {
		fi := s.files[n]
		if fi.Pruned || fi.Records == 0 || fi.HeightLast >= keepFrom {
			continue
		}
		res.Files = append(res.Files, n)
		res.Bytes += fi.Bytes + fi.UndoBytes
		usage -= fi.Bytes + fi.UndoBytes
		height = max(height, fi.HeightLast)
	}
	s.mu.Unlock()
	if len(res.Files) == 0 {
		return res, nil
	}

	b := s.db.NewBatch()
	defer b.Close()
	pruned := make(map[int]*fileInfo, len(res.Files))
	for _, n := range res.Files {
		k, err := s.deleteFileBlocks(b, n)
		if err != nil {
			return PruneResult{}, fmt.Errorf("pruning file %d: %w", n, err)
		}
		res.Blocks += k
		// The height range stays for the record; sizes go to zero, as
		// Core's CBlockFileInfo::SetNull does.
		s.mu.Lock()
		fi := s.files[n]
		s.mu.Unlock()
		pruned[n] = &fileInfo{HeightFirst: fi.HeightFirst, HeightLast: fi.HeightLast, Pruned: true}
		b.Set(fileKey(n), encodeFileInfo(pruned[n]), nil)
	}
	b.Set(keyPruned, binary.LittleEndian.AppendUint32(nil, uint32(height)), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return PruneResult{}, s.fail(fmt.Errorf("committing pruned block index: %w", err))
	}
	s.mu.Lock()
	for n, fi := range pruned {
		s.files[n] = fi
	}
	s.havePruned, s.pruneHeight = true, height
	s.mu.Unlock()
	if s.afterPruneCommit != nil {
		s.afterPruneCommit()
	}

	var errs []error
	for _, n := range res.Files {
		s.log.Info("block store: pruned", "file", n, "height_first", pruned[n].HeightFirst, "height_last", pruned[n].HeightLast)
		for _, p := range []string{s.blkPath(n), s.revPath(n)} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("deleting pruned %s: %w", p, err))
			}
		}
	}
	if err := syncDir(s.dir); err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// deleteFileBlocks adds to b the deletion of file n's block entries and of
// its list of them, and returns how many entries it deletes.
func (s *Store) deleteFileBlocks(b *pebble.Batch, n int) (int, error) {
	lo, hi := fileBlockBounds(n)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, fmt.Errorf("listing its blocks: %w", err)
	}
	defer it.Close()
	k := 0
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) != len(lo)+chainhash.HashSize {
			return 0, fmt.Errorf("%w: index key %x", ErrCorrupt, it.Key())
		}
		h := chainhash.Hash(it.Key()[len(lo):])
		// Only an entry still pointing into n goes: a block pruned and
		// stored again later lives in another file.
		e, ok, err := s.lookup(h)
		if err != nil {
			return 0, err
		}
		if ok && e.Block.File == n {
			b.Delete(blockKey(h), nil)
			k++
		}
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("listing its blocks: %w", err)
	}
	b.DeleteRange(lo, hi, nil)
	return k, nil
}

// HavePruned reports whether a file was ever pruned from the store (Core's
// m_have_pruned), which survives restarts: a pruned node cannot serve old
// blocks or rescan below PruneHeight.
func (s *Store) HavePruned() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.havePruned
}

// PruneHeight returns the highest height of any block ever pruned, -1 if
// none was.
func (s *Store) PruneHeight() int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pruneHeight
}

// ReadBlockAt is ReadBlock for a block the caller knows to be at height:
// a block the store does not have at or below PruneHeight is ErrPruned
// rather than ErrNotFound. The store alone cannot tell the two apart: it
// removes pruned blocks' entries and keeps no tombstone per hash (that
// would keep the index as large as the chain), so the height must come
// from the caller's header chain. A block at such a height that was never
// stored (a stale block never downloaded) is reported as pruned too: either
// way the store does not have it and, pruning, will not fetch it again.
func (s *Store) ReadBlockAt(hash chainhash.Hash, height int32) ([]byte, error) {
	raw, err := s.ReadBlock(hash)
	if errors.Is(err, ErrNotFound) && height <= s.PruneHeight() {
		return nil, fmt.Errorf("reading block %s at height %d: %w", hash, height, ErrPruned)
	}
	return raw, err
}
