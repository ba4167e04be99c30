//go:build !(js && wasm)

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/watchnode/watchnode/internal/browsertest"
	"github.com/watchnode/watchnode/internal/mainnetdata"
	"github.com/watchnode/watchnode/node/inspect"
	"github.com/watchnode/watchnode/node/protocol"
)

// modulePage loads the module the way the decoder page does.
const modulePage = `<!doctype html><meta charset="utf-8"><script src="/wasm_exec.js"></script><script>
(async () => {
  const go = new Go();
  const {instance} = await WebAssembly.instantiateStreaming(fetch("/decoder.wasm"), go.importObject);
  go.run(instance);
})();
</script>`

// serveModule builds this package for js/wasm and serves it with Go's
// loader, a page loading both, and the given extra files.
func serveModule(tb testing.TB, files map[string][]byte) *httptest.Server {
	tb.Helper()
	dir := tb.TempDir()
	if err := browsertest.BuildDecoder(dir, "."); err != nil {
		tb.Fatal(err)
	}
	loader, err := os.ReadFile(filepath.Join(dir, "wasm_exec.js"))
	if err != nil {
		tb.Fatal(err)
	}
	module, err := os.ReadFile(filepath.Join(dir, "decoder.wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	all := map[string][]byte{"/wasm_exec.js": loader, "/decoder.wasm": module, "/": []byte(modulePage)}
	for k, v := range files {
		all[k] = v
	}
	types := map[string]string{"/wasm_exec.js": "text/javascript", "/decoder.wasm": "application/wasm", "/": "text/html; charset=utf-8"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := all[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if ct := types[r.URL.Path]; ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Write(b)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// openModule loads the page in Chromium and waits for the module's globals.
func openModule(tb testing.TB, srv *httptest.Server) context.Context {
	tb.Helper()
	ctx, _ := browsertest.Start(tb)
	if err := chromedp.Run(ctx, chromedp.Navigate(srv.URL+"/"),
		chromedp.Poll(`typeof watchnodeOpen === "function"`, nil)); err != nil {
		tb.Fatalf("loading the module in Chromium: %v", err)
	}
	return ctx
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// TestModuleInChromium decodes frames fetched by the page, in Chromium, and
// checks the list and a message's tree are the native decoder's.
func TestModuleInChromium(t *testing.T) {
	in := testInput(t, protocol.Signet)
	ctx := openModule(t, serveModule(t, map[string][]byte{"/frames.bin": in.Data}))
	var got struct{ List, Message string }
	err := chromedp.Run(ctx, chromedp.Evaluate(`(async () => {
		const data = new Uint8Array(await (await fetch("/frames.bin")).arrayBuffer());
		return {list: watchnodeOpen([{name: "two.bin", data}], {format: "auto"}), message: watchnodeMessage(1)};
	})()`, &got, awaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	native := &session{}
	if want := native.open([]inspect.Input{in}, inspect.Options{}); got.List != want {
		t.Errorf("list in Chromium:\n got %s\nwant %s", got.List, want)
	}
	if want := native.message(1); got.Message != want {
		t.Errorf("message 1 in Chromium:\n got %.300s\nwant %.300s", got.Message, want)
	}
}

// BenchmarkDecodeInChromium lists a capture of real blocks and transactions
// (block 830,000 and its 1,851 transactions as tx messages, 8 times, 27.7 MB)
// in headless Chromium: the time from the bytes being in the page to the
// parsed list, measured in the page (page-MB/s) and around each call
// (MB/s, which adds the DevTools round trip), and for the first listing after
// the module loaded (first-MB/s). It also reports the time to build block
// 830,000's field tree (tree-ms), what selecting it costs.
func BenchmarkDecodeInChromium(b *testing.B) {
	capture := mainnetdata.BlocksAndTxs(b, 8)
	ctx := openModule(b, serveModule(b, map[string][]byte{"/capture.bin": capture}))
	if err := chromedp.Run(ctx, chromedp.Evaluate(`(async () => {
		window.capture = new Uint8Array(await (await fetch("/capture.bin")).arrayBuffer());
		return window.capture.length;
	})()`, nil, awaitPromise)); err != nil {
		b.Fatal(err)
	}
	const listJS = `(() => {
		const t0 = performance.now();
		const r = JSON.parse(watchnodeOpen([{name: "capture.bin", data: window.capture}], {format: "auto"}));
		const ms = performance.now() - t0;
		if (r.error || r.errors !== 0 || r.messages !== 8 * 1852) throw new Error("decoding failed: " + (r.error || r.messages));
		return ms;
	})()`
	// The first listing after the page loaded, what a person waits for
	// when they drop their first file (the module warms up as it starts,
	// see warmUp); the loop then measures the steady state.
	var firstMs float64
	if err := chromedp.Run(ctx, chromedp.Evaluate(listJS, &firstMs)); err != nil {
		b.Fatal(err)
	}
	var pageMs float64
	b.SetBytes(int64(len(capture)))
	b.ResetTimer()
	for b.Loop() {
		var ms float64
		if err := chromedp.Run(ctx, chromedp.Evaluate(listJS, &ms)); err != nil {
			b.Fatal(err)
		}
		pageMs += ms
	}
	b.StopTimer()
	b.ReportMetric(float64(len(capture))*float64(b.N)/1e6/(pageMs/1e3), "page-MB/s")
	b.ReportMetric(float64(len(capture))/1e6/(firstMs/1e3), "first-MB/s")
	var tree struct {
		Ms    float64
		Bytes int
	}
	if err := chromedp.Run(ctx, chromedp.Evaluate(`(() => {
		const t0 = performance.now();
		const m = JSON.parse(watchnodeMessage(0));
		return {ms: performance.now() - t0, bytes: m.length};
	})()`, &tree)); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(tree.Ms, "tree-ms")
}
