# watchnode: a Bitcoin node you can watch work.
#
#   make run    build and run the node (mainnet; ARGS="-network=regtest ..." to change)
#   make test   install what the tests need, then run every suite
#   make demo   try it offline: a local btcd on regtest and our node connected to it
#               (FRESH=1 starts afresh)

GO        ?= go
ARGS      ?=
FUZZTIME  ?= 10s
BIN       := bin/server
# Signatures are verified with libsecp256k1, Bitcoin Core's library,
# through cgo, when the build has the libsecp256k1 tag: about four times
# faster than btcec, txscript's pure-Go curve (see node/script/doc.go).
# SECP256K1=0 builds without it. Every go command below, and the go
# builds the tests run, see the tag through GOFLAGS.
SECP256K1 ?= 1
ifeq ($(SECP256K1),1)
export GOFLAGS := $(strip $(GOFLAGS) -tags=libsecp256k1)
endif

.PHONY: all build run test tools secp256k1-deps browser-deps templ-check generate-check fmt-check vet unit fuzz wasm-test wasm bench demo clean

all: build

# The server, and next to it the browser decoder: the WebAssembly module and
# the loader of the same Go version, which the server serves at /decoder/.
build: secp256k1-deps
	$(GO) build -o $(BIN) ./cmd/server
	GOOS=js GOARCH=wasm $(GO) build -trimpath -o bin/decoder.wasm ./wasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" bin/wasm_exec.js

run: build
	./$(BIN) $(ARGS)

# Installs libsecp256k1's headers and pkg-config file (Debian's
# libsecp256k1-dev, with apt-get) when the build links it and they are
# missing.
secp256k1-deps:
ifeq ($(SECP256K1),1)
	@{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libsecp256k1; } || { \
		echo "secp256k1-deps: installing libsecp256k1-dev and pkg-config with apt-get"; \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y libsecp256k1-dev pkg-config; } && pkg-config --exists libsecp256k1 || { \
			echo "secp256k1-deps: libsecp256k1 is missing; install it (Debian and Ubuntu: libsecp256k1-dev;" \
				"macOS: brew install secp256k1) or build without it: make SECP256K1=0 ..." >&2; exit 1; }; \
	}
endif

# Installs pinned btcd and btcctl into .tools/bin for the integration tests.
tools:
	./scripts/install-tools.sh

# Regenerates the templ views and fails if that changed anything: the
# generated *_templ.go files are committed and must match their .templ.
templ-check:
	$(GO) tool templ generate -path web/views
	@out=$$(git status --porcelain web/views); \
	if [ -n "$$out" ]; then echo "templ: generated files were stale (run: go tool templ generate -path web/views, then commit):"; echo "$$out"; exit 1; fi

# The unrolled SHA-256 (node/protocol/sha256_unrolled.go) is generated and
# committed too; regenerating it must change nothing.
generate-check:
	cd node/protocol && $(GO) generate
	@out=$$(git status --porcelain node/protocol); \
	if [ -n "$$out" ]; then echo "go generate: generated files were stale (run: cd node/protocol && go generate, then commit):"; echo "$$out"; exit 1; fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet: secp256k1-deps
	$(GO) vet ./...

# Installs Debian's Chromium for the browser tests (driven from Go with
# chromedp), Node.js for the script checks, and tshark, which checks the
# packet captures the decoder's tests write, when they are missing.
browser-deps:
	@command -v chromium >/dev/null 2>&1 && command -v node >/dev/null 2>&1 && command -v tshark >/dev/null 2>&1 || { \
		echo "browser-deps: installing chromium, nodejs and tshark with apt-get"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium nodejs tshark; \
	}
	@command -v chromium >/dev/null 2>&1 || { echo "browser-deps: chromium is still missing" >&2; exit 1; }
	@command -v tshark >/dev/null 2>&1 || { echo "browser-deps: tshark is still missing" >&2; exit 1; }

# CI=true makes every suite that needs btcd, Chromium or the shared mainnet
# data fail rather than skip when they are missing.
unit: tools secp256k1-deps browser-deps
	$(GO) test -race -count=1 -timeout 20m ./...
	# btcd's fullblocktests with their large reorg (1,088 one-megabyte
	# blocks each way): too big for the race detector's memory.
	FULLBLOCK_LARGE_REORG=1 $(GO) test -count=1 -run '^TestFullBlockTests$$' ./node/validate/

fuzz: secp256k1-deps
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# Runs the browser decoder's tests and node/protocol's (which must stay pure
# enough for js/wasm) compiled for js/wasm, in Node.js through Go's
# go_js_wasm_exec; installs Node.js with apt-get first if it is missing.
wasm-test:
	@command -v node >/dev/null 2>&1 || { \
		echo "wasm-test: node not found; installing Node.js (apt-get install nodejs)"; \
		{ apt-get update && apt-get install -y nodejs; } && command -v node >/dev/null 2>&1 || { \
			echo "wasm-test: could not install Node.js, which the js/wasm tests run in;" \
				"install it (it must provide a 'node' command) and retry" >&2; exit 1; }; \
	}
	GOOS=js GOARCH=wasm $(GO) vet ./wasm/ ./node/protocol/ ./node/inspect/
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$$($(GO) env GOROOT)/lib/wasm/go_js_wasm_exec" ./wasm/ ./node/protocol/ ./node/inspect/

# Builds only the browser decoder (make build includes it).
wasm:
	GOOS=js GOARCH=wasm $(GO) build -trimpath -o bin/decoder.wasm ./wasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" bin/wasm_exec.js

test: templ-check generate-check fmt-check vet unit fuzz wasm-test build

bench: secp256k1-deps
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# The demo keeps its folder (.demo/, git-ignored) with the chains, node
# A's captures and the logs when it stops, and carries on from it next
# time; make demo FRESH=1 deletes it first. Variables given to make reach
# the script: its ports and mining interval (DEMO_A_HTTP_PORT=9080,
# DEMO_MINE_INTERVAL=1, ...; the list is at the top of scripts/demo.sh).
demo: build tools
	./scripts/demo.sh

clean:
	rm -rf bin .tools
