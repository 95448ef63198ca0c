# chatring developer targets. `make test` is what CI and the README run.
GO ?= go

# The repository's Go modules: the library, and the ones kept separate so
# that the library's importers never download their dependencies. This is
# the only list of them: tidy-check, vet, staticcheck and the tests run on
# every module named here, so a new module is one more word on this line.
MODULES = . tokenizer/tiktoken redisstore resilient resilient/redisfault cmd/stress bench/peers bench/tools promexport examples/chatservice adapters/openai adapters/anthropic adapters/langchaingo

# The nested modules that are released (tagged <dir>/vX.Y.Z with the core's
# vX.Y.Z): every module above but the core itself, the benchmark modules,
# the examples, resilient/redisfault (fault tests, nothing to import) and
# cmd/stress (a developer's load tester, run from a clone).
PUBLISHED = $(filter-out . bench/% examples/% resilient/redisfault cmd/stress,$(MODULES))

# staticcheck, pinned in bench/tools/go.mod beside benchstat; its settings
# are in staticcheck.conf at the repository root, which governs every module.
STATICCHECK = $(GO) tool -modfile=$(CURDIR)/bench/tools/go.mod staticcheck

# each-module runs the command $(1) in every module, printing it (or the
# shorter label $(2)) first; the first failure stops the loop.
each-module = set -e; for m in $(MODULES); do \
		echo "$(or $(2),$(1)) ($$m)"; (cd $$m && $(1)); \
	done

.PHONY: test allocs purego vet fmt-check tidy-check mod-check staticcheck stress cover fuzz-smoke release-require

## test: gofmt, tidy and publishable modules, vet and staticcheck, the
## allocation tests (allocs), the root package without assembly (purego),
## then every test of every module under the
## race detector.
## The Redis tests (redisstore, resilient/redisfault, cmd/stress,
## bench/peers) start their own redis-server;
## without one on PATH they are skipped, and say so here, unless
## CHATRING_REQUIRE_REDIS=1 (CI) makes them fail.
test: fmt-check tidy-check mod-check vet staticcheck allocs purego
	@$(call each-module,$(GO) test -race ./...)
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || \
		echo "NOTE: redis-server or redis-cli not found: the Redis tests were skipped (install: apt-get install redis-server redis-tools)"

## allocs: the tests of allocation counts, run without the race detector:
## under it (make test's run) they skip, as its instrumentation allocates.
allocs:
	$(GO) test -count=1 -run '^Test(HotPath|Stats)Allocations$$|^TestSnapshotGrowsOnce$$' . ./ringbuf

## purego: vet and the tests of the root package with the purego build
## tag, which selects the Go kernel of the block pass (blockMasksGo) where
## amd64 builds use the assembly one (scanblocks_amd64.s), so that the
## fallback of every other platform stays tested here too, History.Append's
## zero allocations included. The tag also selects hash/maphash's portable
## code, which allocates, so the tests of MemoryStore's allocation counts
## (run by allocs, without the tag) are skipped here.
purego:
	$(GO) vet -tags purego .
	$(GO) test -tags purego -count=1 -skip '^TestHotPathAllocations$$/^store$$|^TestMemoryStoreAllocatesAsHistory$$' .

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## tidy-check: every go.mod and go.sum is what `go mod tidy` would write, so a
## missing or a stray requirement fails here, not in a user's build. It
## prints the diff and changes nothing; run `go mod tidy` in the module to fix.
tidy-check:
	@$(call each-module,$(GO) mod tidy -diff)

## mod-check: every module can be published and fetched from outside the
## repository: no file the go command refuses in a module zip (a fuzz input
## named "nul" was one), no requirement at v0.0.0 that only a replace
## directive resolves (bench/tools/cmd/modcheck).
mod-check:
	@echo "modcheck $(MODULES)"
	@bin=$$(mktemp -d) && trap 'rm -rf "$$bin"' EXIT && \
	$(GO) build -C bench/tools -o "$$bin/modcheck" ./cmd/modcheck && "$$bin/modcheck" $(MODULES)

vet:
	@$(call each-module,$(GO) vet ./...)

## staticcheck: staticcheck on every package of every module, tests included.
staticcheck:
	@$(call each-module,$(STATICCHECK) ./...,staticcheck ./...)

## release-require: make release-require VERSION=vX.Y.Z makes every
## published nested module require the core at VERSION, the release about to
## be tagged (CONTRIBUTING.md, Releasing), and prints the tags to create.
release-require:
	@case "$(VERSION)" in v[0-9]*.[0-9]*.[0-9]*) ;; \
	*) echo "usage: make release-require VERSION=vX.Y.Z"; exit 2 ;; esac
	@set -e; for m in $(PUBLISHED); do \
		echo "$$m: require github.com/chatring/chatring $(VERSION)"; \
		(cd $$m && $(GO) mod edit -require=github.com/chatring/chatring@$(VERSION)); \
	done
	@echo "tags: $(VERSION) $(addsuffix /$(VERSION),$(PUBLISHED))"

## fuzz-smoke: short runs of the fuzz targets beyond their seed corpora:
## validation (FuzzAppend, FuzzToolCalls), windows cut at random
## (FuzzWindow), the token counter against its reference, and Append's
## fused validation and count against the two passes it replaced
## (FuzzScanText, FuzzValidateCounted), its block pass over long ASCII
## text against the same references (FuzzScanBlocks, with the SSE2 kernel
## and with the Go kernel of -tags purego), and the block pass's
## classification kernels against a byte-by-byte reference (FuzzBlockMasks).
fuzz-smoke:
	$(GO) test -run '^$$' -fuzz '^FuzzAppend$$' -fuzztime $${FUZZTIME:-10s} .
	$(GO) test -run '^$$' -fuzz '^FuzzToolCalls$$' -fuzztime $${FUZZTIME:-10s} .
	$(GO) test -run '^$$' -fuzz '^FuzzWindow$$' -fuzztime $${FUZZTIME:-10s} ./storetest
	$(GO) test -run '^$$' -fuzz '^FuzzApproxTokenizer$$' -fuzztime $${FUZZTIME:-10s} .
	$(GO) test -run '^$$' -fuzz '^FuzzScanText$$' -fuzztime $${FUZZTIME:-10s} .
	$(GO) test -run '^$$' -fuzz '^FuzzValidateCounted$$' -fuzztime $${FUZZTIME:-10s} .
	$(GO) test -run '^$$' -fuzz '^FuzzScanBlocks$$' -fuzztime $${FUZZTIME:-10s} .
	$(GO) test -tags purego -run '^$$' -fuzz '^FuzzScanBlocks$$' -fuzztime $${FUZZTIME:-10s} .
	$(GO) test -run '^$$' -fuzz '^FuzzBlockMasks$$' -fuzztime $${FUZZTIME:-10s} .

## stress: long conformance and linearizability runs on 1, 2, 4 and 8 Ps.
## The hammer's 20000 pushes per writer take over 2 minutes at -cpu 1 on a
## busy 2-core machine, so the per-case watchdog is raised with them.
stress:
	$(GO) test -race -count=3 -cpu 1,2,4,8 ./ringbuf/... ./lockfree/... ./sharded/... \
		-run . -ringtest.histories=2000 -ringtest.hammer=20000 -ringtest.timeout=20m -timeout 60m

## cover: statement coverage of the whole module, as cover.html.
cover:
	$(GO) test -coverprofile=cover.out -coverpkg=./... ./...
	$(GO) tool cover -func=cover.out | tail -1
	$(GO) tool cover -html=cover.out -o cover.html

# Benchmark targets live with the harness.
-include bench/bench.mk
