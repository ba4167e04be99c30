package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/p2p"
)

// fakeEngine records the operator calls the API makes.
type fakeEngine struct {
	mu     sync.Mutex
	snap   engine.Snapshot
	calls  []string
	msgs   *engine.Ring[engine.MessageRecord]
	events *engine.Ring[engine.Event]
	links  *engine.Ring[engine.RequestLink] // made on first use (sequence_test.go)
	// frames are logged messages' bytes; captureDir and capturing the
	// capture switch.
	frames     map[uint64][]byte
	captureDir string
	capturing  bool
	// invalidated are the blocks InvalidateBlock was called with.
	invalidated []string
}

func (f *fakeEngine) MessageFrame(seq uint64) ([]byte, bool) {
	b, ok := f.frames[seq]
	return b, ok
}

func (f *fakeEngine) CaptureDir() string { return f.captureDir }

func (f *fakeEngine) Capturing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.capturing
}

func (f *fakeEngine) SetCapture(_ context.Context, on bool) error {
	if f.captureDir == "" {
		return engine.ErrNoCaptureDir
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("capture %v", on))
	f.capturing = on
	return nil
}

func (f *fakeEngine) Messages() *engine.Ring[engine.MessageRecord] { return f.msgs }

func (f *fakeEngine) Events() *engine.Ring[engine.Event] { return f.events }

// setSnapshot replaces the published snapshot, as the engine does.
func (f *fakeEngine) setSnapshot(s engine.Snapshot) {
	f.mu.Lock()
	f.snap = s
	f.mu.Unlock()
}

func (f *fakeEngine) Snapshot() *engine.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	return &s
}

func (f *fakeEngine) Connect(_ context.Context, addr string) error {
	f.calls = append(f.calls, "connect "+addr)
	return nil
}

func (f *fakeEngine) RemoveAddedNode(_ context.Context, addr string) error {
	f.calls = append(f.calls, "remove-added "+addr)
	if addr != "127.0.0.1:19999" {
		return fmt.Errorf("%w: %s", engine.ErrNoSuchAddedNode, addr)
	}
	return nil
}

func (f *fakeEngine) Disconnect(_ context.Context, id engine.PeerID) error {
	f.calls = append(f.calls, fmt.Sprintf("disconnect %d", id))
	if id != 7 {
		return fmt.Errorf("%w: %d", engine.ErrNoSuchPeer, id)
	}
	return nil
}

func (f *fakeEngine) Ban(_ context.Context, addr, reason string, d time.Duration) (engine.Ban, error) {
	f.calls = append(f.calls, fmt.Sprintf("ban %s %q %s", addr, reason, d))
	ip, err := p2p.ParseBanAddr(addr)
	if err != nil {
		return engine.Ban{}, err
	}
	return engine.Ban{Addr: ip.String(), Reason: reason, Manual: true}, nil
}

func (f *fakeEngine) Unban(_ context.Context, addr string) (bool, error) {
	f.calls = append(f.calls, "unban "+addr)
	return addr == "10.0.0.1", nil
}

func (f *fakeEngine) Header(_ context.Context, key string) (engine.HeaderView, error) {
	if key == "0" {
		return engine.HeaderView{Height: 0, Hash: "genesis", MainChain: true}, nil
	}
	if key == "bad" {
		return engine.HeaderView{}, fmt.Errorf("%q is %w", key, engine.ErrBadKey)
	}
	return engine.HeaderView{}, fmt.Errorf("%w: %s", engine.ErrUnknownHeader, key)
}

func (f *fakeEngine) Block(_ context.Context, key string) (engine.BlockView, error) {
	h, err := f.Header(context.Background(), key)
	if err != nil {
		return engine.BlockView{}, err
	}
	fees := int64(0)
	return engine.BlockView{HeaderView: h, Status: engine.BlockConnected, HaveData: true, Connected: true, Size: 285, TxCount: 1, TxIDs: []string{"cb"},
		Txs:      []engine.BlockTxView{{TxID: "cb", Size: 204, VSize: 204, Weight: 816, Inputs: 1, Outputs: 1, OutputValue: 50e8, Coinbase: true}},
		HaveUndo: true, Fees: &fees, Subsidy: 50e8, Claimed: 50e8, CoinbaseText: "/btcd/"}, nil
}

func (f *fakeEngine) RawBlock(_ context.Context, key string) ([]byte, error) {
	if _, err := f.Header(context.Background(), key); err != nil {
		return nil, err
	}
	return []byte("raw block"), nil
}

