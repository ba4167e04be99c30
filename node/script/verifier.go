package script

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/watchnode/watchnode/node/consensus"
)

// Errors a Check can end with besides an *InputError.
var (
	// ErrCanceled says Cancel stopped the check before every input was
	// verified (and none verified so far failed).
	ErrCanceled = errors.New("script check canceled")
	// ErrClosed says the Verifier was closed before every input was
	// verified, or before the check was started.
	ErrClosed = errors.New("script verifier closed")
	// ErrPrevouts says the prevouts given to Start do not match the
	// block's inputs (a caller's bug, not an invalid block).
	ErrPrevouts = errors.New("prevouts do not match the block's inputs")
)

// maxChunk bounds how many inputs a worker takes from a check at once.
// A chunk costs one lock round trip to claim, next to tens of
// microseconds per signature; small chunks let the workers finish a block
// together, so the last chunk delays the block by at most maxChunk inputs.
const maxChunk = 32

// chunksPerWorker is how many chunks a block is cut into per worker when
// it has few inputs, so that uneven inputs (a 20-of-20 multisig next to a
// P2PKH) still spread evenly.
const chunksPerWorker = 4

// InputError says which input's script failed. Err is the error txscript
// returned: a txscript.Error, whose ErrorCode names the rule broken,
// except where txscript passes on another package's (btcec's, for a
// taproot control block whose internal key is not on the curve).
type InputError struct {
	// TxIndex is the transaction's position in the block and TxID its id.
	TxIndex int
	TxID    chainhash.Hash
	// Input is the input's position in the transaction, and Prevout the
	// output it spends.
	Input   int
	Prevout wire.OutPoint
	// Err is why the script failed.
	Err error
}

// Error names the transaction by its full id, the input and what it
// spends, then txscript's reason.
func (e *InputError) Error() string {
	return fmt.Sprintf("tx %s input %d spending %s: script failed: %v", e.TxID, e.Input, e.Prevout, e.Err)
}

// Unwrap returns txscript's error, so errors.As finds the txscript.Error.
func (e *InputError) Unwrap() error { return e.Err }

// Verifier runs the script checks of blocks on a pool of worker
// goroutines sharing one signature cache. Start hands it a block; the
// workers take the block's inputs in chunks, oldest block first. It is
// safe for concurrent use. Close stops the workers; a Verifier that is
// never closed keeps them.
type Verifier struct {
	// workers is how many worker goroutines run.
	workers int
	// sigCache is shared by every check. The first Start makes it (with
	// mu held), sized sigCacheEntries; it stays nil when that is zero.
	// txscript.NewSigCache allocates its whole map at once (13 MB for
	// 100,000 entries), which a node that has no block to verify yet (a
	// header sync) should not hold.
	sigCache        *txscript.SigCache
	sigCacheEntries uint
	// curve is libsecp256k1 when the build links it (nil otherwise); the
	// workers settle standard spends with it (verifyStandard).
	curve curve
	// fastVerified counts the signatures curve verified, over all checks;
	// signatureChecks counts every verification curve made, valid or not.
	fastVerified    atomic.Int64
	signatureChecks atomic.Int64
	wg              sync.WaitGroup
	close           sync.Once

	mu sync.Mutex
	// wake is signalled (with mu) when a check is queued or the Verifier
	// closes.
	wake *sync.Cond
	// queue holds the checks that still have chunks no worker has
	// claimed, in the order they were started.
	queue  []*Check
	closed bool
}

// NewVerifier starts workers goroutines (runtime.GOMAXPROCS(0) when
// workers is zero or less) and a signature cache of sigCacheEntries
// entries (txscript.NewSigCache, made by the first Start; zero means no
// cache). The cache holds
// valid signatures, keyed by sighash, with the signature and key bytes;
// it pays off for signatures seen before (a mempool's, or a block checked
// twice), not during initial block download, where it only costs a lock
// and memory.
func NewVerifier(workers int, sigCacheEntries uint) *Verifier {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	v := &Verifier{workers: workers, sigCacheEntries: sigCacheEntries, curve: newFastCurve()}
	v.wake = sync.NewCond(&v.mu)
	v.wg.Add(workers)
	for range workers {
		go v.work()
	}
	return v
}

// Close stops the workers and waits for them to exit. A worker finishes
// the chunk it holds (at most maxChunk inputs) first; checks with inputs
// left unverified then end with ErrClosed, and later Starts return checks
// that end with ErrClosed at once. Close may be called more than once.
func (v *Verifier) Close() {
	v.close.Do(func() {
		v.mu.Lock()
		v.closed = true
		v.wake.Broadcast()
		v.mu.Unlock()
		v.wg.Wait()
		// No worker is left to claim the rest, so the queue is ours.
		v.mu.Lock()
		queue := v.queue
		v.queue = nil
		for _, c := range queue {
			c.abandon(ErrClosed)
		}
		v.mu.Unlock()
		if v.curve != nil {
			v.curve.close()
		}
	})
}

