# watchnode: a Bitcoin node you can watch work.
#
#   make run    build and run the node (mainnet; ARGS="-network=regtest ..." to change)
#   make test   install what the tests need, then run every suite
#   make demo   try it offline: a local btcd on regtest and our node connected to it

GO        ?= go
ARGS      ?=
FUZZTIME  ?= 10s
BIN       := bin/server

.PHONY: all build run test tools fmt-check vet unit fuzz bench demo clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/server

run: build
	./$(BIN) $(ARGS)

# Installs pinned btcd and btcctl into .tools/bin for the integration tests.
tools:
	./scripts/install-tools.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# CI=true makes every suite that needs btcd or the shared mainnet data fail
# rather than skip when they are missing.
unit: tools
	$(GO) test -race -count=1 -timeout 20m ./...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

test: fmt-check vet unit fuzz build

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

demo: build tools
	./scripts/demo.sh

clean:
	rm -rf bin .tools
