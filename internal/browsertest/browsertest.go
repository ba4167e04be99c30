// Package browsertest starts headless Chromium for tests and benchmarks that
// drive real pages (with chromedp): the dashboard, the decoder page and the
// WebAssembly decoder.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// BuildDecoder builds the browser decoder into dir as `make build` does:
// the js/wasm build of wasmPkg (a package path or a directory) as
// decoder.wasm, and Go's loader of the same version as wasm_exec.js.
func BuildDecoder(dir, wasmPkg string) error {
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "decoder.wasm"), wasmPkg)
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the decoder module: %w\n%s", err, out)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("finding GOROOT: %w", err)
	}
	loader, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return fmt.Errorf("reading Go's wasm loader: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "wasm_exec.js"), loader, 0o644)
}
