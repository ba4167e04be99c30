package static

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/watchnode/watchnode/node/engine"
	"github.com/watchnode/watchnode/node/protocol"
	"github.com/watchnode/watchnode/web/views"
)

// TestAppJSSyntax has Node parse app.js: the script has no build step, so
// this is its compile check. Node is on the project's machines; a
// developer without it skips, CI fails.
func TestAppJSSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is needed to check app.js and was not found")
		}
		t.Skip("node not found: app.js syntax not checked")
	}
	if out, err := exec.Command(node, "--check", "app.js").CombinedOutput(); err != nil {
		t.Fatalf("node --check app.js: %v\n%s", err, out)
	}
}

// TestAppJSNoMarkupSinks keeps app.js away from the APIs that parse text as
// markup or code: everything it shows comes from the feed, which carries
// text from remote peers (user agents, reasons, summaries).
func TestAppJSNoMarkupSinks(t *testing.T) {
	b, err := os.ReadFile("app.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc", "createContextualFragment", "DOMParser"} {
		if strings.Contains(src, bad) {
			t.Errorf("app.js uses %s: build the DOM with createElement and textContent", bad)
		}
	}
	if !strings.Contains(src, `"use strict"`) {
		t.Error(`app.js is not in strict mode ("use strict")`)
	}
}

// TestVendoredUPlotPinned checks that the vendored uPlot is the version
// that vendor/README.md names, and that its license came with it.
func TestVendoredUPlotPinned(t *testing.T) {
	const version = "1.6.32"
	js, err := os.ReadFile("vendor/uPlot.iife.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(js), "/*! https://github.com/leeoniya/uPlot (v"+version+") */") {
		t.Errorf("vendor/uPlot.iife.min.js is not uPlot v%s: %.60q", version, js)
	}
	readme, err := os.ReadFile("vendor/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "uplot@"+version) {
		t.Errorf("vendor/README.md does not name uplot@%s", version)
	}
	for _, f := range []string{"vendor/uPlot.min.css", "vendor/LICENSE"} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("%s is missing or empty", f)
		}
	}
}

// appJSRunner loads app.js outside a page, as Node sees it (no document:
// the script only publishes window.watchnode), reads calls [{fn, args}] as
// JSON from standard input and prints their results in order. An argument
// {"$scale": name} stands for window.watchnode.scales[name].
const appJSRunner = `
const fs = require("fs"), vm = require("vm");
vm.runInThisContext(fs.readFileSync("app.js", "utf8"), { filename: "app.js" });
const w = globalThis.watchnode;
const arg = (a) => (a && typeof a === "object" && "$scale" in a ? w.scales[a.$scale] : a);
const calls = JSON.parse(fs.readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(calls.map((c) => {
	try {
		return { v: w[c.fn](...c.args.map(arg)) };
	} catch (e) {
		return { err: String(e) };
	}
})));
`

// jsCall is one call of a window.watchnode function.
type jsCall struct {
	Fn   string `json:"fn"`
	Args []any  `json:"args"`
}