// SignatureLibrary names what verifies signatures: "libsecp256k1" when
// the build links it (single-key signatures go through it, the rest
// through txscript), otherwise "btcec", txscript's own.
func (v *Verifier) SignatureLibrary() string {
	if v.curve != nil {
		return v.curve.name()
	}
	return "btcec"
}

// FastVerified returns how many signatures libsecp256k1 has verified so
// far (zero when the build does not link it).
func (v *Verifier) FastVerified() int64 { return v.fastVerified.Load() }

// SignatureChecks returns how many signature verifications libsecp256k1
// has made so far, valid or not: FastVerified plus the tries of a
// multisig's signatures against keys they do not match (CHECKMULTISIG
// makes them, in Core as here) and any signature that failed. It is the
// work the signature floor of BENCHMARKS.md prices.
func (v *Verifier) SignatureChecks() int64 { return v.signatureChecks.Load() }

// Start queues every input of b for verification with flags and returns
// at once, so the caller can fetch the next block's inputs while the
// workers check this one. prevouts[i][j] is the output spent by input j of
// b.Msg.Transactions[i]; prevouts[0], the coinbase's, is ignored. The
// workers read b and prevouts until Wait returns; neither may change
// before then. A prevouts that does not match b's inputs makes a check
// that ends at once with ErrPrevouts.
func (v *Verifier) Start(b *consensus.Block, prevouts [][]*wire.TxOut, flags txscript.ScriptFlags) *Check {
	c := &Check{v: v, block: b, prevouts: prevouts, flags: flags, done: make(chan struct{})}
	if err := c.layout(); err != nil {
		c.err = err
		close(c.done)
		return c
	}
	if c.chunks == 0 {
		close(c.done)
		return c
	}
	c.pending.Store(int64(c.chunks))
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		c.abandon(ErrClosed)
		return c
	}
	if v.sigCache == nil && v.sigCacheEntries > 0 {
		v.sigCache = txscript.NewSigCache(v.sigCacheEntries)
	}
	// Workers read the cache through c, which they take from the queue
	// under mu.
	c.sigCache = v.sigCache
	v.queue = append(v.queue, c)
	v.wake.Broadcast()
	v.mu.Unlock()
	return c
}

// next blocks until a chunk is available and claims it, or returns false
// when the Verifier is closed.
func (v *Verifier) next() (*Check, int, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for {
		if v.closed {
			return nil, 0, false
		}
		if len(v.queue) > 0 {
			c := v.queue[0]
			k := c.claimed
			c.claimed++
			if c.claimed == c.chunks {
				v.queue[0] = nil
				v.queue = v.queue[1:]
			}
			return c, k, true
		}
		v.wake.Wait()
	}
}

// work is a worker goroutine: it verifies chunks until Close.
func (v *Verifier) work() {
	defer v.wg.Done()
	// The fetcher is the worker's own, reused for every input, so that
	// handing it to txscript (an interface) allocates nothing.
	f := &prevoutFetcher{}
	if v.curve != nil {
		f = newStandardFetcher()
		f.curve = &countingCurve{curve: v.curve}
	}
	for {
		c, k, ok := v.next()
		if !ok {
			return
		}
		c.run(k, f)
	}
}

// Check is one block's script verification, started by Verifier.Start.
type Check struct {
	v        *Verifier
	block    *consensus.Block
	prevouts [][]*wire.TxOut
	flags    txscript.ScriptFlags
	// sigCache is the Verifier's, set by Start before the check is queued.
	sigCache *txscript.SigCache

	// txs holds, per transaction, where its inputs start in the block's
	// order of inputs (the coinbase's none) and its sighash midstate.
	txs []txState
	// total is the number of inputs to verify, cut into chunks of chunk
	// inputs (the last one shorter).
	total, chunk, chunks int
	// claimed counts the chunks handed to workers; it is guarded by v.mu.
	claimed int

	// pending counts the chunks not finished; done closes when it reaches
	// zero.
	pending atomic.Int64
	done    chan struct{}

	canceled atomic.Bool
	// verified counts inputs whose scripts passed.
	verified atomic.Int64
	// firstFail is the block-order index of the lowest input found to
	// fail, or total; inputs above it are skipped, since they cannot
	// change which failure Wait reports.
	firstFail atomic.Int64

	mu      sync.Mutex
	failure *InputError // the input at firstFail
	err     error       // ErrPrevouts or ErrClosed
}

