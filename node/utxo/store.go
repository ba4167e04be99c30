package utxo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// DefaultCacheMiB is the default size of the coin cache, Bitcoin Core's
// -dbcache default (450 MiB).
const DefaultCacheMiB = 450

// ErrCorrupt says the store's bytes are not what this package wrote: a coin
// or the best-block record does not decode.
var ErrCorrupt = errors.New("UTXO store is corrupt")

// ErrWriteFailed wraps the first failed write; the store then refuses every
// later write, so a set the disk could not take is never half-kept in the
// cache and half on disk under a best block that says otherwise.
var ErrWriteFailed = errors.New("UTXO store write failed")

// Options configure Open.
type Options struct {
	// Dir is the directory of the set (the datadir's chainstate).
	Dir string
	// CacheBytes bounds the coin cache (Core's -dbcache); zero means
	// DefaultCacheMiB.
	CacheBytes int64
	// Logger receives pebble's messages at DEBUG; nil discards them.
	Logger *slog.Logger
	// FailWrites, for tests, makes every commit fail with this error, as a
	// full disk would.
	FailWrites func() error
}

// Best is the block the set reflects: every coin created by it and its
// ancestors and not spent by them, and no other.
type Best struct {
	Hash   chainhash.Hash
	Height int32
	// ChainTx is the number of transactions in the chain up to and
	// including this block (Core's nChainTx), for progress by
	// transactions; 0 when unknown (a set flushed before it was kept).
	ChainTx uint64
}

// Stats describe the set.
type Stats struct {
	// Best is the block the set reflects (in the cache: it may be ahead of
	// what is on disk), Flushed the one the disk holds.
	Best, Flushed Best
	// Coins is the number of unspent outputs in the set.
	Coins int64
	// CacheBytes is the coin cache's estimated memory, CacheLimit its
	// bound.
	CacheBytes, CacheLimit int64
	// MuHash is Core's MuHash3072 of the set as Flushed reflects it
	// (gettxoutsetinfo's muhash at Flushed.Height).
	MuHash chainhash.Hash
}

// entry is a coin in the cache, held by value in the map and without a
// pointer (its scripts are in the store's arena), so the collector never
// scans the cache. orig is the coin as the disk holds it when inDB; coin
// is the coin now, unless spent. Only dirty entries are written at a
// flush.
type entry struct {
	coin  cachedCoin
	orig  cachedCoin
	inDB  bool
	spent bool
	dirty bool
}

// cachedCoin is a Coin whose script is in the arena.
type cachedCoin struct {
	value    int64
	script   scriptRef
	height   int32
	coinbase bool
}

// entryOverhead estimates what one cache entry costs beyond its script
// bytes (which the arena counts): the map slot (an outpoint key of 36
// bytes and the entry of 72, 112 with padding), Go's map group and load
// factor overhead (about 130 bytes a coin in a full table, twice that just
// after the table doubled). Core's memusage estimates its
// CCoinsMap the same way, by counting the allocator's cost of each entry.
const entryOverhead = 256

// cached returns c with its script copied into the arena.
func (s *Store) cached(c *Coin) cachedCoin {
	return cachedCoin{value: c.Out.Value, script: s.arena.put(c.Out.PkScript), height: c.Height, coinbase: c.Coinbase}
}

// coin returns c as a Coin; its script is the arena's (see scriptArena).
func (s *Store) coin(c cachedCoin) Coin {
	return Coin{Out: wire.TxOut{Value: c.value, PkScript: s.arena.get(c.script)}, Height: c.height, Coinbase: c.coinbase}
}

// cacheUsage is the cache's estimated memory: its entries and the arena.
// s.mu is held.
func (s *Store) cacheUsage() int64 {
	return int64(len(s.cache))*entryOverhead + s.arena.bytes
}

