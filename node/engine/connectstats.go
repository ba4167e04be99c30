package engine

import (
	"sync"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/watchnode/watchnode/node/consensus"
	"github.com/watchnode/watchnode/node/netsync"
)

// What the block connector measures, for the sync page, the block pages'
// timelines and /metrics. The connector goroutine writes it; snapshots and
// the web layer read it, so it has its own lock, held only to copy.

// stageBuckets are the upper bounds, in seconds, of the stage time
// histograms: from a small regtest block's half a millisecond to a large
// mainnet block's seconds of scripts.
var stageBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// stageCount is how many stages ConnectStages times.
const stageCount = 4

// StageNames names ConnectStages' stages, in order.
func StageNames() [stageCount]string { return [...]string{"read", "inputs", "scripts", "write"} }

// maxRecentConnects is how many of the last blocks' stages the sync page's
// chart gets.
const maxRecentConnects = 120

// StageHistogram counts one stage's times: Counts[i] blocks took at most
// Bounds[i] seconds (cumulative, as Prometheus's), Count all of them and
// Sum their total in seconds.
type StageHistogram struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"`
	Count  uint64    `json:"count"`
	Sum    float64   `json:"sum"`
}

// ValidationStatus is what the block connector did since start: blocks,
// transactions and inputs connected, scripts verified, flushes of the
// UTXO set, and the time each stage took. ChainTx is the number of
// transactions in the chain up to the block the set reflects (Core's
// nChainTx; 0 when unknown) and VerificationProgress Core's estimate of
// how far that is (GuessVerificationProgress), 0..1.
type ValidationStatus struct {
	Blocks               uint64  `json:"blocks"`
	Txs                  uint64  `json:"txs"`
	Inputs               uint64  `json:"inputs"`
	ScriptsChecked       uint64  `json:"scripts_checked"`
	BlockBytes           uint64  `json:"block_bytes"`
	Flushes              uint64  `json:"flushes"`
	Disconnected         uint64  `json:"disconnected"`
	ChainTx              uint64  `json:"chain_tx"`
	VerificationProgress float64 `json:"verification_progress"`
	// HasTxData: the network has transaction statistics (regtest has
	// none, and Core's estimate is then 1 at any height: observers
	// should show it as unknown).
	HasTxData bool `json:"has_tx_data"`
	// SignatureLibrary names what verifies signatures ("libsecp256k1"
	// when the build links it, else "btcec"); FastSignatures counts the
	// signatures libsecp256k1 verified (script.Verifier.FastVerified),
	// SignatureChecks every verification it made, valid or not, a
	// multisig's tries against keys it does not match included
	// (script.Verifier.SignatureChecks).
	SignatureLibrary string `json:"signature_library"`
	// BlocksHandedOver counts the blocks the connector got decoded from
	// the download, BlocksReadBack those it read back from the store and
	// decoded again (the handoff did not hold them: a restart, or a
	// download running further ahead than the handoff's bound).
	BlocksHandedOver uint64                    `json:"blocks_handed_over"`
	BlocksReadBack   uint64                    `json:"blocks_read_back"`
	FastSignatures   int64                     `json:"fast_signatures"`
	SignatureChecks  int64                     `json:"signature_checks"`
	Stages           map[string]StageHistogram `json:"stages"`
}

// RecentConnect is one recently connected block's stages.
type RecentConnect struct {
	Height int32 `json:"height"`
	ConnectStages
}

// connectRecorder keeps the connector's measurements: every block's stages
// for the last netsync.MaxTimelines blocks (a ring), the last
// maxRecentConnects in order, and totals.
type connectRecorder struct {
	mu      sync.Mutex
	byHash  map[chainhash.Hash]ConnectStages
	order   []chainhash.Hash
	next    int
	recent  []RecentConnect // ring of maxRecentConnects, oldest at recentAt
	at      int
	totals  ValidationStatus
	buckets [stageCount][len(stageBuckets)]uint64
	counts  [stageCount]uint64
	sums    [stageCount]float64
}

func newConnectRecorder() *connectRecorder {
	return &connectRecorder{byHash: make(map[chainhash.Hash]ConnectStages)}
}

// connected records block hash at height, of size bytes, connected in s.
func (r *connectRecorder) connected(hash chainhash.Hash, height int32, size int, s ConnectStages) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byHash[hash]; !ok {
		if len(r.order) < netsync.MaxTimelines {
			r.order = append(r.order, hash)
		} else {
			delete(r.byHash, r.order[r.next])
			r.order[r.next] = hash
			r.next = (r.next + 1) % netsync.MaxTimelines
		}
	}
	r.byHash[hash] = s
	rc := RecentConnect{Height: height, ConnectStages: s}
	if len(r.recent) < maxRecentConnects {
		r.recent = append(r.recent, rc)
	} else {
		r.recent[r.at] = rc
		r.at = (r.at + 1) % maxRecentConnects
	}
	t := &r.totals
	t.Blocks++
	t.Txs += uint64(s.Txs)
	t.Inputs += uint64(s.InputCount)
	t.ScriptsChecked += uint64(s.ScriptsChecked)
	t.BlockBytes += uint64(size)
	for i, d := range [...]time.Duration{s.Read, s.Inputs, s.Scripts, s.Write} {
		secs := d.Seconds()
		r.counts[i]++
		r.sums[i] += secs
		for j, bound := range stageBuckets {
			if secs <= bound {
				r.buckets[i][j]++
			}
		}
	}
}

func (r *connectRecorder) flushed() {
	r.mu.Lock()
	r.totals.Flushes++
	r.mu.Unlock()
}

func (r *connectRecorder) disconnected() {
	r.mu.Lock()
	r.totals.Disconnected++
	r.mu.Unlock()
}

// stages returns block hash's stages, if it was connected recently.
func (r *connectRecorder) stages(hash chainhash.Hash) (ConnectStages, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byHash[hash]
	return s, ok
}

// status copies the totals and histograms.
func (r *connectRecorder) status() ValidationStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.totals
	st.Stages = make(map[string]StageHistogram, stageCount)
	for i, name := range StageNames() {
		st.Stages[name] = StageHistogram{Bounds: append([]float64(nil), stageBuckets[:]...), Counts: append([]uint64(nil), r.buckets[i][:]...), Count: r.counts[i], Sum: r.sums[i]}
	}
	return st
}

// recentConnects copies the last blocks' stages, oldest first.
func (r *connectRecorder) recentConnects() []RecentConnect {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RecentConnect, 0, len(r.recent))
	out = append(out, r.recent[r.at:]...)
	return append(out, r.recent[:r.at]...)
}

// verificationProgress is Core's GuessVerificationProgress: the chain's
// transactions up to the tip over the transactions expected by now, from
// the network's transaction statistics at release (consensus.Params'
// TxData) extrapolated at their rate, or from the tip's own when it is
// past them. chainTx 0 (unknown) gives 0.
func verificationProgress(data txData, chainTx uint64, tipTime, now time.Time) float64 {
	if chainTx == 0 {
		return 0
	}
	var total float64
	if chainTx <= data.count {
		total = float64(data.count) + now.Sub(data.time).Seconds()*data.rate
	} else {
		total = float64(chainTx) + now.Sub(tipTime).Seconds()*data.rate
	}
	if total <= 0 {
		return 1
	}
	return min(1, float64(chainTx)/total)
}

// txData is a network's transaction statistics at release.
type txData struct {
	time  time.Time
	count uint64
	rate  float64 // transactions per second
}

func txDataOf(d consensus.ChainTxData) txData {
	return txData{time: time.Unix(d.Time, 0), count: d.TxCount, rate: d.TxRate}
}
