#!/usr/bin/env bash
# bench/redis.sh OUTFILE — the Redis store's benchmarks (bench/peers:
# BenchmarkRedisAppend, BenchmarkRedisWindow, BenchmarkRedisMemory), with
# redisstore and the naive clients against one redis-server that each test
# binary starts itself. `make bench-redis` runs it.
#
# The rounds are separate processes, each running every contender back to
# back, so that a slow spell of a shared machine hits all of them alike
# (go test -count would run one contender's samples in a row). Each process
# fills 10 000 full windows per contender before timing (about 20 s on 2
# cores). Needs redis-server and redis-cli on PATH.
#
# Settings (environment):
#   ROUNDS     processes, samples per contender (default 10)
#   BENCHTIME  -benchtime of Append and Window (default 20000x)
#   RTT        a round-trip time (e.g. 500us) added by a delaying TCP proxy
#              on loopback between the clients and the server, to measure
#              what a network does (default: none; the memory benchmark is
#              then skipped, as a proxy does not change what Redis stores)
set -euo pipefail
out=${1:?usage: redis.sh OUTFILE}
ROUNDS=${ROUNDS:-10}
BENCHTIME=${BENCHTIME:-20000x}
RTT=${RTT:-}
rtt=()
[ -n "$RTT" ] && rtt=(-redis.rtt "$RTT")
root=$(git rev-parse --show-toplevel)
cd "$root"
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
command -v redis-server >/dev/null || { echo "redis.sh: redis-server not found (apt-get install redis-server redis-tools)" >&2; exit 2; }
bin=$root/bench/out/peers-redis.test
(cd bench/peers && go test -c -o "$bin" .)
commit=$(git rev-parse --short=12 HEAD)
git diff --quiet HEAD -- . 2>/dev/null || commit="$commit+dirty"
cmd="peers.test -test.run '^\$' -test.bench 'Redis(Append|Window)' -test.benchtime $BENCHTIME ${rtt[*]}, $ROUNDS processes"
[ -z "$RTT" ] && cmd="$cmd; then -test.bench RedisMemory -test.benchtime 1x -test.count 3"
echo "redis.sh: $cmd > $out"
{
	echo "commit: $commit"
	echo "goversion: $(go env GOVERSION)"
	echo "nproc: $(nproc)"
	echo "redis: $(redis-server --version)"
	echo "# command: (cd bench/peers && $cmd)"
	echo "# started: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	for i in $(seq 1 "$ROUNDS"); do
		echo "redis.sh: round $i/$ROUNDS" >&2
		(cd bench/peers && "$bin" -test.run '^$' -test.bench 'Redis(Append|Window)' -test.benchtime "$BENCHTIME" "${rtt[@]}") |
			grep -E '^(Benchmark|goos|goarch|pkg|cpu)' | tee /dev/stderr
	done
	if [ -z "$RTT" ]; then
		(cd bench/peers && "$bin" -test.run '^$' -test.bench 'RedisMemory' -test.benchtime 1x -test.count 3) |
			grep -E '^Benchmark' | tee /dev/stderr
	fi
	echo "# finished: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out.tmp" || { cat "$out.tmp" >&2; echo "redis.sh: benchmarks failed" >&2; exit 1; }
mv "$out.tmp" "$out"
grep -c '^Benchmark' "$out" | sed "s#^#redis.sh: #; s#\$# results in $out#"
