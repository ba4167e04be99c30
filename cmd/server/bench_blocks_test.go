package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/protocol"
)

// chainMBEnv sets the size of BenchmarkBlockDownloadThreeServers' chain in
// MB (1e6 bytes). Generating the default 200 MB of signed transactions
// takes about a minute on two cores, so a quick look can ask for less.
const chainMBEnv = "WATCHNODE_BENCH_CHAIN_MB"

const defaultChainMB = 200

// benchChainTxs is chaingen's -txs: more spends than fit, so that every
// block from coinbase maturity on is full (about 1 MB of mixed signed
// spends, 4 M weight), like mainnet's recent blocks.
const benchChainTxs = 4000

// benchChainTail is chaingen's -tail: two weeks of coinbase-only regtest
// blocks after the full ones. Every node of the download benchmark runs
// with -assumevalid set to the tip, and Core (and so this node) skips the
// scripts of an assumed-valid block's ancestors only two weeks below the
// best header; the tail puts every full block that deep. The download is
// then measured as a node with Core's default -assumevalid downloads the
// old part of mainnet: every rule checked, the UTXO set kept, the
// signatures not verified (BenchmarkValidatedIBD measures those).
const benchChainTail = 2016

// bareInFlight is how many blocks the bare client keeps asked for, and
// bareBatch how many it asks for in one getdata when that many have come:
// more than our node's 16 per peer, so the client, not its window, is
// what the server's speed is measured against.
const (
	bareInFlight = 64
	bareBatch    = 16
)

// blockChain is a generated block file and what the benchmarks need of
// it: the hashes in height order (genesis excluded), to ask for, and the
// bytes they add up to.
type blockChain struct {
	path   string
	hashes []chainhash.Hash
	bytes  int64
}

// height is the tip's height.
func (c *blockChain) height() int32 { return int32(len(c.hashes)) }

// assumeValidTip is the -assumevalid flag naming the chain's tip.
func (c *blockChain) assumeValidTip() string {
	return "-assumevalid=" + c.hashes[len(c.hashes)-1].String()
}

// regtestChain generates the chain once per benchmark process: later
// benchmarks (and -count) reuse it. It lives in benchBinary's folder,
// which TestMain removes at the end, so no 200 MB file outlives the run.
var regtestChain struct {
	once  sync.Once
	chain *blockChain
	err   error
}

func benchRegtestChain(b *testing.B) *blockChain {
	b.Helper()
	regtestChain.once.Do(func() {
		regtestChain.chain, regtestChain.err = generateChain(b)
	})
	if regtestChain.err != nil {
		b.Fatal(regtestChain.err)
	}
	return regtestChain.chain
}

func generateChain(b *testing.B) (*blockChain, error) {
	mb := defaultChainMB
	if v := os.Getenv(chainMBEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s=%q: want a positive number of MB", chainMBEnv, v)
		}
		mb = n
	}
	bin, err := benchBinary.get()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(bin)
	chaingen := filepath.Join(dir, "chaingen")
	// cmd/server may not import internal/blockgen (the layering test), so
	// the chain comes from the chaingen command.
	if out, err := exec.Command("go", "build", "-o", chaingen, "../chaingen").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building chaingen: %w\n%s", err, out)
	}
	path := filepath.Join(dir, fmt.Sprintf("chain-%dmb.dat", mb))
	start := time.Now()
	out, err := exec.Command(chaingen, "-format", "blocks", "-txs", strconv.Itoa(benchChainTxs),
		"-size", strconv.FormatInt(int64(mb)*1_000_000, 10), "-tail", strconv.Itoa(benchChainTail), "-seed", "11", "-o", path).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("chaingen: %w\n%s", err, out)
	}
	b.Logf("generated in %s: %s", time.Since(start).Round(time.Second), strings.TrimSpace(string(out)))
	return readChain(path, protocol.Regtest)
}