// Store is the UTXO set: coins on disk in pebble, under Bitcoin Core's
// chainstate keys ('C', txid, VARINT(vout)) and values (Core's Coin
// serialization), with a write-back cache in front (Core's
// CCoinsViewCache over CCoinsViewDB). One goroutine writes (node/validate);
// others may read concurrently (the API's gettxout): a mutex guards the
// cache, held only for a lookup or an update.
//
// pebble was chosen (over bbolt, badger or goleveldb) because it is what
// CockroachDB runs in production, it is a log-structured store like Core's
// LevelDB with atomic batches and bloom filters, its writes are sequential
// (good for the millions of small coin writes of IBD), and the block index
// already uses it.
type Store struct {
	dir  string
	db   *pebble.DB
	log  *slog.Logger
	fail func() error

	mu      sync.Mutex
	cache   map[wire.OutPoint]entry
	arena   scriptArena // the cache's scripts
	limit   int64
	best    Best
	flushed Best
	coins   int64
	muhash  *MuHash        // of the flushed set
	final   chainhash.Hash // muhash finalized: Finalize costs a 3072-bit inversion
	err     error
}

// The keys: coins under 'C' (Core's DB_COIN) and one record of what the
// coins reflect under 'B' (Core's DB_BEST_BLOCK), written in the same batch
// as every coin change so the two can never disagree.
const (
	prefixCoin = 'C'
	keyBest    = "B"
	// bestRecordSize: hash, height, coin count, MuHash numerator and
	// denominator, then the chain's transaction count. A record of
	// oldBestRecordSize (written before the count was kept) reads as
	// a count of 0, unknown.
	oldBestRecordSize = 32 + 4 + 8 + muHashStateSize
	bestRecordSize    = oldBestRecordSize + 8
)

// coinKey appends op's key to dst.
func coinKey(dst []byte, op wire.OutPoint) []byte {
	dst = append(dst, prefixCoin)
	dst = append(dst, op.Hash[:]...)
	return AppendVarInt(dst, uint64(op.Index))
}

// Open opens (or creates) the set in opts.Dir.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("opening the UTXO set: Dir is required")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the UTXO set directory: %w", err)
	}
	s := &Store{dir: opts.Dir, log: opts.Logger, fail: opts.FailWrites, cache: map[wire.OutPoint]entry{}, limit: opts.CacheBytes, muhash: NewMuHash(), best: Best{Height: -1}}
	if s.limit <= 0 {
		s.limit = DefaultCacheMiB << 20
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// Coins are looked up by key, and most lookups of a new block's
	// outputs (BIP30) and of unknown spends miss: bloom filters on every
	// level let a miss skip the files.
	po := &pebble.Options{Logger: pebbleLogger{s.log}}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(filepath.Join(opts.Dir), po)
	if err != nil {
		return nil, fmt.Errorf("opening the UTXO set: %w", err)
	}
	s.db = db
	if err := s.readBest(); err != nil {
		db.Close()
		return nil, err
	}
	s.best = s.flushed
	return s, nil
}

func (s *Store) readBest() error {
	v, c, err := s.db.Get([]byte(keyBest))
	if errors.Is(err, pebble.ErrNotFound) {
		s.flushed = Best{Height: -1}
		s.final = s.muhash.Finalize()
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the UTXO set's best block: %w", err)
	}
	defer c.Close()
	if len(v) != bestRecordSize && len(v) != oldBestRecordSize {
		return fmt.Errorf("%w: best-block record is %d bytes, want %d", ErrCorrupt, len(v), bestRecordSize)
	}
	if len(v) == bestRecordSize {
		s.flushed.ChainTx = binary.LittleEndian.Uint64(v[oldBestRecordSize:])
	}
	copy(s.flushed.Hash[:], v[:32])
	s.flushed.Height = int32(binary.LittleEndian.Uint32(v[32:]))
	s.coins = int64(binary.LittleEndian.Uint64(v[36:]))
	if err := s.muhash.UnmarshalBinary(v[44:oldBestRecordSize]); err != nil {
		return fmt.Errorf("%w: best-block record's MuHash: %v", ErrCorrupt, err)
	}
	s.final = s.muhash.Finalize()
	return nil
}

