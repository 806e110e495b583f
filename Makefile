# ireports — see README.md. `make demo` runs the main job; `make test` runs every test.
GO       ?= go
BIN      := bin
CACHE    := .cache
PKGS     := ./...
# Benchmark corpus size and seed (make bench BENCH_SIZE=4GiB).
BENCH_SIZE ?= 1GiB
BENCH_SEED ?= 1
DEMO_SIZE  ?= 200MiB

.PHONY: all build deps test test-short bench demo lint tidy-check fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# What the tests and the demo need beyond Go, installed where missing: PostgreSQL and Chromium
# (Debian packages), MinIO (go install, cached in .cache/tools), plotly.js (npm, node_modules).
deps:
	./scripts/deps.sh

# Every test, as CI runs it (.ci/run). Tests that need ../shared/data/311 skip where it is absent.
test: build deps
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 15m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Throughput and memory: the whole normalize job over a generated corpus, then the Go benchmarks
# of the hot paths. Numbers are machine- and load-dependent: compare ratios from one run.
bench: build
	BENCH_SIZE=$(BENCH_SIZE) BENCH_SEED=$(BENCH_SEED) ./scripts/bench.sh

# The embedded default: a generated multi-city corpus, normalized on a local cluster of 2
# workers, published to Postgres (a throwaway one unless DATABASE_URL is set), shown by bin/viz.
# Ctrl-C stops all of it and is no error. `exec`: the recipe's /bin/sh would die of the
# Ctrl-C at once, and make would report that as "Interrupt", while demo.sh cleans up.
demo: build
	./scripts/deps.sh postgres npm
	DEMO_SIZE=$(DEMO_SIZE) DEMO_BIN=$(BIN) exec ./scripts/demo.sh

lint: tidy-check
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@if command -v staticcheck >/dev/null; then staticcheck $(PKGS); else echo "staticcheck not installed; skipped"; fi
	@if command -v terraform >/dev/null; then TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive terraform; else echo "terraform not installed; terraform fmt skipped"; fi
	$(GO) test -count=1 ./terraform   # every .tf parsed with hcl/v2: references, variables, flags of the real binaries

tidy-check:
	@cp go.mod $(CACHE)/go.mod.bak 2>/dev/null || (mkdir -p $(CACHE) && cp go.mod $(CACHE)/go.mod.bak)
	@cp go.sum $(CACHE)/go.sum.bak
	@$(GO) mod tidy
	@if ! cmp -s go.mod $(CACHE)/go.mod.bak || ! cmp -s go.sum $(CACHE)/go.sum.bak; then \
		cp $(CACHE)/go.mod.bak go.mod; cp $(CACHE)/go.sum.bak go.sum; \
		echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; fi

# Longer fuzzing of the split reader and the job-file parser (not part of make test).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzSplits -fuzztime 60s ./csvsplit
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./jobs

clean:
	rm -rf $(BIN) out
