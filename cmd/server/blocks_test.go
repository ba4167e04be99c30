package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watchnode/watchnode/internal/btcdtest"
	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/protocol"
)

// getRaw fetches path and returns its body, failing on a status other than
// 200.
func (n *nodeProc) getRaw(path string) []byte {
	n.t.Helper()
	resp, err := http.Get(n.url(path))
	if err != nil {
		n.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		n.t.Fatalf("GET %s: status %d, err %v: %s", path, resp.StatusCode, err, body)
	}
	return body
}

// TestBlocksFromAndToBtcd: the node downloads every block of btcd's regtest
// chain, byte for byte as btcd's getblock gives them, and a fresh btcd
// connected only to our node then syncs every block from us and reaches the
// same tip with its own full validation: the proof that we serve blocks
// correctly.
func TestBlocksFromAndToBtcd(t *testing.T) {
	src := btcdtest.Start(t, btcdtest.Options{})
	// More than 1,024: btcd asks for every block it lacks in one getdata,
	// and a serve queue shorter than that stalled it.
	const blocks = 1500
	src.Generate(t, blocks)
	want := src.RawBlocks(t)
	tip := src.BestBlockHash(t)

	n := startNode(t, "-connect="+src.P2PAddr())
	start := time.Now()
	var st engine.Status
	n.waitFor(90*time.Second, "the node to download btcd's blocks", func() bool {
		n.get("/api/status", &st)
		return st.Blocks == blocks
	})
	t.Logf("downloaded %d blocks from btcd in %s; %d bytes on disk", blocks, time.Since(start).Round(time.Millisecond), st.SizeOnDisk)
	if st.Headers != blocks || st.BestHash != tip || st.SizeOnDisk <= 0 {
		t.Fatalf("status after download: headers %d best %s size_on_disk %d; want %d %s", st.Headers, st.BestHash, st.SizeOnDisk, blocks, tip)
	}
	for h := 1; h <= blocks; h++ {
		raw := n.getRaw("/api/blocks/" + strconv.Itoa(h) + "/raw")
		if w, _ := hex.DecodeString(want[h-1]); !bytes.Equal(raw, w) {
			t.Fatalf("block %d: our bytes differ from btcd's getblock (%d vs %d bytes)", h, len(raw), len(w))
		}
	}
	var bv engine.BlockView
	n.get("/api/blocks/"+tip, &bv)
	if !bv.HaveData || !bv.Connected || bv.Height != blocks || bv.TxCount != 1 || len(bv.TxIDs) != 1 || bv.Size == 0 || bv.Weight == 0 {
		t.Errorf("block view of the tip: %+v", bv)
	}
	// btcd's coinbase: the subsidy (halved every 150 blocks on regtest)
	// claimed, no fees (from the undo data), and its flags "/P2SH/btcd/"
	// as the miner's text.
	if bv.Status != engine.BlockConnected || len(bv.Txs) != 1 || !bv.Txs[0].Coinbase || bv.Txs[0].TxID != bv.TxIDs[0] ||
		bv.Txs[0].Size == 0 || bv.Fees == nil || *bv.Fees != 0 || bv.Claimed != bv.Subsidy || bv.Subsidy != 50e8>>(blocks/150) ||
		!strings.Contains(bv.CoinbaseText, "/P2SH/btcd/") {
		t.Errorf("block view of the tip: status %q, txs %+v, fees %v, subsidy %d, claimed %d, coinbase text %q",
			bv.Status, bv.Txs, bv.Fees, bv.Subsidy, bv.Claimed, bv.CoinbaseText)
	}

	// Our block file is Core's format: the decoder lists every block in it.
	out, err := exec.Command(serverBin, "decode", filepath.Join(n.dataDir, "blocks", "blk00000.dat")).Output()
	if err != nil {
		t.Fatalf("decode of our block file: %v", err)
	}
	var dec struct {
		Format   string `json:"format"`
		Messages int    `json:"messages"`
		Errors   int    `json:"errors"`
	}
	if err := json.Unmarshal(out, &dec); err != nil || dec.Format != "blocks" || dec.Messages != blocks+1 || dec.Errors != 0 {
		t.Fatalf("decode of our blk00000.dat: %+v (%v), want %d blocks (genesis included) and no error", dec, err, blocks+1)
	}

	dst := btcdtest.Start(t, btcdtest.Options{Args: []string{"--connect=" + n.p2p}})
	start = time.Now()
	dst.WaitForBlockCount(t, blocks, 90*time.Second)
	t.Logf("a fresh btcd synced %d blocks from us in %s", blocks, time.Since(start).Round(time.Millisecond))
	if got := dst.BestBlockHash(t); got != tip {
		t.Fatalf("btcd synced from us to %s, want %s", got, tip)
	}
}

