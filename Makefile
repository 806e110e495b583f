# ireports — see README.md. `make demo` runs the main job; `make test` runs every test.
GO       ?= go
BIN      := bin
CACHE    := .cache
PKGS     := ./...
# Benchmark corpus size and seed (make bench BENCH_SIZE=4GiB).
BENCH_SIZE ?= 1GiB
BENCH_SEED ?= 1
DEMO_SIZE  ?= 200MiB
# The version stamped into every binary (internal/version) and naming the release tarballs.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -X github.com/ireports/ireports/internal/version.stamped=$(VERSION)
# make release: where the tarballs go, and for which architectures (linux only).
DIST     ?= dist
RELEASE_ARCHES ?= amd64 arm64
PLOTLY_NPM   := node_modules/plotly.js-dist-min/plotly.min.js
PLOTLY_EMBED := viz/plotly/plotly.min.js

.PHONY: all build plotly release deps test test-short bench bench-duckdb bench-scale demo lint tidy-check fuzz clean

all: build

# bin/coordinator, bin/worker, bin/viz: self-contained (static; viz embeds plotly.js) and
# stamped. Compiled as make release compiles (CGO_ENABLED=0, -trimpath), so that a release
# after a build (the release test in make test) only links.
build: plotly
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

# plotly.js from its npm package into the viz package, which compiles it into the binary.
plotly:
	./scripts/deps.sh npm
	@cmp -s $(PLOTLY_NPM) $(PLOTLY_EMBED) || cp $(PLOTLY_NPM) $(PLOTLY_EMBED)

# The tarballs terraform deploys: dist/ireports-$(VERSION)-linux-{amd64,arm64}.tar.gz and
# dist/SHA256SUMS (scripts/release.sh says what they hold).
release: plotly
	VERSION=$(VERSION) DIST=$(DIST) GO=$(GO) ./scripts/release.sh $(RELEASE_ARCHES)

# What the tests and the demo need beyond Go, installed where missing: PostgreSQL and Chromium
# (Debian packages), MinIO (go install, cached in .cache/tools), plotly.js (npm, node_modules;
# make build embeds it in bin/viz).
deps:
	./scripts/deps.sh

# Every test, as CI runs it (.ci/run). Tests that need ../shared/data/311 skip where it is absent.
test: build deps
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 25m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Throughput and memory: the whole normalize job over a generated corpus, then the Go benchmarks
# of the hot paths. Numbers are machine- and load-dependent: compare ratios from one run.
bench: build
	BENCH_SIZE=$(BENCH_SIZE) BENCH_SEED=$(BENCH_SEED) ./scripts/bench.sh

# The normalize job against DuckDB on the same corpus (make bench's), BENCH_RUNS runs of each,
# alternated: wall time, CPU time, peak RSS and the ratios ours/DuckDB's. The DuckDB side is
# scripts/duckdb/normalize.sql run by scripts/duckdb (cgo, duckdb-go: built here, never part
# of a release binary). BENCH_REPORT=file also writes the report there.
BENCH_RUNS   ?= 5
BENCH_REPORT ?=
bench-duckdb: build
	CGO_ENABLED=1 $(GO) build -o $(BIN)/bench/duckdb ./scripts/duckdb
	$(GO) run ./scripts/benchrun duckdb --size $(BENCH_SIZE) --seed $(BENCH_SEED) --runs $(BENCH_RUNS) \
		--coordinator $(BIN)/coordinator --duckdb $(BIN)/bench/duckdb --report "$(BENCH_REPORT)"

# The seed's scale (not part of make test; tens of minutes on an idle 2-core machine, hours
# on a loaded one: the 20 GB corpus alone needs ~1,000 CPU-seconds of the job): ten-city
# corpora of SCALE_SIZES with NYC SCALE_NYC_SHARE of the bytes, each generated in .cache, run
# SCALE_RUNS times with 2 workers and deleted (SCALE_KEEP=1 keeps them). Results accumulate in
# artifacts/bench/scale.json (a size run again replaces its entry); the report, with the cost
# per GB and whether it stays flat within 15 %, is printed and written to artifacts/bench/scale.txt.
SCALE_SIZES     ?= 1GB,4GB,20GB
SCALE_NYC_SHARE ?= 0.6
SCALE_KEEP      ?= 0
# 1: drop the kernel's page cache before each size's run (needs root), so every size reads its
# corpus from disk; 0: as the cache is (a smaller corpus read just before runs warm).
SCALE_COLD      ?= 1
# Runs of each size (in rounds of every size); the report takes each size's median run.
SCALE_RUNS      ?= 3
# 1: each run also publishes its summaries, into a database created afresh for it on the
# server of DATABASE_URL, else on the throwaway server of make demo (scripts/pg-local.sh,
# started if need be and left running); the publish's time is reported apart from the job's,
# and the results go to artifacts/bench/scale-publish.json and .txt instead.
SCALE_PUBLISH   ?= 0
bench-scale: build
	$(if $(filter 1,$(SCALE_PUBLISH)),[ -n "$$DATABASE_URL" ] || ./scripts/deps.sh postgres)
	db=""; if [ "$(SCALE_PUBLISH)" = 1 ]; then db=$${DATABASE_URL:-$$(./scripts/pg-local.sh start)} || exit 1; fi; \
	$(GO) run ./scripts/benchrun scale --sizes $(SCALE_SIZES) --seed $(BENCH_SEED) --nyc-share $(SCALE_NYC_SHARE) \
		--keep=$(if $(filter 1,$(SCALE_KEEP)),true,false) --cold=$(if $(filter 1,$(SCALE_COLD)),true,false) --runs $(SCALE_RUNS) --coordinator $(BIN)/coordinator \
		--db "$$db" $(if $(filter 1,$(SCALE_PUBLISH)),--results artifacts/bench/scale-publish.json --report artifacts/bench/scale-publish.txt)

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
	rm -rf $(BIN) out $(DIST) $(PLOTLY_EMBED)
