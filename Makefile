# chatring developer targets. `make test` is what CI and the README run.
GO ?= go

# The repository's Go modules: the library, and the ones kept separate so
# that the library's importers never download their dependencies.
MODULES = . tokenizer/tiktoken redisstore resilient resilient/redisfault bench/peers bench/tools promexport examples/chatservice adapters/openai adapters/anthropic adapters/langchaingo

.PHONY: test vet fmt-check stress cover fuzz-smoke

## test: gofmt and vet, then every test of every module under the race detector.
## The Redis tests (redisstore, bench/peers) start their own redis-server;
## without one on PATH they are skipped, and say so here, unless
## CHATRING_REQUIRE_REDIS=1 (CI) makes them fail.
test: fmt-check vet
	@set -e; for m in $(MODULES); do \
		echo "go test -race ./... ($$m)"; (cd $$m && $(GO) test -race ./...); \
	done
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || \
		echo "NOTE: redis-server or redis-cli not found: the Redis tests were skipped (install: apt-get install redis-server redis-tools)"

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	@set -e; for m in $(MODULES); do \
		echo "go vet ./... ($$m)"; (cd $$m && $(GO) vet ./...); \
	done

## fuzz-smoke: short runs of the fuzz targets beyond their seed corpora:
## validation (FuzzAppend, FuzzToolCalls), windows cut at random
## (FuzzWindow) and the token counter against its reference.
fuzz-smoke:
	$(GO) test -run '^$$' -fuzz '^FuzzAppend$$' -fuzztime $${FUZZTIME:-10s} .
	$(GO) test -run '^$$' -fuzz '^FuzzToolCalls$$' -fuzztime $${FUZZTIME:-10s} .
	$(GO) test -run '^$$' -fuzz '^FuzzWindow$$' -fuzztime $${FUZZTIME:-10s} ./storetest
	$(GO) test -run '^$$' -fuzz '^FuzzApproxTokenizer$$' -fuzztime $${FUZZTIME:-10s} .

## stress: long conformance and linearizability runs on 1, 2, 4 and 8 Ps.
stress:
	$(GO) test -race -count=3 -cpu 1,2,4,8 ./ringbuf/... ./lockfree/... ./sharded/... \
		-run . -ringtest.histories=2000 -ringtest.hammer=20000 -timeout 60m

## cover: statement coverage of the whole module, as cover.html.
cover:
	$(GO) test -coverprofile=cover.out -coverpkg=./... ./...
	$(GO) tool cover -func=cover.out | tail -1
	$(GO) tool cover -html=cover.out -o cover.html

# Benchmark targets live with the harness.
-include bench/bench.mk
