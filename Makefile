# Coffer. `make run` serves on the embedded default; `make test` runs everything.
GO        ?= go
BIN       := bin/coffer
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# How long each fuzz target runs in `make test` (longer: make fuzz FUZZTIME=5m).
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# fail a clean run with "context deadline exceeded" (golang/go#75804).
FUZZTIME  ?= 3000x

.PHONY: all build run test vet lint unit fuzz bench loadtest soak vectors clean web webtest webdeps webe2e versitygw unit-postgres

all: build

build:
	$(GO) build -o $(BIN) ./cmd/coffer

# `make run` builds the web client first, so that the binary embeds it.
run: web
	$(GO) build -o $(BIN) ./cmd/coffer
	./$(BIN) serve

test: vet lint web webtest versitygw unit unit-postgres webe2e fuzz

# The S3 server the storage tests run against (internal/blob/s3/s3test
# finds it in PATH or in Go's bin folder). Installed once, from the Go
# module proxy.
VERSITYGW := github.com/versity/versitygw/cmd/versitygw@v1.8.0
versitygw:
	@command -v versitygw >/dev/null || test -x "$$($(GO) env GOPATH)/bin/versitygw" || $(GO) install $(VERSITYGW)

# The browser client (web/: the public link page), built by Vite into
# internal/webui/dist, which the binary embeds. Without it, `go build`
# still works and /s/ links answer "the web client is not built".
web: webdeps
	cd web && npm run build

# The browser client's unit tests (node): its crypto against the Go
# vectors in testdata/, and the page's helpers.
webtest: webdeps
	cd web && npm test

# The browser suite: a real `coffer serve` (built with the web client
# embedded), the CLI for the owner, and Debian's Chromium (/usr/bin/chromium,
# or $$CHROMIUM_PATH) driven by playwright-core for the recipient. It fails,
# never skips, when Chromium is missing. Screenshots of every state land in
# web/e2e/screenshots/.
webe2e: web build
	cd web && COFFER_BIN=../$(BIN) npm run e2e

# npm ci runs only when web/node_modules is missing (CI runs it anyway).
webdeps:
	@test -d web/node_modules || (cd web && npm ci --no-audit --no-fund)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 ./...

# The server's, the client's and the CLI's suites again, on PostgreSQL
# (127.0.0.1:5432, or COFFER_TEST_POSTGRES): every test server gets a fresh
# schema. The metadata store's own suite runs on both engines in unit.
unit-postgres:
	COFFER_TEST_DB=postgres $(GO) test -count=1 ./internal/server/... ./internal/client/... ./internal/foldersync/... ./cmd/coffer/...

# A short run of every fuzz target (go test allows one target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5x >/tmp/coffer-fuzz.log 2>&1 || { cat /tmp/coffer-fuzz.log; exit 1; }; \
	  done; \
	done

# Go micro-benchmarks, then the end-to-end drive benchmark (cmd/coffer-bench:
# real server and CLI on loopback, 1 GiB and 10,000 small files by default;
# e.g. make bench BENCHARGS='-size 256MiB -files 2000').
BENCHARGS ?=
# Last, the browser benchmark (web/e2e/bench.ts): a 256 MiB file through a
# public link in Chromium, and the same with `coffer get URL`.
bench: web build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./cmd/coffer-bench $(BENCHARGS)
	cd web && COFFER_BIN=../$(BIN) npm run bench

# The load test of issue 7 (cmd/coffer-load): 200 simulated clients on 20
# accounts, each pausing 1 s on average between operations, against two
# `coffer serve` instances sharing a fresh PostgreSQL database (created and
# dropped by the tool) and one block folder, on loopback; 10 s of warm-up,
# 60 s measured, then a check that no acknowledged upload was lost. Not
# part of `make test`. An empty LOADTEST_DB means SQLite (one file shared
# by the instances), e.g. make loadtest LOADTEST_DB= LOADTEST_ARGS='-json';
# LOADTEST_ARGS='-think 0' measures saturation.
LOADTEST_DB        ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
LOADTEST_INSTANCES ?= 2
LOADTEST_CLIENTS   ?= 200
LOADTEST_DURATION  ?= 60s
LOADTEST_ARGS      ?=
loadtest: build
	$(GO) run ./cmd/coffer-load -coffer $(BIN) -db '$(LOADTEST_DB)' -instances $(LOADTEST_INSTANCES) \
	  -clients $(LOADTEST_CLIENTS) -duration $(LOADTEST_DURATION) $(LOADTEST_ARGS)

# soak explores the sync engine with new random seeds (make test runs a
# fixed set); a failure prints the seed to replay with COFFER_SYNC_SEED.
SOAK_RUNS  ?= 50
SOAK_STEPS ?= 60
soak:
	COFFER_SYNC_RUNS=$(SOAK_RUNS) COFFER_SYNC_STEPS=$(SOAK_STEPS) $(GO) test ./internal/foldersync -run TestRandomOperations -count=1 -timeout 60m

vectors:
	$(GO) run ./cmd/vectors -out testdata/vectors
	$(GO) test ./internal/srp -run TestVectors -update

clean:
	rm -rf bin
