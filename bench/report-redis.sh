#!/usr/bin/env bash
# bench/report-redis.sh — "The Redis store" section of bench/RESULTS.md,
# from bench/out/redis.txt (`make bench-redis`), bench/out/redis-rtt.txt
# (`make bench-redis-rtt`) and bench/out/redis-hotread.txt (`make
# bench-redis-hotread`), each when present. It replaces the section between
# its markers, or appends it, and leaves the rest of RESULTS.md as it is;
# report.sh calls it.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
out=bench/out
results=bench/RESULTS.md
[ -s "$out/redis.txt" ] || { echo "report-redis.sh: no $out/redis.txt (make bench-redis): section left as it is"; exit 0; }
benchstat() { go tool -modfile="$root/bench/tools/go.mod" benchstat "$@"; }
cmd_of() { sed -n 's/^# command: //p' "$1" | head -1; }
val_of() { sed -n "s/^$2: //p" "$1" | head -1; }
load_of() { sed -n "s/^# $2: .*load average: //p" "$1" | head -1; }
# runs FILE: where FILE's figures come from.
runs() {
	echo "From $1, commit $(val_of "$1" commit), $(val_of "$1" redis); load average"
	echo "$(load_of "$1" started) at start, $(load_of "$1" finished) at end."
}

section=$(mktemp)
trap 'rm -f "$section"' EXIT
{
	echo "<!-- redis:begin (bench/report-redis.sh) -->"
	echo "## The Redis store"
	echo
	echo "redisstore beside peers.RedisNaive, the client services write by hand"
	echo "(RPUSH, LTRIM and PEXPIRE as three commands, like LangChain; pipelined: the"
	echo "same in one MULTI/EXEC), on one redis-server on 127.0.0.1 that the benchmark"
	echo "starts, in the same processes. 64 goroutines (go-redis pool of 64) over"
	echo "10 000 conversations, each holding a full default window (20 messages of 64"
	echo "bytes) before timing. p50/p99: latency of one call; writes/op: round trips"
	echo "per call; resp-B/op: bytes Redis sent per read; client-cpu and server-cpu: CPU"
	echo "time per call of the benchmark process (getrusage) and of redis-server (INFO"
	echo "cpu). Issue 11's targets: Append ops/s at least 2x naive's and p99 at most"
	echo "naive's; a window read in one round trip (writes/op 1) with its bytes bounded"
	echo "by the window (resp-B/op); Redis memory per conversation (usage-B/conv:"
	echo "MEMORY USAGE of its keys; used-B/conv: used_memory grown per conversation)"
	echo "beside the payload (payload-B/conv). The machine has 2 cores shared with"
	echo "other work: the clients, redis-server (and the proxy below) compete for them."
	echo
	echo "### On loopback"
	echo
	runs "$out/redis.txt"
	echo
	echo '```'
	echo "\$ $(cmd_of "$out/redis.txt")"
	echo "\$ benchstat -col /backend -filter '.name:(RedisAppend OR RedisWindow)' bench/out/redis.txt"
	benchstat -col /backend -filter '.name:(RedisAppend OR RedisWindow)' "$out/redis.txt" 2>&1
	echo "\$ benchstat -col /backend -filter '.name:RedisMemory' bench/out/redis.txt"
	benchstat -col /backend -filter '.name:RedisMemory' "$out/redis.txt" 2>&1
	echo '```'
	if [ -s "$out/redis-rtt.txt" ]; then
		echo
		echo "### Through a proxy that adds a network's round trip"
		echo
		runs "$out/redis-rtt.txt"
		echo "The same benchmarks with every client connected through"
		echo "redistest.Proxy with WithDelay (half the round trip each way, in the"
		echo "benchmark process: its CPU counts in client-cpu), so that a round trip costs"
		echo "what it costs between a service and its Redis on a network (0.2 to 1 ms)"
		echo "instead of tens of microseconds. These are not loopback figures."
		echo
		echo '```'
		echo "\$ $(cmd_of "$out/redis-rtt.txt")"
		echo "\$ benchstat -col /backend -filter '.name:(RedisAppend OR RedisWindow)' bench/out/redis-rtt.txt"
		benchstat -col /backend -filter '.name:(RedisAppend OR RedisWindow)' "$out/redis-rtt.txt" 2>&1
		echo '```'
	fi
	if [ -s "$out/redis-hotread.txt" ]; then
		echo
		echo "### One hot conversation: read coalescing"
		echo
		runs "$out/redis-hotread.txt"
		echo "One conversation's window read by 64 goroutines of one process (the go-redis"
		echo "pool at its default size), with redisstore.WithReadCoalescing off and on;"
		echo "redis-reads/op: EXEC commands the server ran per read."
		echo
		echo '```'
		echo "\$ $(cmd_of "$out/redis-hotread.txt")"
		echo "\$ benchstat -col /coalesce bench/out/redis-hotread.txt"
		benchstat -col /coalesce "$out/redis-hotread.txt" 2>&1
		echo '```'
	fi
	echo "<!-- redis:end -->"
} >"$section"

if grep -q '^<!-- redis:begin' "$results"; then
	awk -v f="$section" '
		/^<!-- redis:begin/ { while ((getline line < f) > 0) print line; skip = 1; next }
		/^<!-- redis:end -->/ { skip = 0; next }
		!skip { print }' "$results" >"$results.tmp"
	mv "$results.tmp" "$results"
else
	{ echo; cat "$section"; } >>"$results"
fi
echo "report-redis.sh: wrote the Redis section of $results"
