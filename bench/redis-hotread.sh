#!/usr/bin/env bash
# bench/redis-hotread.sh OUTFILE — redisstore's BenchmarkHotRead: one
# conversation's window read by 64 goroutines of one process, with
# WithReadCoalescing off and on, against a redis-server on 127.0.0.1 that
# the test binary starts. `make bench-redis-hotread` runs it.
#
# Settings (environment): COUNT (-count, default 10), BENCHTIME (default
# 5000x).
set -euo pipefail
out=${1:?usage: redis-hotread.sh OUTFILE}
COUNT=${COUNT:-10}
BENCHTIME=${BENCHTIME:-5000x}
root=$(git rev-parse --show-toplevel)
cd "$root"
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
command -v redis-server >/dev/null || { echo "redis-hotread.sh: redis-server not found (apt-get install redis-server redis-tools)" >&2; exit 2; }
commit=$(git rev-parse --short=12 HEAD)
git diff --quiet HEAD -- . 2>/dev/null || commit="$commit+dirty"
cmd="go test -run '^\$' -bench HotRead -benchtime $BENCHTIME -count $COUNT ."
{
	echo "commit: $commit"
	echo "redis: $(redis-server --version)"
	echo "# command: (cd redisstore && $cmd)"
	echo "# started: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	(cd redisstore && go test -run '^$' -bench HotRead -benchtime "$BENCHTIME" -count "$COUNT" .) |
		grep -E '^(Benchmark|goos|goarch|pkg|cpu)' | tee /dev/stderr
	echo "# finished: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out.tmp" || { cat "$out.tmp" >&2; echo "redis-hotread.sh: benchmarks failed" >&2; exit 1; }
mv "$out.tmp" "$out"
grep -c '^Benchmark' "$out" | sed "s#^#redis-hotread.sh: #; s#\$# results in $out#"