// txState is what a check keeps per transaction.
type txState struct {
	// start is the block-order index of the transaction's first input.
	start int
	once  sync.Once
	// hashes is the BIP143/BIP341 sighash midstate, computed by the first
	// worker to reach the transaction; nil when no input has a witness.
	hashes *txscript.TxSigHashes
}

// layout checks prevouts against the block and numbers the inputs.
func (c *Check) layout() error {
	txs := c.block.Msg.Transactions
	if len(c.prevouts) != len(txs) {
		return fmt.Errorf("%w: %d prevout lists for %d transactions", ErrPrevouts, len(c.prevouts), len(txs))
	}
	c.txs = make([]txState, len(txs))
	for i, tx := range txs {
		c.txs[i].start = c.total
		if i == 0 {
			continue
		}
		if len(c.prevouts[i]) != len(tx.TxIn) {
			return fmt.Errorf("%w: transaction %d has %d inputs and %d prevouts", ErrPrevouts, i, len(tx.TxIn), len(c.prevouts[i]))
		}
		for j, p := range c.prevouts[i] {
			if p == nil {
				return fmt.Errorf("%w: transaction %d input %d has no prevout", ErrPrevouts, i, j)
			}
		}
		c.total += len(tx.TxIn)
	}
	workers := c.v.workers
	c.chunk = min(maxChunk, max(1, (c.total+workers*chunksPerWorker-1)/(workers*chunksPerWorker)))
	c.chunks = (c.total + c.chunk - 1) / c.chunk
	c.firstFail.Store(int64(c.total))
	return nil
}

// run verifies chunk k on a worker.
func (c *Check) run(k int, f *prevoutFetcher) {
	lo, hi := k*c.chunk, min((k+1)*c.chunk, c.total)
	txs := c.block.Msg.Transactions
	// The transaction holding input lo: the last one starting at or
	// before it that has inputs.
	ti := sort.Search(len(c.txs), func(i int) bool { return c.txs[i].start > lo }) - 1
	j := lo - c.txs[ti].start
	n := 0
	for g := lo; g < hi; g++ {
		for ti == 0 || j >= len(txs[ti].TxIn) {
			ti, j = ti+1, 0
		}
		if c.canceled.Load() || int64(g) >= c.firstFail.Load() {
			break
		}
		if err := c.verify(ti, j, f); err != nil {
			c.fail(g, ti, j, err)
			break
		}
		n++
		j++
	}
	c.verified.Add(int64(n))
	c.v.fastVerified.Add(f.fast)
	f.fast = 0
	if f.curve != nil {
		c.v.signatureChecks.Add(f.curve.checks)
		f.curve.checks = 0
	}
	c.finish(1)
}

// verify runs the scripts of input j of transaction ti.
func (c *Check) verify(ti, j int, f *prevoutFetcher) error {
	tx := c.block.Msg.Transactions[ti]
	prevouts := c.prevouts[ti]
	st := &c.txs[ti]
	st.once.Do(func() {
		// Only BIP143 and BIP341 signatures use the midstate, and only an
		// input with a witness can make one (Core's
		// PrecomputedTransactionData::Init skips the rest likewise).
		if tx.HasWitness() {
			f.reset(tx, prevouts, 0)
			st.hashes = txscript.NewTxSigHashes(tx, f)
		}
	})
	var cv curve // nil, not a nil *countingCurve, without libsecp256k1
	if f.curve != nil {
		cv = f.curve
	}
	return verifyInput(cv, c.sigCache, tx, prevouts, j, c.flags, st.hashes, f)
}

// verifyInput runs the scripts of input j of tx on a worker. When cv
// (libsecp256k1) is there, verifyStandard settles the standard spends
// first; whatever it does not settle goes to txscript's engine, with
// sigCache.
func verifyInput(cv curve, sigCache *txscript.SigCache, tx *wire.MsgTx, prevouts []*wire.TxOut, j int,
	flags txscript.ScriptFlags, hashes *txscript.TxSigHashes, f *prevoutFetcher) error {
	prev := prevouts[j]
	// An ANYONECANPAY taproot signature asks for input j's own prevout.
	f.reset(tx, prevouts, j)
	if cv != nil {
		if n, ok := verifyStandard(cv, tx, j, prev, flags, hashes, f); ok {
			f.fast += int64(n)
			return nil
		}
		f.reset(tx, prevouts, j)
	}
	vm, err := txscript.NewEngine(prev.PkScript, tx, j, flags, sigCache, hashes, prev.Value, f)
	if err != nil {
		return err
	}
	return vm.Execute()
}