func (f *fakeEngine) TxOut(_ context.Context, txid string, vout uint32) (engine.TxOutView, error) {
	if txid == strings.Repeat("ab", 32) && vout == 1 {
		return engine.TxOutView{Value: 5000, Height: 3, Confirmations: 5}, nil
	}
	return engine.TxOutView{}, fmt.Errorf("%w: %s:%d", engine.ErrNoCoin, txid, vout)
}

func (f *fakeEngine) Tx(_ context.Context, txid, block string) (engine.TxView, error) {
	if _, err := f.Header(context.Background(), block); err != nil {
		return engine.TxView{}, err
	}
	if txid != "cb" {
		return engine.TxView{}, fmt.Errorf("%w: %s", engine.ErrNoTx, txid)
	}
	return engine.TxView{TxID: "cb", Coinbase: true}, nil
}

func (f *fakeEngine) InvalidateBlock(_ context.Context, hash string) error {
	if len(hash) != 64 {
		return fmt.Errorf("%q is %w", hash, engine.ErrBadKey)
	}
	f.invalidated = append(f.invalidated, hash)
	return nil
}

func (f *fakeEngine) ReconsiderBlock(_ context.Context, hash string) (bool, error) {
	if len(hash) != 64 {
		return false, fmt.Errorf("%q is %w", hash, engine.ErrBadKey)
	}
	return slices.Contains(f.invalidated, hash), nil
}

func (f *fakeEngine) Tips(context.Context) ([]engine.TipView, error) {
	return []engine.TipView{{Hash: "tip", Status: "active"}}, nil
}

func newTestServer() (*fakeEngine, *httptest.Server) {
	f := &fakeEngine{msgs: engine.NewRing[engine.MessageRecord](64), events: engine.NewRing[engine.Event](64), snap: engine.Snapshot{
		Status: engine.Status{Network: "regtest", BestHash: "abc", Peers: 1},
		Peers:  []engine.PeerInfo{{ID: 7, Addr: "127.0.0.1:18444", UserAgent: "<script>alert(1)</script>"}},
	}}
	return f, httptest.NewServer(New(f, "secret", nil))
}

func do(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q", method, path, ct)
	}
	var v any
	json.NewDecoder(resp.Body).Decode(&v)
	m, _ := v.(map[string]any)
	return resp.StatusCode, m
}

func TestReadEndpoints(t *testing.T) {
	_, srv := newTestServer()
	defer srv.Close()
	code, status := do(t, srv, "GET", "/api/status", "", "")
	if code != 200 || status["network"] != "regtest" || status["best_hash"] != "abc" {
		t.Errorf("status: %d %v", code, status)
	}
	resp, err := srv.Client().Get(srv.URL + "/api/peers")
	if err != nil {
		t.Fatal(err)
	}
	var peers []map[string]any
	json.NewDecoder(resp.Body).Decode(&peers)
	resp.Body.Close()
	if len(peers) != 1 || peers[0]["user_agent"] != "<script>alert(1)</script>" {
		t.Errorf("peers: %v", peers)
	}
	if code, p := do(t, srv, "GET", "/api/peers/7", "", ""); code != 200 || p["addr"] != "127.0.0.1:18444" {
		t.Errorf("peer 7: %d %v", code, p)
	}
	if code, _ := do(t, srv, "GET", "/api/peers/8", "", ""); code != 404 {
		t.Errorf("unknown peer: %d", code)
	}
	if code, _ := do(t, srv, "GET", "/api/peers/x", "", ""); code != 400 {
		t.Errorf("bad peer id: %d", code)
	}
}