// Close closes the store without flushing: what the cache holds beyond the
// last Flush is dropped, and the next Open starts from the flushed best
// block (the caller replays the blocks after it).
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// Dir returns the directory the set is kept in.
func (s *Store) Dir() string { return s.dir }

// Best returns the block the set reflects, in the cache.
func (s *Store) Best() Best {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.best
}

// SetBest records that the set now reflects b; the caller (node/validate)
// calls it after applying b's changes.
func (s *Store) SetBest(b Best) {
	s.mu.Lock()
	s.best = b
	s.mu.Unlock()
}

// Stats returns the set's figures. It is cheap (no disk access), but waits
// for a Flush in progress, which holds the lock.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Best: s.best, Flushed: s.flushed, Coins: s.coins, CacheBytes: s.cacheUsage(), CacheLimit: s.limit, MuHash: s.final}
}

// DiskBytes returns the store's size on disk (pebble's metrics, which walk
// its files: not for every block).
func (s *Store) DiskBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return 0
	}
	return int64(s.db.Metrics().DiskSpaceUsage())
}

// NeedsFlush reports whether the cache has reached its bound.
func (s *Store) NeedsFlush() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cacheUsage() >= s.limit
}

// lookup returns op's cache entry, reading it from disk into the cache on a
// miss; ok is false when the set has no such coin. s.mu is held.
func (s *Store) lookup(op wire.OutPoint) (e entry, ok bool, err error) {
	if e, ok := s.cache[op]; ok {
		return e, true, nil
	}
	var kb [1 + 32 + 10]byte
	v, c, err := s.db.Get(coinKey(kb[:0], op))
	if errors.Is(err, pebble.ErrNotFound) {
		return entry{}, false, nil
	}
	if err != nil {
		return entry{}, false, fmt.Errorf("reading coin %v: %w", op, err)
	}
	coin, n, err := DecodeCoin(v)
	if err == nil && n != len(v) {
		err = fmt.Errorf("%d bytes after the coin", len(v)-n)
	}
	if err == nil {
		// pebble's value is only valid until c is closed: the arena
		// copies the script.
		cc := s.cached(&coin)
		e = entry{coin: cc, orig: cc, inDB: true}
	}
	c.Close()
	if err != nil {
		return entry{}, false, fmt.Errorf("%w: coin %v: %v", ErrCorrupt, op, err)
	}
	s.cache[op] = e
	return e, true, nil
}

// Get returns the unspent coin at op, if the set has it.
func (s *Store) Get(op wire.OutPoint) (Coin, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return Coin{}, false, errors.New("UTXO set is closed")
	}
	e, ok, err := s.lookup(op)
	if err != nil || !ok || e.spent {
		return Coin{}, false, err
	}
	return s.coin(e.coin), true, nil
}

// Has reports whether the set has an unspent coin at op (BIP30's check).
func (s *Store) Has(op wire.OutPoint) (bool, error) {
	_, ok, err := s.Get(op)
	return ok, err
}

// Spend removes the coin at op and returns it; ok is false when the set
// has no such unspent coin (nothing changes then).
func (s *Store) Spend(op wire.OutPoint) (Coin, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Coin{}, false, s.err
	}
	e, ok, err := s.lookup(op)
	if err != nil || !ok || e.spent {
		return Coin{}, false, err
	}
	c := s.coin(e.coin)
	s.coins--
	if !e.inDB {
		// Created since the last flush: the disk never knew it, so
		// spending it leaves nothing to write (Core's FRESH coins). Its
		// script stays in the arena until the flush.
		delete(s.cache, op)
		return c, true, nil
	}
	e.spent, e.dirty = true, true
	e.coin = cachedCoin{}
	s.cache[op] = e
	return c, true, nil
}

