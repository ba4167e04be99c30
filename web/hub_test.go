package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/watchnode/watchnode/node/engine"
)

// feedClient dials the test server's /ws.
func feedClient(t *testing.T, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

type rawFeed struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func readFeed(t *testing.T, c *websocket.Conn) rawFeed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m rawFeed
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.V != FeedVersion {
		t.Fatalf("feed version %d", m.V)
	}
	return m
}

func startHub(t *testing.T, s *Server) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.hub.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestFeedSnapshotThenDeltas(t *testing.T) {
	f, _ := newTestServer()
	s := New(f, "secret", nil)
	srv := httptest.NewServer(s)
	defer srv.Close()
	startHub(t, s)
	c := feedClient(t, srv)

	first := readFeed(t, c)
	var snap stateData
	json.Unmarshal(first.Data, &snap)
	if first.Type != "snapshot" || snap.Status == nil || snap.Status.Network != "regtest" || len(snap.Peers) != 1 {
		t.Fatalf("first message: %s %s", first.Type, first.Data)
	}
	// The hub's first tick sends every section once.
	for readFeed(t, c).Type != "delta" {
	}
	// Then only what changes: a new height gives a delta with the status
	// and nothing else.
	next := f.snap
	next.Status.Height = 42
	f.setSnapshot(next)
	for {
		m := readFeed(t, c)
		var d stateData
		json.Unmarshal(m.Data, &d)
		if m.Type != "delta" || d.Status == nil {
			continue // e.g. the first delta of the hub's own first tick
		}
		if d.Status.Height == 42 {
			if d.Peers != nil || d.Bans != nil {
				t.Errorf("unchanged sections sent: %s", m.Data)
			}
			break
		}
	}
}

func TestFeedMessageLogSubscription(t *testing.T) {
	f, _ := newTestServer()
	s := New(f, "secret", nil)
	srv := httptest.NewServer(s)
	defer srv.Close()
	startHub(t, s)
	c := feedClient(t, srv)
	readFeed(t, c) // snapshot
	ctx := context.Background()
	req, _ := json.Marshal(clientRequest{Type: "subscribe", Command: "ping", Dir: "in"})
	if err := c.Write(ctx, websocket.MessageText, req); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	f.msgs.Append(engine.MessageRecord{Time: time.Now(), Peer: 7, Inbound: true, Command: "pong", Size: 32})
	f.msgs.Append(engine.MessageRecord{Time: time.Now(), Peer: 7, Inbound: true, Command: "ping", Size: 32})
	f.msgs.Append(engine.MessageRecord{Time: time.Now(), Peer: 7, Inbound: false, Command: "ping", Size: 32})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m := readFeed(t, c)
		if m.Type != "messages" {
			continue
		}
		var md messagesData
		json.Unmarshal(m.Data, &md)
		if len(md.Lines) != 1 || md.Lines[0].Command != "ping" || md.Lines[0].Dir != "in" {
			t.Fatalf("filtered lines: %+v", md.Lines)
		}
		return
	}
	t.Fatal("no log lines")
}

func TestFeedRefusesForeignOrigin(t *testing.T) {
	f, _ := newTestServer()
	srv := httptest.NewServer(New(f, "secret", nil))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": []string{"http://evil.example"}},
	})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin WebSocket: err %v, response %v", err, resp)
	}
}

// TestFeedClosesClientThatStopsReading: a client that never reads fills its
// socket; the hub closes it after the slow-client limit, and meanwhile the
// hub keeps ticking (nothing blocks on that client).
func TestFeedClosesClientThatStopsReading(t *testing.T) {
	f, _ := newTestServer()
	s := New(f, "secret", nil)
	s.hub.slowLimit = 300 * time.Millisecond
	srv := httptest.NewServer(s)
	defer srv.Close()
	startHub(t, s)
	c := feedClient(t, srv)
	big := f.snap
	for i := range 3000 {
		big.Peers = append(big.Peers, engine.PeerInfo{ID: engine.PeerID(i), UserAgent: strings.Repeat("x", 200)})
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		big.Status.Height = int32(i)
		big.Peers = slices.Clone(big.Peers) // snapshots are immutable once published
		big.Peers[0].BytesSent = uint64(i)  // the whole peers section goes out again
		f.setSnapshot(big)
		time.Sleep(20 * time.Millisecond)
		s.hub.mu.Lock()
		n := len(s.hub.clients)
		s.hub.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hub did not close a client that never reads")
		}
	}
	_ = c
}