// readChain scans a Core-format block file (magic, size, block; zero
// padding at the end) of net and returns its blocks' hashes and total
// size, leaving out the genesis block (btcd's mainnet file holds it,
// chaingen's files start after it): every node has it already.
func readChain(path string, net protocol.Network) (*blockChain, error) {
	magic, genesis := net.Magic(), *net.Params().GenesisHash
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	c := &blockChain{path: path}
	var head [8]byte
	var block []byte
	for i := 0; ; i++ {
		if _, err := io.ReadFull(r, head[:]); errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		if wire.BitcoinNet(binary.LittleEndian.Uint32(head[:4])) != magic {
			break // the padding after the last record
		}
		size := binary.LittleEndian.Uint32(head[4:])
		block = append(block[:0], make([]byte, size)...)
		if _, err := io.ReadFull(r, block); err != nil {
			return nil, fmt.Errorf("reading block %d of %s: %w", i, path, err)
		}
		hash := chainhash.DoubleHashH(block[:80])
		if hash == genesis {
			continue
		}
		c.hashes = append(c.hashes, hash)
		c.bytes += int64(size)
	}
	if len(c.hashes) == 0 {
		return nil, fmt.Errorf("%s holds no blocks after genesis", path)
	}
	return c, nil
}

// importBlockFile runs import-blocks into root, failing b on error.
func importBlockFile(b *testing.B, root string, args ...string) {
	b.Helper()
	out, err := runImportBlocks(root, args...)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s", out)
}