// TestTransportFields: GET /api/status carries the split by transport
// ("transports", null until the engine fills it) and the peers their
// transport and a v2 connection's session id (none for v1), as the README
// documents; the feed's snapshot carries the same status.
func TestTransportFields(t *testing.T) {
	f, srv := newTestServer()
	defer srv.Close()
	if _, st := do(t, srv, "GET", "/api/status", "", ""); st["transports"] != nil {
		t.Errorf("transports before the engine splits by transport: %v, want null", st["transports"])
	}
	snap := *f.Snapshot()
	snap.Status.Transports = map[string]engine.TransportTraffic{"v1": {Peers: 2, BytesSent: 10, BytesRecv: 20}, "v2": {Peers: 1, BytesSent: 30, BytesRecv: 40}}
	snap.Peers = []engine.PeerInfo{{ID: 7, Transport: "v2", SessionID: "ab01"}, {ID: 8, Transport: "v1"}, {ID: 9}}
	f.setSnapshot(snap)
	_, st := do(t, srv, "GET", "/api/status", "", "")
	want := map[string]any{
		"v1": map[string]any{"peers": 2.0, "bytes_sent": 10.0, "bytes_recv": 20.0},
		"v2": map[string]any{"peers": 1.0, "bytes_sent": 30.0, "bytes_recv": 40.0},
	}
	if got, _ := json.Marshal(st["transports"]); string(got) != mustJSON(t, want) {
		t.Errorf("transports %s, want %s", got, mustJSON(t, want))
	}
	for id, w := range map[string][2]any{"7": {"v2", "ab01"}, "8": {"v1", nil}, "9": {"", nil}} {
		_, p := do(t, srv, "GET", "/api/peers/"+id, "", "")
		if p["transport"] != w[0] || p["session_id"] != w[1] {
			t.Errorf("peer %s: transport %v, session id %v; want %v, %v", id, p["transport"], p["session_id"], w[0], w[1])
		}
		if _, has := p["session_id"]; has != (w[1] != nil) {
			t.Errorf("peer %s: session_id present %v", id, has)
		}
	}

	s := New(f, "secret", nil)
	feed := httptest.NewServer(s)
	defer feed.Close()
	startHub(t, s)
	first := readFeed(t, feedClient(t, feed))
	var data stateData
	if err := json.Unmarshal(first.Data, &data); err != nil || first.Type != "snapshot" || data.Status == nil {
		t.Fatalf("first feed message %s %s: %v", first.Type, first.Data, err)
	}
	if got := data.Status.Transports["v2"]; got != snap.Status.Transports["v2"] {
		t.Errorf("feed's v2 transport %+v, want %+v", got, snap.Status.Transports["v2"])
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMutatingEndpointsNeedToken(t *testing.T) {
	f, srv := newTestServer()
	defer srv.Close()
	calls := []struct{ method, path, body string }{
		{"POST", "/api/peers", `{"addr":"1.2.3.4:8333"}`},
		{"DELETE", "/api/peers/7", ""},
		{"POST", "/api/bans", `{"addr":"10.0.0.1"}`},
		{"DELETE", "/api/bans/10.0.0.1", ""},
	}
	for _, c := range calls {
		for _, token := range []string{"", "wrong", "secre", "secrett"} {
			if code, _ := do(t, srv, c.method, c.path, token, c.body); code != 401 {
				t.Errorf("%s %s with token %q: %d, want 401", c.method, c.path, token, code)
			}
		}
	}
	if len(f.calls) != 0 {
		t.Fatalf("unauthorized calls reached the engine: %v", f.calls)
	}
	want := []int{202, 200, 201, 200}
	for i, c := range calls {
		if code, body := do(t, srv, c.method, c.path, "secret", c.body); code != want[i] {
			t.Errorf("%s %s: %d %v, want %d", c.method, c.path, code, body, want[i])
		}
	}
	if got := strings.Join(f.calls, "; "); got != `connect 1.2.3.4:8333; disconnect 7; ban 10.0.0.1 "" 0s; unban 10.0.0.1` {
		t.Errorf("engine calls: %s", got)
	}
}

func TestMutatingEndpointErrors(t *testing.T) {
	_, srv := newTestServer()
	defer srv.Close()
	cases := []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/peers", `not json`, 400},
		{"POST", "/api/peers", `{"addr":"x","extra":1}`, 400},
		{"POST", "/api/peers", `{"addr":"` + strings.Repeat("a", 5000) + `"}`, 400},
		{"DELETE", "/api/peers/8", "", 404},
		{"DELETE", "/api/peers/abc", "", 400},
		{"POST", "/api/bans", `{"addr":"not-an-ip"}`, 400},
		{"POST", "/api/bans", `{"addr":"10.0.0.1","duration_s":-1}`, 400},
		{"DELETE", "/api/bans/10.9.9.9", "", 404},
	}
	for _, c := range cases {
		code, body := do(t, srv, c.method, c.path, "secret", c.body)
		if code != c.want || body["error"] == "" {
			t.Errorf("%s %s %.40s: %d %v, want %d with an error", c.method, c.path, c.body, code, body, c.want)
		}
	}
}

func TestWriteCookie(t *testing.T) {
	path := filepath.Join(t.TempDir(), CookieFile)
	os.WriteFile(path, []byte("old"), 0o644)
	token, err := WriteCookie(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("cookie mode %v, want 0600", info.Mode().Perm())
	}
	got, _ := os.ReadFile(path)
	if string(got) != token || len(token) != 64 {
		t.Errorf("cookie holds %q, token %q", got, token)
	}
	again, _ := WriteCookie(path)
	if again == token {
		t.Errorf("a new start must write a new token")
	}
}

func TestChainEndpoints(t *testing.T) {
	_, srv := newTestServer()
	defer srv.Close()
	if code, h := do(t, srv, "GET", "/api/headers/0", "", ""); code != 200 || h["hash"] != "genesis" || h["main_chain"] != true {
		t.Errorf("header 0: %d %v", code, h)
	}
	if code, _ := do(t, srv, "GET", "/api/headers/5", "", ""); code != 404 {
		t.Errorf("unknown header: %d", code)
	}
	if code, _ := do(t, srv, "GET", "/api/headers/bad", "", ""); code != 400 {
		t.Errorf("bad key: %d", code)
	}
	resp, err := srv.Client().Get(srv.URL + "/api/tips")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tips []map[string]any
	json.NewDecoder(resp.Body).Decode(&tips)
	if len(tips) != 1 || tips[0]["status"] != "active" {
		t.Errorf("tips: %v", tips)
	}
}

// Pages and API calls are handled httpWorkers at a time; files and the
// WebSocket feed are not held up by them.
func TestWorkerLimit(t *testing.T) {
	f := &fakeEngine{msgs: engine.NewRing[engine.MessageRecord](8), events: engine.NewRing[engine.Event](8)}
	s := New(f, "secret", nil)
	srv := httptest.NewServer(s)
	defer srv.Close()
	release := make(chan struct{})
	taken := make(chan struct{})
	for range s.workers.size { // every worker busy
		go s.workers.do(context.Background(), func() { taken <- struct{}{}; <-release })
	}
	for range s.workers.size {
		<-taken
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/status", nil)
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("an API call was served with every worker busy: %d", resp.StatusCode)
	}
	resp, err := srv.Client().Get(srv.URL + "/static/app.js")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a static file waited for a worker: %v", err)
	}
	resp.Body.Close()
	// The other files answer too (here 404s: no decoder built, no
	// capture), never waiting for a worker.
	for _, path := range []string{"/decoder/" + DecoderModule, "/decoder/" + DecoderLoader, "/api/captures/1/msgs_recv.dat"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		resp, err := srv.Client().Do(req)
		cancel()
		if err != nil {
			t.Fatalf("GET %s waited for a worker: %v", path, err)
		}
		resp.Body.Close()
	}
	close(release) // free again (after their rests): the call goes through
	if code, _ := do(t, srv, "GET", "/api/status", "", ""); code != http.StatusOK {
		t.Fatalf("status %d with a free worker", code)
	}
}