// Add puts c at op. Overwriting an unspent coin is an error unless
// overwrite says the caller means it (Core's possible_overwrite: the two
// historic duplicate coinbases BIP30 excepts, and restoring undo data).
//
// Without overwrite the caller promises the disk has no unspent coin at op
// (BIP30's lookup, or BIP34's unique coinbases), so only the cache is
// checked and a coin the cache does not hold is new to the disk: Core's
// AddCoin marks it FRESH the same way. Reading the disk here would cost a
// second miss for every output a block creates.
func (s *Store) Add(op wire.OutPoint, c Coin, overwrite bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	e, ok := s.cache[op]
	if overwrite {
		var err error
		if e, ok, err = s.lookup(op); err != nil {
			return err
		}
	}
	switch {
	case !ok:
		e = entry{}
		s.coins++
	case e.spent:
		s.coins++
	case overwrite:
		// An unspent coin replaced: the count stays.
	default:
		return fmt.Errorf("adding coin %v: the set already has it unspent", op)
	}
	e.coin, e.spent, e.dirty = s.cached(&c), false, true
	s.cache[op] = e
	return nil
}

// Flush writes every change since the last flush together with the best
// block and the set's MuHash in one synced batch, then empties the cache
// (Core's CCoinsViewCache::Flush). The undo data of every block the set now
// reflects must be durable before: a crash after the batch must be able to
// disconnect those blocks.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.db == nil {
		return errors.New("UTXO set is closed")
	}
	b := s.db.NewBatch()
	defer b.Close()
	mh := NewMuHash()
	mh.Combine(s.muhash)
	var kb, vb, hb []byte
	for op, e := range s.cache {
		if !e.dirty {
			continue
		}
		kb = coinKey(kb[:0], op)
		if e.inDB {
			orig := s.coin(e.orig)
			hb = AppendMuHashCoin(hb[:0], op, orig.Height, orig.Coinbase, &orig.Out)
			mh.Remove(hb)
		}
		if e.spent {
			if e.inDB {
				if err := b.Delete(kb, nil); err != nil {
					return s.failed(err)
				}
			}
			continue
		}
		coin := s.coin(e.coin)
		vb = AppendCoin(vb[:0], &coin)
		if err := b.Set(kb, vb, nil); err != nil {
			return s.failed(err)
		}
		hb = AppendMuHashCoin(hb[:0], op, coin.Height, coin.Coinbase, &coin.Out)
		mh.Insert(hb)
	}
	rec := make([]byte, 0, bestRecordSize)
	rec = append(rec, s.best.Hash[:]...)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(s.best.Height))
	rec = binary.LittleEndian.AppendUint64(rec, uint64(s.coins))
	state, err := mh.MarshalBinary()
	if err != nil {
		return s.failed(err)
	}
	rec = append(rec, state...)
	rec = binary.LittleEndian.AppendUint64(rec, s.best.ChainTx)
	if err := b.Set([]byte(keyBest), rec, nil); err != nil {
		return s.failed(err)
	}
	if s.fail != nil {
		if err := s.fail(); err != nil {
			return s.failed(err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return s.failed(err)
	}
	s.muhash = mh
	s.final = mh.Finalize()
	s.flushed = s.best
	clear(s.cache)
	s.arena.reset()
	return nil
}

// failed records the first write failure. s.mu is held.
func (s *Store) failed(err error) error {
	s.err = fmt.Errorf("%w: %w", ErrWriteFailed, err)
	return s.err
}

// pebbleLogger sends pebble's messages to the node's log at DEBUG (its
// errors at ERROR).
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("UTXO set: " + fmt.Sprintf(format, args...))
}
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("UTXO set: " + fmt.Sprintf(format, args...))
}
func (l pebbleLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("UTXO set: "+format, args...))
}
