package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/protocol"
)

// blockChainFile writes a regtest chain of n blocks with txs signed spends
// per block (from coinbase maturity on) as a Core block file, with
// chaingen built without the race detector (signing under it is ten times
// slower), and returns the file and every block's bytes by height (raw[0]
// is unused: the genesis block is not in the file).
func blockChainFile(t *testing.T, n, txs int) (string, [][]byte) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "chaingen")
	if out, err := exec.Command("go", "build", "-o", bin, "../chaingen").CombinedOutput(); err != nil {
		t.Fatalf("building chaingen: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "blocks.dat")
	out, err := exec.Command(bin, "-format", "blocks", "-n", strconv.Itoa(n), "-txs", strconv.Itoa(txs), "-seed", "23", "-o", file).CombinedOutput()
	if err != nil {
		t.Fatalf("chaingen: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	raw := [][]byte{nil}
	magic := uint32(protocol.Regtest.Magic())
	for len(data) > 0 {
		if len(data) < 8 || binary.LittleEndian.Uint32(data) != magic {
			t.Fatalf("block file: record %d does not start with the regtest magic", len(raw))
		}
		size := int(binary.LittleEndian.Uint32(data[4:]))
		raw = append(raw, data[8:8+size])
		data = data[8+size:]
	}
	if len(raw) != n+1 {
		t.Fatalf("block file holds %d blocks, want %d", len(raw)-1, n)
	}
	return file, raw
}

// blockHash is the hash of a serialized block: its header's double SHA-256.
func blockHash(raw []byte) chainhash.Hash {
	first := sha256.Sum256(raw[:80])
	return chainhash.Hash(sha256.Sum256(first[:]))
}

// rawBlocks fetches /api/blocks/H/raw for heights from..to with a few
// requests in flight, and returns the bodies by height (from first).
func (n *nodeProc) rawBlocks(from, to int) ([][]byte, error) {
	if to < from {
		return nil, nil
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	out := make([][]byte, to-from+1)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for h := from + w; h <= to; h += 4 {
				resp, err := client.Get(n.url("/api/blocks/" + strconv.Itoa(h) + "/raw"))
				if err != nil {
					errs[w] = err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET block %d: %s: %s", h, resp.Status, body)
				}
				if err != nil {
					errs[w] = err
					return
				}
				out[h-from] = body
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sameBlocks fails unless node n serves blocks from..to exactly as want
// holds them.
func sameBlocks(t *testing.T, n *nodeProc, what string, want [][]byte, from, to int) {
	t.Helper()
	got, err := n.rawBlocks(from, to)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for i, b := range got {
		if h := from + i; !bytes.Equal(b, want[h]) {
			t.Fatalf("%s: block %d is %d bytes that differ from the chain's %d", what, h, len(b), len(want[h]))
		}
	}
}

// TestKill9DuringBlockDownload kills a node downloading and validating
// blocks 20 times at random moments. Every restart must find its stores
// consistent: the node starts, its header tip is on the real chain, it has
// no more blocks than headers, and every block up to its last connected one
// reads back byte for byte as the source has it (a crash may lose blocks
// not yet synced, never keep a torn or misplaced one). After the crashes
// the download completes, every block identical, and the UTXO set (every
// signature verified: regtest has no assumed-valid block) has the same
// MuHash as the source's, which validated the chain without a crash.
func TestKill9DuringBlockDownload(t *testing.T) {
	// Enough blocks and transactions that the download takes a few
	// seconds of the node's uptime: the first kills land in it, the later
	// ones on a node holding every block, which each restart must keep.
	// Few enough that reading every block back at each restart keeps the
	// test within a minute.
	const n = 800
	file, want := blockChainFile(t, n, 12)
	tip := blockHash(want[n]).String()
	rootA := t.TempDir()
	out, err := exec.Command(serverBin, "import-blocks", "-network=regtest", "-datadir="+rootA, file).CombinedOutput()
	if err != nil {
		t.Fatalf("import-blocks: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	// Both nodes verify every signature of the chain: they run without
	// the race detector (see fastServerBin).
	a := startNodeBin(t, fastServerBin, rootA)
	stA := a.waitValidated(60*time.Second, n)
	if stA.Headers != n || stA.BestHash != tip {
		t.Fatalf("A after the import: headers %d best %s; want %d %s", stA.Headers, stA.BestHash, n, tip)
	}
	var st engine.Status
	// A serves the generated bytes: what B is compared with.
	sameBlocks(t, a, "A", want, 1, n)

	rootB := t.TempDir()
	began := time.Now()
	rng := rand.New(rand.NewPCG(7, 8))
	var progress []string
	for i := range 20 {
		b := startNodeBin(t, fastServerBin, rootB, "-connect="+a.p2p)
		b.get("/api/status", &st)
		if st.Blocks < 0 || st.Blocks > st.Headers || st.Headers > n {
			t.Fatalf("restart %d: blocks %d, headers %d (A has %d)", i, st.Blocks, st.Headers, n)
		}
		if chainHash := blockHash(want[max(st.Headers, 1)]).String(); st.Headers > 0 && st.BestHash != chainHash {
			t.Fatalf("restart %d: header tip %d %s is not the chain's %s", i, st.Headers, st.BestHash, chainHash)
		}
		sameBlocks(t, b, fmt.Sprintf("restart %d", i), want, 1, int(st.Blocks))
		progress = append(progress, fmt.Sprintf("%d/%d at %s", st.Blocks, st.Headers, time.Since(began).Round(10*time.Millisecond)))
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		b.kill()
	}
	t.Logf("blocks/headers at the 20 restarts (and when): %v", progress)
	b := startNodeBin(t, fastServerBin, rootB, "-connect="+a.p2p)
	b.waitFor(30*time.Second, "the download to complete after the crashes", func() bool {
		b.get("/api/status", &st)
		return st.Blocks == n
	})
	if st.Headers != n || st.BestHash != tip {
		t.Fatalf("B after the download: headers %d best %s, want %d %s", st.Headers, st.BestHash, n, tip)
	}
	sameBlocks(t, b, "B after the download", want, 1, n)
	// The UTXO set too: after 20 crashes, the same set as A's, which
	// validated the chain in one run.
	stB := b.waitValidated(30*time.Second, n)
	if stB.UTXO.MuHash != stA.UTXO.MuHash || stB.UTXO.Coins != stA.UTXO.Coins {
		t.Errorf("B's UTXO set after the crashes: %d coins, MuHash %s; A's: %d, %s", stB.UTXO.Coins, stB.UTXO.MuHash, stA.UTXO.Coins, stA.UTXO.MuHash)
	}
}

// waitValidated waits until the node has validated the chain up to height
// and flushed its UTXO set there (the MuHash then reflects that block), and
// returns its status.
func (n *nodeProc) waitValidated(within time.Duration, height int32) engine.Status {
	n.t.Helper()
	var st engine.Status
	n.waitFor(within, fmt.Sprintf("the UTXO set to reflect block %d", height), func() bool {
		n.get("/api/status", &st)
		return st.Blocks == height && st.UTXO != nil && st.UTXO.MuHashHeight == height
	})
	return st
}