// fail records that input g (input j of transaction ti) failed with err,
// if no lower input has.
func (c *Check) fail(g, ti, j int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(g) >= c.firstFail.Load() {
		return
	}
	c.firstFail.Store(int64(g))
	c.failure = &InputError{
		TxIndex: ti,
		TxID:    c.block.TxIDs[ti],
		Input:   j,
		Prevout: c.block.Msg.Transactions[ti].TxIn[j].PreviousOutPoint,
		Err:     err,
	}
}

// finish marks n chunks finished and closes done after the last.
func (c *Check) finish(n int) {
	if c.pending.Add(-int64(n)) == 0 {
		close(c.done)
	}
}

// abandon ends the chunks no worker claimed with err. The caller holds
// c.v.mu, or c was never queued.
func (c *Check) abandon(err error) {
	unclaimed := c.chunks - c.claimed
	if unclaimed == 0 {
		return
	}
	c.claimed = c.chunks
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.finish(unclaimed)
}

// Wait blocks until the check is over and returns its outcome: nil when
// every input's scripts passed; otherwise an *InputError for the lowest
// failing input in block order (transaction, then input), whichever worker
// found it first, so the answer does not depend on scheduling; otherwise
// ErrPrevouts, ErrClosed, or ErrCanceled when Cancel stopped it early.
// Once Wait returns no worker reads the block or prevouts any more. It may
// be called any number of times, from any goroutine.
func (c *Check) Wait() error {
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.failure != nil:
		return c.failure
	case c.err != nil:
		return c.err
	case c.verified.Load() < int64(c.total):
		return ErrCanceled
	}
	return nil
}

// Cancel stops the check early, for a block that failed another rule:
// chunks not yet taken are dropped and workers stop at their next input,
// so Wait returns after at most one input's verification per worker. A
// failure found before Cancel is still reported; a check already over is
// unchanged.
func (c *Check) Cancel() {
	c.canceled.Store(true)
	v := c.v
	v.mu.Lock()
	defer v.mu.Unlock()
	if c.claimed == c.chunks {
		return
	}
	for i, q := range v.queue {
		if q == c {
			v.queue = append(v.queue[:i], v.queue[i+1:]...)
			break
		}
	}
	c.abandon(ErrCanceled)
}

// Verified returns how many inputs' scripts have passed so far; once Wait
// returns nil it is the number of inputs of the block's transactions
// other than the coinbase.
func (c *Check) Verified() int { return int(c.verified.Load()) }

// prevoutFetcher is txscript's view of one transaction's spent outputs,
// backed by the caller's slice rather than a map: txscript asks for them
// in input order (the midstate) or for the input being checked, so a
// cursor finds nearly every one at once.
type prevoutFetcher struct {
	tx       *wire.MsgTx
	prevouts []*wire.TxOut
	// next is the input most likely asked for next.
	next int

	// The rest is the worker's room for verifyStandard, made only when
	// the build links libsecp256k1: the script pushes, multisig keys and
	// signatures it reads and a P2WPKH script code.
	pushes     [][]byte
	keys       [][]byte
	sigs       [maxMultisigKeys][64]byte
	scriptCode [25]byte
	// curve is the Verifier's curve, counting this worker's checks.
	curve *countingCurve
	// fast counts the signatures libsecp256k1 verified in the current
	// chunk.
	fast int64
}

// newStandardFetcher makes a fetcher with verifyStandard's room, for a
// worker of a Verifier whose build links libsecp256k1.
func newStandardFetcher() *prevoutFetcher {
	return &prevoutFetcher{pushes: make([][]byte, 0, maxPushes), keys: make([][]byte, 0, maxMultisigKeys)}
}

// reset points f at tx's prevouts, expecting input next first.
func (f *prevoutFetcher) reset(tx *wire.MsgTx, prevouts []*wire.TxOut, next int) {
	f.tx, f.prevouts, f.next = tx, prevouts, next
}

// FetchPrevOutput returns the output op that input of tx spends, or nil if
// no input spends op.
func (f *prevoutFetcher) FetchPrevOutput(op wire.OutPoint) *wire.TxOut {
	ins := f.tx.TxIn
	if f.next < len(ins) && ins[f.next].PreviousOutPoint == op {
		f.next++
		return f.prevouts[f.next-1]
	}
	for i, in := range ins {
		if in.PreviousOutPoint == op {
			f.next = i + 1
			return f.prevouts[i]
		}
	}
	return nil
}