// TestEmptyListsAreArrays: every list endpoint answers [] when it has
// nothing, never null.
func TestEmptyListsAreArrays(t *testing.T) {
	f, srv := newTestServer()
	defer srv.Close()
	f.setSnapshot(engine.Snapshot{})
	for _, path := range []string{"/api/peers", "/api/disconnects", "/api/bans"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := strings.TrimSpace(string(body)); got != "[]" {
			t.Errorf("GET %s with nothing to list = %q, want []", path, got)
		}
	}
}

// TestWorkerFreedAfterPanic: a handler that panics (net/http recovers it
// and closes the connection) gives its worker back; a lost worker would
// leave every page waiting once all were lost.
func TestWorkerFreedAfterPanic(t *testing.T) {
	f := &fakeEngine{msgs: engine.NewRing[engine.MessageRecord](8), events: engine.NewRing[engine.Event](8)}
	s := New(f, "secret", nil)
	// ErrAbortHandler is recovered like any panic, without a stack in the
	// test's output.
	s.mux.HandleFunc("GET /api/panic", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	srv := httptest.NewServer(s)
	defer srv.Close()
	// Without the worker back the next call waits for ever: a deadline
	// turns that into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		return srv.Client().Do(req)
	}
	for i := range s.workers.size + 1 {
		resp, err := get("/api/panic")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("a panicking handler answered %d", resp.StatusCode)
		}
		if ctx.Err() != nil {
			t.Fatalf("panicking call %d waited for a worker: %d workers, the earlier panics kept theirs", i+1, s.workers.size)
		}
	}
	resp, err := get("/api/status")
	if err != nil {
		t.Fatalf("after %d panics no worker was left: %v", s.workers.size+1, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d after panics", resp.StatusCode)
	}
}

