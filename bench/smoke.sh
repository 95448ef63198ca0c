#!/usr/bin/env bash
# bench/smoke.sh — `make bench-smoke`, for CI: every benchmark of both
# modules runs once (-benchtime 1x, -short: the store benchmarks leave out a
# million conversations; they build, run and do not panic, with
# the race detector off as benchmarks are run), both modules are vetted, the
# harness's own tests pass, and every benchmark name pivots in benchstat on
# /backend with its keys in order.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
mkdir -p bench/out
out=$root/bench/out/smoke.txt
echo "smoke: go test -short -run '^\$' -bench . -benchtime 1x ./bench/..."
go test -short -run '^$' -bench . -benchtime 1x ./bench/... >"$out" || { cat "$out"; exit 1; }
echo "smoke: bench/peers: go vet ./... && go test -short -bench . -benchtime 1x ./..."
(cd bench/peers && go vet ./... && go test -short -bench . -benchtime 1x ./...) >>"$out" || { cat "$out"; exit 1; }
echo "smoke: $(grep -c '^Benchmark' "$out") benchmarks ran"
echo "smoke: bench/tools: go vet ./... && go test ./..."
(cd bench/tools && go vet ./... && go test ./...)
(cd bench/tools && go run ./cmd/benchreport check "$out")
