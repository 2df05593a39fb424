# wssbench: make run (the default benchmark), make test (all tests), make bench.
GO      ?= go
BIN     := bin/wssbench
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/wssbench/wssbench/cmd/wssbench/cli.Version=$(VERSION) \
           -X github.com/wssbench/wssbench/cmd/wssbench/cli.Commit=$(COMMIT)
# Extra flags for make run, for example: make run ARGS="--conns 5000 --msg-rate 2"
ARGS    ?=

.PHONY: build run test bench vet clean

## build: bin/wssbench
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/wssbench

## run: the default benchmark against the built-in target on loopback; JSON report in out/
run: build
	@mkdir -p out
	./$(BIN) run --out out/default.json $(ARGS)

## test: gofmt and vet checks, then every test with the race detector
test: vet
	$(GO) test -race -count=1 -timeout 12m ./...
	cd deploy/kubernetes && $(GO) test -race -count=1 ./...

## bench: testing.B benchmarks with allocations (framing, histograms, handshakes)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

vet:
	$(GO) vet ./...
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path './out/*'))"; \
	  if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

clean:
	rm -rf bin out