// TestBlockRoutes: a block's JSON, its raw bytes as octet-stream, and the
// statuses of an unknown block (404) and a bad key (400).
func TestBlockRoutes(t *testing.T) {
	_, srv := newTestServer()
	defer srv.Close()
	code, body := do(t, srv, "GET", "/api/blocks/0", "", "")
	if code != http.StatusOK || body["have_data"] != true || body["tx_count"] != float64(1) {
		t.Fatalf("GET /api/blocks/0: %d %v", code, body)
	}
	txs, _ := body["txs"].([]any)
	if body["status"] != "connected" || body["fees"] != float64(0) || body["subsidy"] != float64(50e8) || body["claimed"] != float64(50e8) ||
		body["coinbase_text"] != "/btcd/" || len(txs) != 1 {
		t.Errorf("GET /api/blocks/0: the page's fields %v", body)
	} else if tx, _ := txs[0].(map[string]any); tx["txid"] != "cb" || tx["vsize"] != float64(204) || tx["coinbase"] != true || tx["output_value"] != float64(50e8) {
		t.Errorf("GET /api/blocks/0: transaction %v", tx)
	}
	if code, _ := do(t, srv, "GET", "/api/blocks/7", "", ""); code != http.StatusNotFound {
		t.Errorf("unknown block: %d, want 404", code)
	}
	if code, _ := do(t, srv, "GET", "/api/blocks/bad", "", ""); code != http.StatusBadRequest {
		t.Errorf("bad key: %d, want 400", code)
	}
	resp, err := srv.Client().Get(srv.URL + "/api/blocks/0/raw")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" || string(raw) != "raw block" {
		t.Fatalf("raw block: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	if code, _ := do(t, srv, "GET", "/api/blocks/7/raw", "", ""); code != http.StatusNotFound {
		t.Errorf("raw of an unknown block: %d, want 404", code)
	}
}

// TestUTXORoutes: gettxout's JSON and statuses (404 for a missing coin,
// 400 for a bad index), and a block's transaction, which needs the block.
func TestUTXORoutes(t *testing.T) {
	_, srv := newTestServer()
	defer srv.Close()
	txid := strings.Repeat("ab", 32)
	code, body := do(t, srv, "GET", "/api/utxo/"+txid+"/1", "", "")
	if code != http.StatusOK || body["value_sat"] != float64(5000) || body["confirmations"] != float64(5) {
		t.Fatalf("GET /api/utxo: %d %v", code, body)
	}
	if code, _ := do(t, srv, "GET", "/api/utxo/"+txid+"/2", "", ""); code != http.StatusNotFound {
		t.Errorf("missing coin: %d, want 404", code)
	}
	if code, _ := do(t, srv, "GET", "/api/utxo/"+txid+"/x", "", ""); code != http.StatusBadRequest {
		t.Errorf("bad vout: %d, want 400", code)
	}
	if code, body := do(t, srv, "GET", "/api/tx/cb?block=0", "", ""); code != http.StatusOK || body["coinbase"] != true {
		t.Errorf("GET /api/tx: %d %v", code, body)
	}
	if code, _ := do(t, srv, "GET", "/api/tx/cb", "", ""); code != http.StatusBadRequest {
		t.Errorf("a transaction without its block: %d, want 400", code)
	}
	if code, _ := do(t, srv, "GET", "/api/tx/zz?block=0", "", ""); code != http.StatusNotFound {
		t.Errorf("a transaction not in the block: %d, want 404", code)
	}
}

// TestInvalidateReconsiderRoutes: operator-only (the token), 400 for a bad
// hash, and reconsider reports whether the block was marked.
func TestInvalidateReconsiderRoutes(t *testing.T) {
	f, srv := newTestServer()
	defer srv.Close()
	hash := strings.Repeat("cd", 32)
	if code, _ := do(t, srv, "POST", "/api/blocks/"+hash+"/invalidate", "", ""); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("invalidate without the token: %d", code)
	}
	if len(f.invalidated) != 0 {
		t.Fatal("a block was invalidated without the token")
	}
	if code, body := do(t, srv, "POST", "/api/blocks/"+hash+"/invalidate", "secret", ""); code != http.StatusOK {
		t.Fatalf("invalidate: %d %v", code, body)
	}
	if code, body := do(t, srv, "POST", "/api/blocks/"+hash+"/reconsider", "secret", ""); code != http.StatusOK || body["was_invalid"] != true {
		t.Errorf("reconsider: %d %v", code, body)
	}
	if code, _ := do(t, srv, "POST", "/api/blocks/nothex/invalidate", "secret", ""); code != http.StatusBadRequest {
		t.Errorf("a bad hash: %d, want 400", code)
	}
}
