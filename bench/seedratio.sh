#!/usr/bin/env bash
# bench/seedratio.sh OUTDIR — issue 13's target 3: the seed's workload at
# History level (BenchmarkSeed, level=history: 10 goroutines appending
# user/assistant pairs to one History of max_turns 10) against the seed's
# Python managers (../shared/bench/seed_bench.py), in one run, interleaved
# ROUNDS times (Python, then Go) so that a busy spell of a shared machine
# hits both. Writes OUTDIR/seed.txt (go test output) and OUTDIR/python.txt
# (the script's lines), and prints the ratio of the fastest Python figure
# (ns/append, any manager, any iteration count: the most favourable to
# Python, as bench/report.sh takes it) to the median Go ns/op per backend
# and -cpu.
#
# Settings (environment): ROUNDS (default 5), COUNT Go runs per round
# (default 2), CPU (default 1,2), BENCHTIME (default 200ms), SEED_BENCH and
# SEED_TXT as for bench/report.sh.
set -euo pipefail
outdir=${1:?usage: seedratio.sh OUTDIR}
ROUNDS=${ROUNDS:-5}
COUNT=${COUNT:-2}
CPU=${CPU:-1,2}
BENCHTIME=${BENCHTIME:-200ms}
root=$(git rev-parse --show-toplevel)
cd "$root"
SEED_BENCH=${SEED_BENCH:-$root/../shared/bench/seed_bench.py}
SEED_TXT=${SEED_TXT:-$root/../shared/seed/000_8095fd484b1942fe.txt}
[ -f "$SEED_BENCH" ] && [ -f "$SEED_TXT" ] || { echo "seedratio: no $SEED_BENCH or $SEED_TXT" >&2; exit 2; }
mkdir -p "$outdir"
go test -c -o "$outdir/bench.test" ./bench
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
{
	echo "commit: $(git rev-parse --short=12 HEAD)"
	echo "# started: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average: $(load)"
} >"$outdir/seed.txt"
: >"$outdir/python.txt"
for ((r = 1; r <= ROUNDS; r++)); do
	echo "seedratio: round $r/$ROUNDS" >&2
	python3 "$SEED_BENCH" "$SEED_TXT" >>"$outdir/python.txt"
	(cd "$outdir" && ./bench.test -test.run '^$' -test.bench '^BenchmarkSeed$/backend=/level=history/' \
		-test.count "$COUNT" -test.cpu "$CPU" -test.benchtime "$BENCHTIME") >>"$outdir/seed.txt"
done
echo "# finished: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average: $(load)" >>"$outdir/seed.txt"
py=$(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^ns\/append/) { v = $(i - 1) + 0; if (v > 0 && (min == 0 || v < min)) min = v } } END { print min + 0 }' "$outdir/python.txt")
echo "seedratio: fastest Python figure: $py ns/append (of $(grep -c ns/append "$outdir/python.txt") lines)"
# The median ns/op of every benchmark name, and the ratio.
grep '^BenchmarkSeed' "$outdir/seed.txt" | awk -v py="$py" '
	{ n[$1]++; v[$1, n[$1]] = $3 }
	END {
		for (k in n) {
			m = n[k]
			for (i = 1; i <= m; i++) a[i] = v[k, i]
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
			printf "%s: median %.1f ns/op of %d runs, Python / Go = %.1fx\n", k, med, m, py / med
		}
	}' | sort
