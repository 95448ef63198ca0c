#!/usr/bin/env bash
# bench/run.sh MODULE OUTFILE — runs the benchmarks of MODULE (root: package
# ./bench, chatring's backends and domain layer; peers: the bench/peers
# module, chatring's backends beside the peers) and writes go test's output
# to OUTFILE, prefixed with configuration lines (commit, go version, nproc)
# that benchstat carries along. Used by `make bench` and `make bench-peers`.
#
# Settings (environment; make passes them on):
#   BENCH      go test -bench pattern (default .)
#   COUNT      runs of every benchmark (default 10: benchstat wants >= 10)
#   CPU        -cpu list: GOMAXPROCS, and so goroutines (default 1,2,4,8)
#   BENCHTIME  -benchtime of every run (default 200ms)
#   SHORT      1 to run with -short (the store benchmarks then leave out
#              their million-conversation stores)
set -euo pipefail
module=${1:?usage: run.sh root|peers OUTFILE}
out=${2:?usage: run.sh root|peers OUTFILE}
BENCH=${BENCH:-.}
COUNT=${COUNT:-10}
CPU=${CPU:-1,2,4,8}
BENCHTIME=${BENCHTIME:-200ms}
short=""
[ "${SHORT:-}" = 1 ] && short=-short

root=$(git rev-parse --show-toplevel)
cd "$root"
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
case "$module" in
root) dir=. pkg=./bench ;;
peers) dir=bench/peers pkg=. ;;
*) echo "run.sh: unknown module $module (root or peers)" >&2; exit 2 ;;
esac
commit=$(git rev-parse --short=12 HEAD)
git diff --quiet HEAD -- . 2>/dev/null || commit="$commit+dirty"
cmd="go test $short -run '^\$' -bench '$BENCH' -count $COUNT -cpu $CPU -benchtime $BENCHTIME $pkg"
echo "run.sh: (cd $dir && $cmd) > $out"
{
	echo "commit: $commit"
	echo "goversion: $(go env GOVERSION)"
	echo "nproc: $(nproc)"
	echo "# command: (cd $dir && $cmd)"
	echo "# started: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
	# The results also go to stderr, as progress of a long run.
	# shellcheck disable=SC2086 # short is one flag or nothing
	(cd "$dir" && go test $short -run '^$' -bench "$BENCH" -count "$COUNT" -cpu "$CPU" -benchtime "$BENCHTIME" "$pkg") | tee /dev/stderr
	echo "# finished: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
} >"$out.tmp" || { cat "$out.tmp" >&2; echo "run.sh: benchmarks failed" >&2; exit 1; }
mv "$out.tmp" "$out"
grep -c '^Benchmark' "$out" | sed "s#^#run.sh: #; s#\$# results in $out#"
