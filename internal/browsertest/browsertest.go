// Package browsertest starts headless Chromium for tests and benchmarks that
// drive real pages (with chromedp): the dashboard, the decoder page and the
// WebAssembly decoder.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Start starts headless Chromium (Debian's package, which make test
// installs) and returns a context driving one tab. dialogs counts the
// JavaScript dialogs (alert, confirm) any page opened: an injected script
// would open one.
func Start(t testing.TB) (ctx context.Context, dialogs *atomic.Int32) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed (CI=true: not skipping); make test installs it with apt-get")
		}
		t.Skipf("chromium is not installed; run make test, which installs it")
	}
	// Not t.TempDir: Chromium's helper processes may still be writing the
	// profile for a moment after the browser is gone, which fails the
	// TempDir cleanup; this folder is removed best-effort instead.
	profile, err := os.MkdirTemp("", "watchnode-chromium")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	dialogs = new(atomic.Int32)
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(false))
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx, dialogs
}