// runImportBlocks is importBlockFile for other goroutines than the
// benchmark's, which may not call b.Fatal.
func runImportBlocks(root string, args ...string) (string, error) {
	out, err := exec.Command(serverBin, append([]string{"import-blocks", "-datadir=" + root}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("import-blocks: %w\n%s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// blocksDownload is what downloadBlocks saw: the time from the node's
// start until it had connected the target height, and its peak resident
// memory meanwhile.
type blocksDownload struct {
	elapsed time.Duration
	peakRSS int64
	// cpu is the CPU time (user and system) the node used until then.
	cpu    time.Duration
	status engine.Status
	// seen holds each connected height the polls saw and when (from the
	// start), in order, for timeTo.
	seen []heightAt
}

type heightAt struct {
	height int32
	at     time.Duration
}

// timeTo is when the node was first seen at or above height.
func (d *blocksDownload) timeTo(height int32) time.Duration {
	for _, s := range d.seen {
		if s.height >= height {
			return s.at
		}
	}
	return d.elapsed
}

// downloadBlocks starts a fresh node with args and waits until it has
// connected height, sampling its resident memory all along. Polling is
// finer than waitFor's: a few seconds' download must not be rounded to
// 50 ms.
func downloadBlocks(b *testing.B, height int32, timeout time.Duration, args ...string) (*nodeProc, blocksDownload) {
	b.Helper()
	return downloadBlocksWith(b, height, timeout, nil, args...)
}

// downloadBlocksWith is downloadBlocks calling started (when not nil) as
// soon as the node serves its API, before the download gets far.
func downloadBlocksWith(b *testing.B, height int32, timeout time.Duration, started func(*nodeProc), args ...string) (*nodeProc, blocksDownload) {
	b.Helper()
	n := startNode(b, args...)
	if started != nil {
		started(n)
	}
	var d blocksDownload
	pid := n.cmd.Process.Pid
	deadline := n.started.Add(timeout)
	for {
		if rss, err := rssBytes(pid); err == nil && rss > d.peakRSS {
			d.peakRSS = rss
		}
		if err := n.tryGet("/api/status", &d.status); err != nil {
			b.Fatalf("status of the downloading node: %v", err)
		}
		now := time.Since(n.started)
		if len(d.seen) == 0 || d.seen[len(d.seen)-1].height != d.status.Blocks {
			d.seen = append(d.seen, heightAt{d.status.Blocks, now})
		}
		if d.status.Blocks >= height {
			d.elapsed = now
			if cpu, err := cpuTime(pid); err == nil {
				d.cpu = cpu
			}
			return n, d
		}
		if time.Now().After(deadline) {
			b.Fatalf("the node connected %d of %d blocks in %s; sync status %s", d.status.Blocks, height, timeout, statusJSON(d.status.Sync))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpuTime reads a process's user and system CPU time from /proc, in
// the clock ticks of USER_HZ, which Linux fixes at 100 for /proc.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis, from the state (field 3).
	i := strings.LastIndexByte(string(data), ')')
	fields := strings.Fields(string(data[i+1:]))
	if i < 0 || len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * (time.Second / 100), nil
}

// serversCPU is the CPU time the servers have used so far.
func serversCPU(servers []*nodeProc) time.Duration {
	var total time.Duration
	for _, s := range servers {
		cpu, _ := cpuTime(s.cmd.Process.Pid)
		total += cpu
	}
	return total
}

func statusJSON(v any) string {
	j, _ := json.Marshal(v)
	return string(j)
}

// BenchmarkBlockDownloadThreeServers: a fresh node downloads a ~200 MB
// regtest chain of full blocks (and the two-week tail of benchChainTail)
// from three nodes that imported it, from its start to the last block
// connected, with -assumevalid at the tip: every rule but the signatures.
// Against it, in the same run, a bare client (bareBlockDownload) fetches
// the same blocks from one of the servers without checking or storing
// anything: the speed the servers and loopback allow. ratio is our node's MB/s over the bare client's. Also
// in the run: one import-blocks of the same file (checking and storing
// without the network: import-MB/s), and the CPU time our node and the
// servers used during the download, which tell where the time goes.
func BenchmarkBlockDownloadThreeServers(b *testing.B) {
	useBenchBinary(b)
	chain := benchRegtestChain(b)
	b.Logf("chain: %d blocks, %.1f MB after genesis", len(chain.hashes), float64(chain.bytes)/1e6)
	var servers [3]*nodeProc
	var wg sync.WaitGroup
	roots := make([]string, len(servers))
	for i := range servers {
		roots[i] = b.TempDir()
	}
	start := time.Now()
	errs := make([]error, len(roots))
	for i, root := range roots {
		wg.Go(func() { _, errs[i] = runImportBlocks(root, "-network=regtest", chain.path) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	b.Logf("three imports in parallel: %s", time.Since(start).Round(time.Millisecond))
	args := []string{chain.assumeValidTip()}
	for i, root := range roots {
		servers[i] = startNodeIn(b, root, chain.assumeValidTip())
		servers[i].waitFor(2*time.Minute, "a server to connect its imported blocks", func() bool {
			var st engine.Status
			servers[i].get("/api/status", &st)
			return st.Blocks == chain.height()
		})
		args = append(args, "-connect="+servers[i].p2p)
	}

	b.ResetTimer()
	var ours, bare, imports, nodeCPU, serverCPU time.Duration
	var peakRSS int64
	for b.Loop() {
		// What checking and storing the blocks costs without the
		// network: one import-blocks of the file on an idle machine, the
		// ceiling of our node's download on the same CPU.
		t0 := time.Now()
		if _, err := runImportBlocks(b.TempDir(), "-network=regtest", chain.path); err != nil {
			b.Fatal(err)
		}
		imported := time.Since(t0)
		imports += imported

		// The bare client first, then our node, never both at once: on two
		// cores they would slow each other down.
		t0 = time.Now()
		got, err := bareBlockDownload(servers[0].p2p, protocol.Regtest.Magic(), chain.hashes, bareInFlight, bareBatch)
		if err != nil {
			b.Fatalf("bare download: %v", err)
		}
		bareElapsed := time.Since(t0)
		bare += bareElapsed
		if got != chain.bytes {
			b.Fatalf("bare download got %d bytes, want %d", got, chain.bytes)
		}
		cpu0 := serversCPU(servers[:])
		node, d := downloadBlocks(b, chain.height(), 10*time.Minute, args...)
		serversUsed := serversCPU(servers[:]) - cpu0
		ours += d.elapsed
		nodeCPU += d.cpu
		serverCPU += serversUsed
		peakRSS = max(peakRSS, d.peakRSS)
		if d.status.BestHash != chain.hashes[len(chain.hashes)-1].String() {
			b.Fatalf("the node ended at %s, want %s", d.status.BestHash, chain.hashes[len(chain.hashes)-1])
		}
		b.Logf("ours %s (%.1f MB/s, peak RSS %.0f MB, CPU %s, the servers' CPU %s), bare %s, import-blocks %s; sync.blocks %s",
			d.elapsed.Round(time.Millisecond), float64(chain.bytes)/1e6/d.elapsed.Seconds(), float64(d.peakRSS)/1e6,
			d.cpu, serversUsed, bareElapsed.Round(time.Millisecond), imported.Round(time.Millisecond), statusJSON(d.status.Sync.Blocks))
		node.stop()
	}
	mb := float64(chain.bytes) / 1e6 * float64(b.N)
	b.ReportMetric(ours.Seconds()/float64(b.N), "s/download")
	b.ReportMetric(mb/ours.Seconds(), "MB/s")
	b.ReportMetric(bare.Seconds()/float64(b.N), "s/bare-download")
	b.ReportMetric(mb/bare.Seconds(), "bare-MB/s")
	b.ReportMetric(bare.Seconds()/ours.Seconds(), "ratio")
	b.ReportMetric(float64(peakRSS)/1e6, "peak-rss-MB")
	b.ReportMetric(mb/imports.Seconds(), "import-MB/s")
	b.ReportMetric(nodeCPU.Seconds()/float64(b.N), "cpu-s/download")
	b.ReportMetric(serverCPU.Seconds()/float64(b.N), "servers-cpu-s/download")
}

// bareBlockDownload is the bare client: a version/verack handshake with
// addr, then getdata for hashes in order (witness blocks, as our node
// asks), keeping inFlight asked for and topping up batch at a time; block
// messages are read and thrown away without decoding, hashing or even
// their checksum. It returns the block bytes received.
func bareBlockDownload(addr string, magic wire.BitcoinNet, hashes []chainhash.Hash, inFlight, batch int) (int64, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("dialing %s: %w", addr, err)
	}
	defer conn.Close()
	w := bufio.NewWriter(conn)
	r := bufio.NewReaderSize(conn, 1<<20)
	pver := protocol.ProtocolVersion
	send := func(m wire.Message) error {
		if err := wire.WriteMessage(w, m, pver, magic); err != nil {
			return fmt.Errorf("sending %s: %w", m.Command(), err)
		}
		return w.Flush()
	}
	ver := versionMsg("/bare-blocks/", 8)
	ver.Services = wire.SFNodeWitness
	if err := send(ver); err != nil {
		return 0, err
	}
	next := 0 // index of the next hash to ask for
	ask := func(n int) error {
		gd := wire.NewMsgGetData()
		for ; n > 0 && next < len(hashes); n-- {
			gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &hashes[next]))
			next++
		}
		if len(gd.InvList) == 0 {
			return nil
		}
		return send(gd)
	}
	var head [24]byte
	var payload []byte
	var got int64
	received := 0
	conn.SetReadDeadline(time.Now().Add(10 * time.Minute))
	for received < len(hashes) {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return got, fmt.Errorf("after %d blocks: %w", received, err)
		}
		if wire.BitcoinNet(binary.LittleEndian.Uint32(head[:4])) != magic {
			return got, fmt.Errorf("a message with the wrong magic %x", head[:4])
		}
		command := strings.TrimRight(string(head[4:16]), "\x00")
		size := int64(binary.LittleEndian.Uint32(head[16:20]))
		switch command {
		case wire.CmdBlock:
			if _, err := io.CopyN(io.Discard, r, size); err != nil {
				return got, fmt.Errorf("reading block %d: %w", received, err)
			}
			got += size
			received++
			if asked := next - received; asked <= inFlight-batch {
				if err := ask(batch); err != nil {
					return got, err
				}
			}
			continue
		case wire.CmdVersion, wire.CmdPing, wire.CmdNotFound:
			// Small messages that need an answer or end the download.
			payload = append(payload[:0], make([]byte, size)...)
			if _, err := io.ReadFull(r, payload); err != nil {
				return got, fmt.Errorf("reading %s: %w", command, err)
			}
		default:
			if _, err := io.CopyN(io.Discard, r, size); err != nil {
				return got, fmt.Errorf("reading %s: %w", command, err)
			}
		}
		switch command {
		case wire.CmdVersion:
			if err := send(wire.NewMsgVerAck()); err != nil {
				return got, err
			}
		case wire.CmdVerAck:
			if err := ask(inFlight); err != nil {
				return got, err
			}
		case wire.CmdPing:
			if len(payload) >= 8 {
				if err := send(wire.NewMsgPong(binary.LittleEndian.Uint64(payload))); err != nil {
					return got, err
				}
			}
		case wire.CmdNotFound:
			return got, fmt.Errorf("the server answered notfound after %d blocks", received)
		}
	}
	return got, nil
}

// startMainnetSource starts node A holding btcd's file of the first 14,132
// mainnet blocks, imported and connected, and returns the chain and A.
func startMainnetSource(b *testing.B) (*blockChain, *nodeProc) {
	b.Helper()
	file := mainnetdata.BtcdPath(b, mainnetdata.BtcdBlockFileName)
	chain, err := readChain(file, protocol.Mainnet)
	if err != nil {
		b.Fatal(err)
	}
	rootA := b.TempDir()
	importBlockFile(b, rootA, "-network=mainnet", file)
	// -maxoutbound=0: A serves its downloaders only and reaches for no
	// real mainnet peer, which would change what it does during the run.
	a := startNodeIn(b, rootA, "-network=mainnet", "-maxoutbound=0")
	a.waitFor(time.Minute, "A to connect its imported blocks", func() bool {
		var st engine.Status
		a.get("/api/status", &st)
		return st.Blocks == chain.height()
	})
	return chain, a
}

// BenchmarkMainnetIBDFromOurNode: node A imports btcd's file of the first
// 14,132 mainnet blocks; a fresh node B (-minimumchainwork=0, as the chain
// is far below mainnet's minimum work) downloads them from A, and then, in
// the same run, a fresh btcd on mainnet syncs from A alone. Both times run
// from the process's start to the tip connected.
//
// btcd v0.26.2 asks for every missing block in one getdata (up to
// 50,000), and our node serves at most maxServeQueue (1,024) of a peer's
// waiting items and ignores the rest, so btcd stops at height 1,024 and
// waits for blocks that never come (see BENCHMARKS.md). The benchmark
// then reports the height btcd reached and the ratio over the blocks both
// got, instead of failing: the figure for the part that works.
func BenchmarkMainnetIBDFromOurNode(b *testing.B) {
	useBenchBinary(b)
	chain, a := startMainnetSource(b)

	b.ResetTimer()
	var ours, oursPrefix, theirs, theirsPrefix time.Duration
	btcdHeight := chain.height()
	for b.Loop() {
		// First B, then btcd, on an otherwise idle machine each.
		node, d := downloadBlocks(b, chain.height(), 5*time.Minute, "-network=mainnet", "-minimumchainwork=0", "-connect="+a.p2p)
		ours += d.elapsed
		node.stop()
		bt := startBtcdMainnet(b, a.p2p)
		reached, elapsed, full := bt.waitForHeight(b, chain.height(), 20*time.Second, 5*time.Minute)
		b.Logf("ours: %s for %d blocks (%s to %d); btcd: height %d after %s (full: %v)",
			d.elapsed.Round(time.Millisecond), chain.height(), d.timeTo(reached).Round(time.Millisecond),
			reached, reached, elapsed.Round(time.Millisecond), full)
		bt.stop(b)
		btcdHeight = min(btcdHeight, reached)
		theirs += elapsed
		// Over the prefix btcd got (all of it once btcd completes):
		// our node's time to the same height.
		oursPrefix += d.timeTo(reached)
		theirsPrefix += elapsed
	}
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "s/ibd")
	b.ReportMetric(float64(btcdHeight), "btcd-height")
	if btcdHeight == chain.height() {
		b.ReportMetric(theirs.Seconds()/n, "s/btcd-ibd")
	} else {
		b.ReportMetric(oursPrefix.Seconds()/n, "s/ibd-to-btcd-height")
		b.ReportMetric(theirsPrefix.Seconds()/n, "s/btcd-to-btcd-height")
	}
	// ours/btcd over the blocks both downloaded: below 1 we are faster.
	b.ReportMetric(oursPrefix.Seconds()/theirsPrefix.Seconds(), "ratio")
}