// callAppJS runs the calls in Node and returns each result's JSON.
func callAppJS(t *testing.T, calls []jsCall) []json.RawMessage {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is needed to test app.js and was not found")
		}
		t.Skip("node not found: app.js not tested")
	}
	in, err := json.Marshal(calls)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "-e", appJSRunner)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node running app.js: %v\n%s", err, stderr.String())
	}
	var res []struct {
		V   json.RawMessage `json:"v"`
		Err string          `json:"err"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(calls) {
		t.Fatalf("node's answer %.200s: %v", out, err)
	}
	vals := make([]json.RawMessage, len(res))
	for i, r := range res {
		if r.Err != "" {
			t.Fatalf("%s%v: %s", calls[i].Fn, calls[i].Args, r.Err)
		}
		vals[i] = r.V
	}
	return vals
}

// TestAppJSFormatsAsTheServer: the page script formats chain work
// (log2_work), service letters and their titles, times, and transports
// (a peer's, its peers table cell's class and title, and v2's share of the
// peers) exactly as the server renders them, so a value reads the same before and after its
// first live update.
func TestAppJSFormatsAsTheServer(t *testing.T) {
	works := []string{
		"", "0", "00", "02", "ff", "0x100010001", "not hex", "-1", "12 34",
		"0000000000000000000000000000000000000000000000000000000100010001",         // mainnet genesis: 32.000022
		"00000000000000000000000000000000000000008f2b0c0a5a0d2e8a3c1d9f1f00000000", // past 2^64
		strings.Repeat("f", 64), "00000000000000000000000000000000000000000000000000000000FFFFFFFF",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		// Works of every size, as a chain grows from regtest to mainnet.
		b := make([]byte, 1+rng.IntN(32))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		works = append(works, fmt.Sprintf("%064x", new(big.Int).SetBytes(b)))
	}
	services := [][]string{
		{}, {"NETWORK"}, {"NETWORK", "WITNESS", "NETWORK_LIMITED"}, {"UNKNOWN[2^24]"},
		protocol.ServiceNames(^wire.ServiceFlag(0)), protocol.ServiceNames(wire.SFNodeNetwork | wire.SFNodeWitness | wire.SFNodeP2PV2),
	}
	times := []time.Time{{}, time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC), time.Date(2025, 12, 31, 23, 59, 59, 0, time.FixedZone("x", -5*3600))}
	var calls []jsCall
	var want []string
	for _, w := range works {
		calls = append(calls, jsCall{"format", []any{views.FormatLog2Work, w}})
		want = append(want, views.Log2Work(w))
	}
	for _, s := range services {
		calls = append(calls, jsCall{"serviceLetters", []any{s}}, jsCall{"serviceTitle", []any{s}})
		want = append(want, views.ServiceLetters(s), views.ServiceTitle(s))
	}
	for _, tm := range times {
		v := any(tm.Format(time.RFC3339Nano))
		if tm.IsZero() {
			v = "0001-01-01T00:00:00Z" // Go's zero time, as the feed sends it
		}
		calls = append(calls, jsCall{"format", []any{views.FormatTime, v}})
		want = append(want, views.Time(tm))
	}
	for _, tr := range []string{"v1", "v2", "", "v3"} {
		calls = append(calls, jsCall{"format", []any{views.FormatTransport, tr}}, jsCall{"transportClass", []any{tr}}, jsCall{"transportTitle", []any{tr}})
		want = append(want, views.Transport(tr), views.TransportClass(tr), views.TransportTitle(tr))
	}
	shares := []map[string]engine.TransportTraffic{
		nil, {}, {"v1": {}, "v2": {}}, {"v1": {Peers: 5}, "v2": {Peers: 3}}, {"v1": {Peers: 2}, "v2": {Peers: 1}},
		{"v1": {Peers: 0}, "v2": {Peers: 1234}}, {"v2": {Peers: 1}}, {"v1": {Peers: 7}},
	}
	for range 200 {
		v1, v2 := rng.IntN(130), rng.IntN(130)
		shares = append(shares, map[string]engine.TransportTraffic{"v1": {Peers: v1}, "v2": {Peers: v2}})
	}
	for _, m := range shares {
		calls = append(calls, jsCall{"format", []any{views.FormatTransportShare, m}})
		want = append(want, views.TransportShare(m))
	}
	for i, got := range callAppJS(t, calls) {
		var s string
		if err := json.Unmarshal(got, &s); err != nil || s != want[i] {
			t.Errorf("%s%q: page script %s, server %q", calls[i].Fn, calls[i].Args, got, want[i])
		}
	}
}

// TestAppJSChartTicks checks the charts' scales and ticks: from zero to
// the first multiple of a nice step above the data (1 when nothing is
// above zero), byte steps in whole B, KiB, MiB..., time ticks on the
// 24-hour UTC clock, and lines that let an equal one under them show.
func TestAppJSChartTicks(t *testing.T) {
	const kib, mib = 1024, 1 << 20
	scale := func(name string) map[string]string { return map[string]string{"$scale": name} }
	type tops struct{ Max, Step float64 }
	scales := []struct {
		kind string
		max  float64
		want tops
	}{
		{"decimal", 0, tops{1, 0.5}}, {"count", 0, tops{1, 1}}, {"bytes", 0, tops{1, 1}},
		{"decimal", -3, tops{1, 0.5}},
		{"decimal", 0.3, tops{0.4, 0.1}}, // above, not on, the largest value
		{"decimal", 100, tops{150, 50}},  // not 100: the top line is never on the frame
		{"decimal", 1234.5, tops{1500, 500}},
		{"count", 5, tops{6, 2}}, {"count", 10, tops{15, 5}}, {"count", 830_000, tops{1_000_000, 500_000}},
		{"bytes", 500, tops{600, 200}},
		{"bytes", 1000, tops{kib, kib}}, // 1,500 B would read "1.5 KiB"
		{"bytes", 2000, tops{2 * kib, kib}},
		{"bytes", 50_000, tops{60 * kib, 20 * kib}},
		{"bytes", 977 * kib, tops{1000 * kib, 500 * kib}},
		{"bytes", 1000 * kib, tops{mib, mib}},
		{"bytes", 3 * mib, tops{4 * mib, mib}},
	}
	var calls []jsCall
	for _, c := range scales {
		calls = append(calls, jsCall{"niceScale", []any{c.max, scale(c.kind)}})
	}
	ticks := []struct {
		kind      string
		top, most float64
		want      []float64
	}{
		{"bytes", 60 * kib, 6, []float64{0, 10 * kib, 20 * kib, 30 * kib, 40 * kib, 50 * kib, 60 * kib}},
		{"bytes", 60 * kib, 4, []float64{0, 20 * kib, 40 * kib, 60 * kib}},
		{"bytes", 2 * kib, 6, []float64{0, kib, 2 * kib}},
		{"decimal", 0.4, 6, []float64{0, 0.1, 0.2, 0.3, 0.4}},
		{"count", 15, 6, []float64{0, 5, 10, 15}},
		{"count", 1, 6, []float64{0, 1}},
	}
	for _, c := range ticks {
		calls = append(calls, jsCall{"niceTicks", []any{c.top, scale(c.kind), c.most}})
	}
	// 2025-03-04 05:06:00 UTC and on.
	const t0 = 1741064760
	calls = append(calls,
		jsCall{"timeTicks", []any{[]float64{t0, t0 + 60, t0 + 120}, 60}},
		jsCall{"timeTicks", []any{[]float64{t0 + 5, t0 + 10}, 5}},
		jsCall{"timeTicks", []any{[]float64{t0 + 13*3600}, 60}}, // 18:06, not 6:06pm
	)
	byteTicks := []float64{0, 500, kib, 20 * kib, 500 * kib, mib, 3 * (1 << 30)}
	for _, v := range byteTicks {
		calls = append(calls, jsCall{"fmtBytesTick", []any{v}})
	}
	for i := range 6 {
		calls = append(calls, jsCall{"lineStyle", []any{i}})
	}
	res := callAppJS(t, calls)
	for i, c := range scales {
		var got tops
		json.Unmarshal(res[i], &got)
		if got != c.want {
			t.Errorf("niceScale(%v, %s) = %+v, want %+v", c.max, c.kind, got, c.want)
		}
	}
	res = res[len(scales):]
	for i, c := range ticks {
		var got []float64
		json.Unmarshal(res[i], &got)
		if !slices.Equal(got, c.want) {
			t.Errorf("niceTicks(%v, %s, %v) = %v, want %v", c.top, c.kind, c.most, got, c.want)
		}
	}
	res = res[len(ticks):]
	for i, want := range [][]string{{"05:06", "05:07", "05:08"}, {"05:06:05", "05:06:10"}, {"18:06"}} {
		var got []string
		json.Unmarshal(res[i], &got)
		if !slices.Equal(got, want) {
			t.Errorf("timeTicks %d = %q, want %q", i, got, want)
		}
	}
	res = res[3:]
	for i, want := range []string{"0 B", "500 B", "1 KiB", "20 KiB", "500 KiB", "1 MiB", "3 GiB"} {
		var got string
		json.Unmarshal(res[i], &got)
		if got != want {
			t.Errorf("fmtBytesTick(%v) = %q, want %q", byteTicks[i], got, want)
		}
	}
	res = res[len(byteTicks):]
	var prev struct {
		Width float64
		Dash  []float64
	}
	for i, r := range res {
		var st struct {
			Width float64
			Dash  []float64
		}
		json.Unmarshal(r, &st)
		if i > 0 && (!(st.Width < prev.Width) || len(st.Dash) == 0) {
			t.Errorf("line %d (%+v) drawn over line %d (%+v) could hide it", i, st, i-1, prev)
		}
		prev = st
	}
}
