# Benchmark targets, included by the top-level Makefile. Paths are relative
# to the repository root. The scripts they call own the defaults; every
# setting below can be given on the command line (make bench COUNT=20).
#
#   make bench            chatring's benchmarks, -count 10 -cpu 1,2,4,8
#                         -benchtime 200ms, to bench/out/bench.txt
#   make bench-peers      the same workloads on the backends beside the
#                         peers, to bench/out/peers.txt
#   make bench-redis      the Redis store beside the naive Redis clients,
#                         10 interleaved processes, to bench/out/redis.txt
#                         (needs redis-server; see bench/redis.sh)
#   make bench-redis-rtt  the same through a proxy adding a 500 us round
#                         trip (RTT=...), to bench/out/redis-rtt.txt
#   make bench-redis-hotread  one conversation read by 64 goroutines, read
#                         coalescing off and on, to bench/out/redis-hotread.txt
#   make benchstat        backends side by side (benchstat -col /backend)
#   make bench-store      the store workloads (StoreAppend, StoreChatMix,
#                         StoreWindow: -count 10 -cpu 1,2 -benchtime 100ms,
#                         -short) to bench/out/store.txt, the million-
#                         conversation stores (-count 3 -cpu 2, each build
#                         takes seconds) to bench/out/store-1m.txt, and StoreMemory
#                         (-benchtime 1x) to bench/out/storemem.txt
#   make bench-report     bench/RESULTS.md and bench/throughput.svg from
#                         bench/out (runs bench and bench-peers if missing)
#   make bench-smoke      every benchmark of both modules once (-benchtime 1x),
#                         the harness's own tests, and the name check (CI)
#   make bench-regress BASE=<ref> [THRESHOLD=10] [ALPHA=0.01] [ROUNDS=10]
#                         [BENCHTIME=100ms] [BENCH=.] [CPU=...] [ALLOW_UNMATCHED=1]
#                         strict gate: BASE against the work tree,
#                         interleaved; fails on a significant slowdown
#                         of more than THRESHOLD percent, and on a
#                         benchmark that exists on one side only (renamed,
#                         added, removed) unless ALLOW_UNMATCHED=1
#   make bench-regress-ci the CI gate: HEAD~1 against the work tree,
#                         THRESHOLD=50 ALPHA=0.01 BENCHTIME=20ms CPU=1,2
#                         (about 1.5 minutes on 2 cores); skips with a
#                         message when HEAD~1 is missing, has no harness or
#                         does not build. It cannot flake on a noisy machine
#                         the way a 10% gate would: noise must both pass
#                         benchstat's U test at alpha 0.01 over 10
#                         interleaved rounds and move a median by half; a
#                         2x slower Push still fails it. Note it compares
#                         each side's own harness: a commit that makes a
#                         workload heavier should rename it. Benchmarks on
#                         one side only are listed, not failed.
#
# Settings: BENCH (go test -bench pattern), COUNT, CPU (-cpu list),
# BENCHTIME; see bench/run.sh and bench/regress.sh.

BENCHSTAT = $(GO) tool -modfile=bench/tools/go.mod benchstat
BENCH_UNITS ?= -.unit:ops/s AND -.name:Floor

.PHONY: bench bench-peers bench-redis bench-redis-rtt bench-redis-hotread bench-store benchstat bench-report bench-smoke bench-regress bench-regress-ci

# The workloads of make bench: every benchmark function of package ./bench
# but the store's, which have their own target (their million-conversation
# stores take seconds each to build).
BENCH_RING = ^Benchmark(Append|WriteHeavy|ChatMix|ReadHeavy|Snapshot|Seed|Window|Floor)$$

# The workloads of make bench-peers: every benchmark function of bench/peers
# but the Redis ones, which have their own target.
BENCH_PEERS = ^Benchmark(Append|WriteHeavy|ChatMix|ReadHeavy|Snapshot|Seed)$$

bench:
	BENCH=$${BENCH:-'$(BENCH_RING)'} bash bench/run.sh root bench/out/bench.txt

bench-store:
	SHORT=1 BENCH='^BenchmarkStore(Append|ChatMix|Window)$$' COUNT=$${COUNT:-10} CPU=$${CPU:-1,2} \
		BENCHTIME=$${BENCHTIME:-100ms} bash bench/run.sh root bench/out/store.txt
	BENCH='^BenchmarkStore(Append|ChatMix|Window)$$/backend=/level=store/cap=20/convs=1000000/' COUNT=$${COUNT_1M:-3} \
		CPU=$${CPU_1M:-2} BENCHTIME=$${BENCHTIME:-100ms} bash bench/run.sh root bench/out/store-1m.txt
	BENCH='^BenchmarkStoreMemory$$' COUNT=1 CPU=$${CPU_MEM:-2} BENCHTIME=1x \
		bash bench/run.sh root bench/out/storemem.txt

bench-peers:
	BENCH=$${BENCH:-'$(BENCH_PEERS)'} bash bench/run.sh peers bench/out/peers.txt

bench-redis:
	bash bench/redis.sh bench/out/redis.txt

bench-redis-rtt:
	RTT=$${RTT:-500us} bash bench/redis.sh bench/out/redis-rtt.txt

bench-redis-hotread:
	bash bench/redis-hotread.sh bench/out/redis-hotread.txt

benchstat:
	@test -s bench/out/bench.txt || { echo "no bench/out/bench.txt: run make bench first"; exit 1; }
	$(BENCHSTAT) -col /backend -filter '$(BENCH_UNITS)' bench/out/bench.txt
	@if [ -s bench/out/peers.txt ]; then \
		echo; echo "# peers (bench/out/peers.txt)"; \
		$(BENCHSTAT) -col /backend -filter '$(BENCH_UNITS)' bench/out/peers.txt; \
	fi

bench-report:
	bash bench/report.sh

bench-smoke:
	bash bench/smoke.sh

bench-regress:
	bash bench/regress.sh

bench-regress-ci:
	MODE=ci BASE=$${BASE:-HEAD~1} THRESHOLD=$${THRESHOLD:-50} ALPHA=$${ALPHA:-0.01} \
		BENCHTIME=$${BENCHTIME:-20ms} CPU=$${CPU:-1,2} bash bench/regress.sh
