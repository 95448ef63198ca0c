// Package bench is chatring's benchmark harness. It holds no library code:
// its *_bench_test.go files run the workloads of bench/internal/workload on
// chatring's three backends (package ringbuf's mutex ring, lockfree, sharded)
// and on the domain layer, package chatring. BenchmarkFloor times what the
// machine and the Go runtime charge before any ring code runs (a clock read,
// a contended atomic add, a lock-free push's allocation, a generic call
// through an interface), the costs that bound some of issue 6's targets.
//
// The peers — a hand-written mutex-guarded slice ring, langchaingo's
// ConversationWindowBuffer behind a mutex and go-diodes' ManyToOne — run the
// same workloads from their own module, bench/peers, so that importers of
// chatring never download them.
//
// Benchmark names are key=value sub-benchmarks in a fixed order (backend,
// level, cap, goroutines) so that benchstat pivots them:
//
//	go test -run '^$' -bench . -count 10 -cpu 1,2,4,8 ./bench > new.txt
//	go tool -modfile=bench/tools/go.mod benchstat -col /backend new.txt
//
// The make targets in bench/bench.mk (bench, benchstat, bench-peers,
// bench-report, bench-smoke, bench-regress, bench-regress-ci) wrap these
// commands; bench/RESULTS.md says how each was run and what it measured.
package bench
