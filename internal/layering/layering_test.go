// Package layering holds the tests that keep the node's layers in order:
// each package imports only the layers allowed below, and the pure cores
// stay pure.
package layering

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/watchnode/watchnode"

// allowed lists, for every package of the node, the module's packages it
// may depend on (directly or not). A package missing here fails the test:
// a new package must take its place in the order.
var allowed = map[string][]string{
	"internal/atomicfile": {},
	"node/protocol":       {},
	"node/inspect":        {"node/protocol"},
	"node/consensus":      {"node/protocol"},
	"node/blockstore":     nil,
	"node/chain":          {"node/consensus", "node/protocol"},
	"node/addrman":        {"internal/atomicfile"},
	// Full validation: scripts, the UTXO set, and the one writer of both.
	"node/script":   {"node/consensus", "node/protocol"},
	"node/utxo":     {"node/consensus", "node/protocol"},
	"node/validate": {"node/script", "node/utxo", "node/consensus", "node/protocol"},
	// The pure cores.
	"node/p2p":     {"node/protocol", "node/consensus", "node/addrman", "internal/atomicfile"},
	"node/netsync": {"node/p2p", "node/chain", "node/protocol", "node/consensus", "node/addrman", "internal/atomicfile"},
	// The socket side speaks the core's vocabulary (p2p.Message, p2p.Frame).
	"node/peer": {"node/p2p", "node/protocol", "node/inspect", "node/consensus", "node/addrman", "internal/atomicfile"},
	// The shell.
	"node/engine": {"node/p2p", "node/netsync", "node/peer", "node/chain", "node/addrman", "node/protocol",
		"node/inspect", "node/consensus", "node/blockstore", "node/script", "node/utxo", "node/validate", "internal/atomicfile"},
	"web/static": {},
	"web/views":  {"node/engine", "node/blockstore", "node/script", "node/utxo", "node/validate", "node/p2p", "node/netsync", "node/peer", "node/chain", "node/addrman", "node/protocol", "node/inspect", "node/consensus", "internal/atomicfile"},
	"web": {"web/static", "web/views", "node/engine", "node/blockstore", "node/script", "node/utxo", "node/validate", "node/p2p", "node/netsync", "node/peer", "node/chain", "node/addrman",
		"node/protocol", "node/inspect", "node/consensus", "internal/atomicfile"},
	"wasm": {"node/inspect", "node/protocol"},
	"cmd/server": {"web", "web/static", "web/views", "node/engine", "node/blockstore", "node/script", "node/utxo", "node/validate", "node/p2p", "node/netsync", "node/peer", "node/chain",
		"node/addrman", "node/protocol", "node/inspect", "node/consensus", "internal/atomicfile"},
	"cmd/chaingen": {"internal/chaingen", "internal/blockgen", "node/consensus", "node/protocol", "internal/atomicfile"},
	// Test and build helpers: never imported by the node itself (checked
	// below), free to use the layers.
	"internal/chaingen":        {"node/consensus", "node/protocol", "internal/atomicfile"},
	"internal/blockgen":        {"node/consensus", "node/protocol"},
	"internal/sim":             {"node/p2p", "node/netsync", "node/chain", "node/addrman", "node/protocol", "node/consensus", "internal/atomicfile"},
	"internal/btcdtest":        nil,
	"internal/pcaptest":        nil,
	"internal/browsertest":     nil,
	"internal/mainnetdata":     nil,
	"internal/layering":        nil,
	"internal/gen/sha256block": nil,
}

type pkg struct {
	ImportPath string
	Deps       []string
	Standard   bool
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestLayers checks every package's dependencies (all of them, as go
// list reports them in Deps) against the allowed table.
func TestLayers(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps=false", "-json", "./...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	seen := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		allow, known := allowed[rel]
		if !known {
			t.Errorf("package %s is not in the layer table (internal/layering): give it its place", rel)
			continue
		}
		seen++
		deps := internalDeps(p)
		for _, d := range deps {
			// A nil entry is a test helper, free to use the layers.
			if allow != nil && !slices.Contains(allow, d) {
				t.Errorf("%s depends on %s, which its layer may not use", rel, d)
			}
		}
		// The node never depends on a test helper.
		if !strings.HasPrefix(rel, "internal/") && rel != "cmd/chaingen" {
			for _, d := range deps {
				if strings.HasPrefix(d, "internal/") && d != "internal/atomicfile" {
					t.Errorf("%s depends on the test helper %s", rel, d)
				}
			}
		}
	}
	if seen < 10 {
		t.Fatalf("only %d packages listed", seen)
	}
}

// internalDeps returns the module's packages p depends on (go list's
// Deps: every dependency, not only the direct imports).
func internalDeps(p pkg) []string {
	var deps []string
	for _, d := range p.Deps {
		if rest, ok := strings.CutPrefix(d, module+"/"); ok {
			deps = append(deps, rest)
		}
	}
	return deps
}

// forbiddenImports are what a pure core must not import: sockets, files,
// locks and shared memory.
var forbiddenImports = []string{"net", "net/http", "os", "os/exec", "io/fs", "syscall", "sync", "sync/atomic", "log", "unsafe"}

// forbiddenCalls are the time package's clock reads and timers.
var forbiddenCalls = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"}

// TestCoresArePure checks that node/p2p and node/netsync import neither
// net, os nor sync (nor any other I/O or locking package), never read the
// clock or start a timer, and start no goroutine. It reads the cores' own
// files only: a package they import may do I/O in functions the cores must
// then not call (addrman.New reads crypto/rand, so p2p.New builds its
// address book with addrman.NewWithRand).
func TestCoresArePure(t *testing.T) {
	for _, dir := range []string{"node/p2p", "node/netsync"} {
		files, err := filepath.Glob(filepath.Join(repoRoot(t), dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no files (%v)", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			checkPure(t, f)
		}
	}
}

func checkPure(t *testing.T, file string) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, file, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	timeName := ""
	for _, imp := range af.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if slices.Contains(forbiddenImports, path) {
			t.Errorf("%s imports %q: the core must do no I/O and take no locks", fset.Position(imp.Pos()), path)
		}
		if path == "time" {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	ast.Inspect(af, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			t.Errorf("%s: a goroutine in the core", fset.Position(n.Pos()))
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName && slices.Contains(forbiddenCalls, n.Sel.Name) {
				t.Errorf("%s: time.%s in the core: the time is an argument", fset.Position(n.Pos()), n.Sel.Name)
			}
		case *ast.SendStmt:
			t.Errorf("%s: a channel send in the core", fset.Position(n.Pos()))
		}
		return true
	})
}