// TestMainnetBlocksServedNodeToNode: btcd's file of the first 14,132
// mainnet blocks is imported into node A (every header and block rule
// checked); node B, on mainnet magic and connected only to A over
// loopback, downloads every block; every block B stores is byte for byte
// the file's.
func TestMainnetBlocksServedNodeToNode(t *testing.T) {
	file := mainnetdata.BtcdPath(t, mainnetdata.BtcdBlockFileName)
	blocks := mainnetdata.BtcdBlocks(t)
	last := len(blocks) - 1
	rootA := t.TempDir()
	out, err := exec.Command(serverBin, "import-blocks", "-network=mainnet", "-datadir="+rootA, file).CombinedOutput()
	if err != nil {
		t.Fatalf("import-blocks: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	// Mainnet's minimum chain work is far above 14,132 blocks: both nodes
	// are told to take the short chain, as Core's -minimumchainwork.
	a := startNodeIn(t, rootA, "-network=mainnet", "-minimumchainwork=0")
	stA := a.waitValidated(60*time.Second, int32(last))
	if stA.Headers != int32(last) {
		t.Fatalf("A after import: headers %d, want %d", stA.Headers, last)
	}
	// A connected blocks it had only on disk: the read-ahead decoded them
	// on its own goroutine and handed most over (the connector reads a
	// block itself only when it gets there first).
	if v := stA.Validation; v == nil || v.BlocksHandedOver < uint64(last)/2 {
		t.Errorf("A connected its imported blocks with too few read ahead: %+v", v)
	} else {
		t.Logf("A: %d blocks read ahead, %d read by the connector", v.BlocksHandedOver, v.BlocksReadBack)
	}
	var st engine.Status
	b := startNode(t, "-network=mainnet", "-minimumchainwork=0", "-connect="+a.p2p)
	start := time.Now()
	b.waitFor(120*time.Second, "B to download the 14,132 blocks", func() bool {
		b.get("/api/status", &st)
		return st.Blocks == int32(last)
	})
	t.Logf("B downloaded %d mainnet blocks from A in %s (%d bytes on disk)", last, time.Since(start).Round(time.Millisecond), st.SizeOnDisk)
	// Both validated every block (every signature: the default assumed-
	// valid block is far above this chain) to the same UTXO set.
	stB := b.waitValidated(60*time.Second, int32(last))
	if stA.UTXO.MuHash != stB.UTXO.MuHash || stA.UTXO.Coins != stB.UTXO.Coins || stA.UTXO.Coins == 0 {
		t.Errorf("UTXO sets differ: A %d coins, MuHash %s; B %d, %s", stA.UTXO.Coins, stA.UTXO.MuHash, stB.UTXO.Coins, stB.UTXO.MuHash)
	}
	t.Logf("UTXO set at %d: %d coins, MuHash %s", last, stB.UTXO.Coins, stB.UTXO.MuHash)
	for h, want := range blocks {
		if got := b.getRaw("/api/blocks/" + strconv.Itoa(h) + "/raw"); !bytes.Equal(got, want) {
			t.Fatalf("block %d: B stored %d bytes that differ from the file's %d", h, len(got), len(want))
		}
	}
}

// TestImportBlocksRefusesBadBlocks: a block that breaks a rule stops the
// import naming the block, its place in the file and the rule; a file of
// another network is refused at its first record.
func TestImportBlocksRefusesBadBlocks(t *testing.T) {
	blocks := mainnetdata.BtcdBlocks(t)
	dir := t.TempDir()
	// Blocks 0..20, with block 10's coinbase changed: its merkle root no
	// longer matches.
	var file []byte
	magic := binary.LittleEndian.AppendUint32(nil, uint32(protocol.Mainnet.Magic()))
	for h, raw := range blocks[:21] {
		if h == 10 {
			raw = bytes.Clone(raw)
			raw[len(raw)-10] ^= 0xff // inside the coinbase's output script
		}
		file = append(file, magic...)
		file = binary.LittleEndian.AppendUint32(file, uint32(len(raw)))
		file = append(file, raw...)
	}
	path := filepath.Join(dir, "blk00000.dat")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	out, err := exec.Command(serverBin, "import-blocks", "-network=mainnet", "-datadir="+root, path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "merkle") || !strings.Contains(string(out), "offset") {
		t.Fatalf("import of a file with a broken block 10: err %v, output %s; want a failure naming the merkle rule and the offset", err, out)
	}
	t.Logf("refused: %s", strings.TrimSpace(string(out)))
	out, err = exec.Command(serverBin, "import-blocks", "-network=regtest", "-datadir="+root, path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "magic") {
		t.Fatalf("import of a mainnet file as regtest: err %v, output %s; want a failure naming the magic", err, out)
	}
}

// TestBlocksFromThreeSources: a node connected to btcd and to two of our
// nodes that hold btcd's chain spreads the download window over all three:
// each delivers blocks, and the node ends at btcd's tip.
func TestBlocksFromThreeSources(t *testing.T) {
	src := btcdtest.Start(t, btcdtest.Options{})
	const blocks = 2000
	src.Generate(t, blocks)
	tip := src.BestBlockHash(t)
	var st engine.Status
	var servers []*nodeProc
	for range 2 {
		n := startNode(t, "-connect="+src.P2PAddr())
		n.waitFor(90*time.Second, "a server to download btcd's blocks", func() bool {
			n.get("/api/status", &st)
			return st.Blocks == blocks
		})
		servers = append(servers, n)
	}
	c := startNode(t, "-connect="+src.P2PAddr(), "-connect="+servers[0].p2p, "-connect="+servers[1].p2p)
	c.waitFor(90*time.Second, "C to download from three sources", func() bool {
		c.get("/api/status", &st)
		return st.Blocks == blocks
	})
	if st.BestHash != tip {
		t.Fatalf("C's tip %s, btcd's %s", st.BestHash, tip)
	}
	total := uint64(0)
	for _, p := range c.peers() {
		t.Logf("peer %s (%s): %d blocks delivered", p.Addr, p.UserAgent, p.BlocksReceived)
		if p.BlocksReceived == 0 {
			t.Errorf("peer %s (%s) delivered no block: the window was not spread", p.Addr, p.UserAgent)
		}
		total += p.BlocksReceived
	}
	if total != blocks {
		t.Errorf("%d blocks delivered in all for %d blocks", total, blocks)
	}
}
