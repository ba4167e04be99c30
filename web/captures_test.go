package web

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watchnode/watchnode/node/engine"
)

// captureServer serves a fake engine whose capture folder holds one
// connection's capture and a file that must never be served.
func captureServer(t *testing.T) (*fakeEngine, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	capDir := filepath.Join(dir, "message_capture")
	conn := filepath.Join(capDir, "127.0.0.1_18444")
	if err := os.MkdirAll(conn, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"msgs_recv.dat": "received", "msgs_sent.dat": "sent!", "other.txt": "private"} {
		if err := os.WriteFile(filepath.Join(conn, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("no"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fakeEngine{msgs: engine.NewRing[engine.MessageRecord](8), events: engine.NewRing[engine.Event](8),
		captureDir: capDir, frames: map[uint64][]byte{3: []byte("framed bytes")}}
	srv := httptest.NewServer(New(f, "secret", nil))
	t.Cleanup(srv.Close)
	return f, srv
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCaptureListAndFiles(t *testing.T) {
	_, srv := captureServer(t)
	status, list := do(t, srv, "GET", "/api/captures", "", "")
	caps, _ := list["captures"].([]any)
	if status != 200 || list["enabled"] != false || len(caps) != 1 {
		t.Fatalf("list %d %v", status, list)
	}
	c := caps[0].(map[string]any)
	if c["connection"] != "127.0.0.1_18444" || len(c["files"].([]any)) != 2 || c["bytes"] != float64(13) {
		t.Errorf("capture %v", c)
	}
	if status, body := get(t, srv, "/api/captures/127.0.0.1_18444/msgs_sent.dat"); status != 200 || body != "sent!" {
		t.Errorf("sent file: %d %q", status, body)
	}
	for _, path := range []string{
		"/api/captures/127.0.0.1_18444/other.txt",
		"/api/captures/..%2f/secret",
		"/api/captures/" + url.PathEscape("../..") + "/msgs_recv.dat",
		"/api/captures/nobody/msgs_recv.dat",
	} {
		if status, body := get(t, srv, path); status == 200 || strings.Contains(body, "private") || strings.Contains(body, "no") && status == 200 {
			t.Errorf("%s served: %d %q", path, status, body)
		}
	}
}

func TestCaptureSwitch(t *testing.T) {
	f, srv := captureServer(t)
	if status, _ := do(t, srv, "POST", "/api/capture", "", `{"enabled":true}`); status != http.StatusUnauthorized {
		t.Errorf("switch without the token: %d", status)
	}
	if status, _ := do(t, srv, "POST", "/api/capture", "secret", `{"on":1}`); status != http.StatusBadRequest {
		t.Errorf("bad body: %d", status)
	}
	status, body := do(t, srv, "POST", "/api/capture", "secret", `{"enabled":true}`)
	if status != 200 || body["enabled"] != true || !f.Capturing() {
		t.Errorf("switch on: %d %v", status, body)
	}
	f.captureDir = ""
	if status, body := do(t, srv, "POST", "/api/capture", "secret", `{"enabled":true}`); status != http.StatusConflict || !strings.Contains(body["error"].(string), "no folder") {
		t.Errorf("switch on without a folder: %d %v", status, body)
	}
}

func TestCapturesOnControlsPage(t *testing.T) {
	f, _ := captureServer(t)
	s := New(f, "secret", nil)
	doc := getPage(t, s, "/bans", 200, withCookie("secret"))
	if got := doc.Find(`#captures-table tr[data-connection="127.0.0.1_18444"] a[href="/decoder#capture=127.0.0.1_18444"]`).Length(); got != 1 {
		t.Errorf("%d links to the decoder", got)
	}
	if doc.Find(`#capture-state`).AttrOr("data-enabled", "") != "false" {
		t.Error("capture state not shown as off")
	}
	w := request(t, s, "POST", "/ui/capture", url.Values{"csrf": {csrfFor("secret")}, "enabled": {"on"}}, withCookie("secret"))
	if w.Code != http.StatusSeeOther || !f.Capturing() {
		t.Errorf("switching on from the page: %d, capturing %v", w.Code, f.Capturing())
	}
	w = request(t, s, "POST", "/ui/capture", url.Values{"enabled": {"off"}}, withCookie("secret"))
	if w.Code != http.StatusForbidden || !f.Capturing() {
		t.Errorf("switching without the CSRF token: %d", w.Code)
	}
}

func TestMessageRaw(t *testing.T) {
	_, srv := captureServer(t)
	if status, body := get(t, srv, "/api/messages/3/raw"); status != 200 || body != "framed bytes" {
		t.Errorf("kept message: %d %q", status, body)
	}
	if status, body := get(t, srv, "/api/messages/4/raw"); status != 404 || !strings.Contains(body, "no longer kept") {
		t.Errorf("forgotten message: %d %q", status, body)
	}
	if status, _ := get(t, srv, "/api/messages/x/raw"); status != 400 {
		t.Errorf("bad number: %d", status)
	}
}

func TestDecoderPageAndAssets(t *testing.T) {
	f, _ := captureServer(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DecoderModule), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(f, "secret", nil, WithDecoderDir(dir))
	w := request(t, s, "GET", "/decoder", nil)
	if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Security-Policy"), "'wasm-unsafe-eval'") {
		t.Errorf("decoder page: %d, CSP %q", w.Code, w.Header().Get("Content-Security-Policy"))
	}
	if w := request(t, s, "GET", "/messages", nil); strings.Contains(w.Header().Get("Content-Security-Policy"), "wasm") {
		t.Error("another page may compile WebAssembly")
	}
	doc := parse(t, w)
	if doc.Find(`script[src="/decoder/wasm_exec.js"]`).Length() != 1 || doc.Find(`nav a[href="/decoder"]`).Length() != 1 {
		t.Error("the decoder page lacks its loader or the nav link")
	}
	if w := request(t, s, "GET", "/decoder/decoder.wasm", nil); w.Code != 200 || w.Header().Get("Content-Type") != "application/wasm" {
		t.Errorf("module: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if w := request(t, s, "GET", "/decoder/wasm_exec.js", nil); w.Code != 404 || !strings.Contains(w.Body.String(), "make build") {
		t.Errorf("missing loader: %d %q", w.Code, w.Body.String())
	}
}

func TestMessagesEndpoint(t *testing.T) {
	f, srv := captureServer(t)
	for i := range 5 {
		f.msgs.Append(engine.MessageRecord{Command: fmt.Sprintf("cmd%d", i), Inbound: i%2 == 0})
	}
	status, body := do(t, srv, "GET", "/api/messages?after=2&limit=2", "", "")
	msgs, _ := body["messages"].([]any)
	if status != 200 || len(msgs) != 2 || msgs[0].(map[string]any)["command"] != "cmd2" || msgs[0].(map[string]any)["seq"] != float64(3) {
		t.Errorf("messages: %d %v", status, body)
	}
	if status, _ := do(t, srv, "GET", "/api/messages?limit=0", "", ""); status != 400 {
		t.Errorf("limit 0: %d", status)
	}
}
