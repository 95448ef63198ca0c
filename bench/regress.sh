#!/usr/bin/env bash
# bench/regress.sh — chatring's performance-regression gate.
#
# Builds the benchmark binary of package ./bench at BASE (a git ref, checked
# out with `git worktree` in a temporary directory) and of the work tree
# (uncommitted changes included), runs them interleaved for ROUNDS rounds,
# prints benchstat's comparison, and exits 1 when some benchmark is
# statistically significantly worse (benchstat's Mann-Whitney U test at
# ALPHA) by more than THRESHOLD in sec/op or allocs/op.
#
# Interleaving: each round runs every benchmark function of BASE and of the
# work tree back to back, function by function, in the order A B in odd
# rounds and B A in even ones (A B B A ...), so that a slow spell of a shared
# machine hits both sides alike and neither always runs first.
#
# Settings (environment variables; `make bench-regress` passes them on):
#   BASE       git ref to compare against (required)
#   THRESHOLD  worst tolerated significant slowdown, percent (default 10)
#   ALPHA      benchstat's significance level (default 0.01)
#   ROUNDS     interleaved rounds, samples per side (default 10, at least 10)
#   BENCHTIME  -benchtime of every run (default 100ms)
#   BENCH      benchmarks: FUNC[/SUBPATTERN], as for go test -bench, where
#              FUNC selects benchmark functions by name (default .)
#   CPU        -cpu list (default: GOMAXPROCS, i.e. all cores)
#   MODE       strict (default) or ci: in ci mode a BASE that does not
#              exist, has no harness or whose harness does not build is
#              skipped with a message and exit status 0 (`make
#              bench-regress-ci` sets it, with its own defaults)
#   ALLOW_UNMATCHED
#              1 to let the strict gate pass when a benchmark ran on one
#              side only (see below); ci mode always allows it
#   OUT        where the raw results go (default bench/out/regress)
#   CONFIRM    1 (default) to run the benchmarks the gate flags again, for
#              ROUNDS more rounds, and fail only if they are worse again
#              (see Confirmation below); 0 to decide on the first run
#
# Unmatched benchmarks: a benchmark function or sub-benchmark that exists
# on one side only (renamed, added or removed) is compared with nothing, so
# a renamed workload that became 2x slower would pass unseen. The gate
# lists every one of them ("only in base: ...", "only in head: ..."); the
# strict gate fails on them (exit 1, before running anything when whole
# functions differ) unless ALLOW_UNMATCHED=1, and ci mode lists them and
# decides on the rest (an error, exit 2, when no benchmark is left).
#
# Exit status: 0 no regression (or skipped in CI mode), 1 regression or
# unmatched benchmarks in strict mode, 2 error (bad settings, a build or
# run failure, no benchmark compared).
set -euo pipefail

die() { echo "regress: $*" >&2; exit 2; }
skip() {
	if [ "$MODE" = ci ]; then
		echo "regress: SKIP: $*"
		exit 0
	fi
	die "$*"
}

BASE=${BASE:-}
THRESHOLD=${THRESHOLD:-10}
ALPHA=${ALPHA:-0.01}
ROUNDS=${ROUNDS:-10}
BENCHTIME=${BENCHTIME:-100ms}
BENCH=${BENCH:-.}
CPU=${CPU:-}
MODE=${MODE:-strict}
case "$MODE" in strict | ci) ;; *) die "MODE must be strict or ci (got $MODE)" ;; esac
ALLOW_UNMATCHED=${ALLOW_UNMATCHED:-0}
CONFIRM=${CONFIRM:-1}
case "$CONFIRM" in 0 | 1) ;; *) die "CONFIRM must be 0 or 1 (got $CONFIRM)" ;; esac
case "$ALLOW_UNMATCHED" in 0 | 1) ;; *) die "ALLOW_UNMATCHED must be 0 or 1 (got $ALLOW_UNMATCHED)" ;; esac
[ "$MODE" = ci ] && ALLOW_UNMATCHED=1

[ -n "$BASE" ] || die "BASE is required, e.g. make bench-regress BASE=HEAD~1"
[ "$ROUNDS" -ge 10 ] 2>/dev/null || die "ROUNDS must be at least 10 (got $ROUNDS)"

root=$(git rev-parse --show-toplevel)
cd "$root"
OUT=${OUT:-bench/out/regress}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
benchstat=(go tool -modfile="$root/bench/tools/go.mod" benchstat)

base_sha=$(git rev-parse --verify -q "${BASE}^{commit}") || skip "BASE ${BASE} is not a commit in this repository"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chatring-regress.XXXXXX")
cleanup() {
	git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true
	rm -rf "$tmp"
	git worktree prune >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

git worktree add --detach -q "$tmp/base" "$base_sha" || die "git worktree add $BASE failed"
ls "$tmp"/base/bench/*_bench_test.go >/dev/null 2>&1 || skip "BASE ${BASE} ($base_sha) has no benchmark harness in bench/"

echo "regress: building BASE ${BASE} (${base_sha:0:12}) and the work tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' + uncommitted changes'))"
(cd "$tmp/base" && go test -c -o "$tmp/base.test" ./bench) || skip "the benchmarks of BASE ${BASE} do not build"
go test -c -o "$tmp/head.test" ./bench || die "the benchmarks of the work tree do not build"
(cd bench/tools && go build -o "$tmp/benchgate" ./cmd/benchgate) || die "cannot build bench/tools/cmd/benchgate"

# Benchmark functions, filtered by FUNC: the ones both sides have are run;
# the others are listed, and fail the strict gate unless allowed.
func_re=${BENCH%%/*}
sub_re=""
case "$BENCH" in */*) sub_re=/${BENCH#*/} ;; esac
# StoreMemory is left out: it measures heap sizes, not time, and one run of
# it takes seconds.
list() { (cd "$tmp" && "./$1" -test.list '^Benchmark' | grep -E '^Benchmark' | sed 's/^Benchmark//' |
	grep -E -- "$func_re" | grep -vx 'StoreMemory' || true) | sort; }
list base.test >"$tmp/base.funcs"
list head.test >"$tmp/head.funcs"
funcs=$(comm -12 "$tmp/base.funcs" "$tmp/head.funcs")
# unmatched WHAT ONLY_BASE ONLY_HEAD lists benchmarks that ran on one side
# only, and exits 1 unless that is allowed.
unmatched() {
	[ -n "$2$3" ] || return 0
	if [ "$ALLOW_UNMATCHED" = 1 ]; then
		echo "regress: $1 on one side only, not compared:"
	else
		echo "regress: FAIL: $1 on one side only, so nothing compares them (renamed, added or removed?); ALLOW_UNMATCHED=1 lets that pass:"
	fi
	[ -z "$2" ] || echo "  only in base: $2"
	[ -z "$3" ] || echo "  only in head: $3"
	[ "$ALLOW_UNMATCHED" = 1 ] || exit 1
}
unmatched "benchmark functions" \
	"$(comm -23 "$tmp/base.funcs" "$tmp/head.funcs" | paste -sd, - | sed 's/,/, /g')" \
	"$(comm -13 "$tmp/base.funcs" "$tmp/head.funcs" | paste -sd, - | sed 's/,/, /g')"
[ -n "$funcs" ] || die "no benchmark function matches BENCH=$BENCH on both sides"

# -test.short: the store benchmarks leave out their million-conversation
# stores, whose set-up alone takes seconds per round.
args=(-test.run '^$' -test.short -test.benchtime "$BENCHTIME" -test.count 1)
[ -n "$CPU" ] && args+=(-test.cpu "$CPU")
: >"$OUT/base.txt"
: >"$OUT/head.txt"
runone() { # side func
	(cd "$tmp" && "./$1.test" -test.bench "^Benchmark$2\$$sub_re" "${args[@]}") >>"$OUT/$1.txt" ||
		die "$1: Benchmark$2 failed (see $OUT/$1.txt)"
}
start=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
	printf 'regress: round %d/%d (%ds)\n' "$r" "$ROUNDS" $((SECONDS - start))
	for f in $funcs; do
		if ((r % 2)); then runone base "$f"; runone head "$f"; else runone head "$f"; runone base "$f"; fi
	done
done

# When BENCH's sub-pattern selects sub-benchmarks of one side only, the
# other side has no result at all; benchstat then drops its column and
# benchgate would see no comparison, so list them here.
names() { (grep -E '^Benchmark' "$OUT/$1.txt" || true) | awk '{print $1}' | sed 's/^Benchmark//' | sort -u | paste -sd, - | sed 's/,/, /g'; }
base_names=$(names base)
head_names=$(names head)
[ -n "$base_names$head_names" ] || die "no benchmark matches BENCH=$BENCH on either side"
if [ -z "$base_names" ] || [ -z "$head_names" ]; then
	unmatched "benchmarks" "$base_names" "$head_names"
	die "no benchmark matches BENCH=$BENCH on both sides: nothing to compare"
fi

echo
echo "regress: ${BASE} (base) against the work tree (head): ${ROUNDS} interleaved rounds," \
	"-benchtime ${BENCHTIME}${CPU:+, -cpu $CPU}, alpha ${ALPHA}, threshold ${THRESHOLD}%"
"${benchstat[@]}" -alpha "$ALPHA" -filter '.unit:(sec/op OR allocs/op)' base="$OUT/base.txt" head="$OUT/head.txt"
echo
"${benchstat[@]}" -alpha "$ALPHA" -format csv base="$OUT/base.txt" head="$OUT/head.txt" 2>/dev/null >"$OUT/compare.csv"
gate=(-threshold "$THRESHOLD")
[ "$ALLOW_UNMATCHED" = 1 ] && gate+=(-allow-unmatched)
status=0
"$tmp/benchgate" "${gate[@]}" <"$OUT/compare.csv" >"$OUT/gate.txt" || status=$?
cat "$OUT/gate.txt"
[ "$status" = 1 ] && [ "$CONFIRM" = 1 ] || exit "$status"

# Confirmation: hundreds of comparisons at ALPHA on a shared machine give
# a slow spell a chance to pass for a regression now and then (a
# lock-free Window at -cpu 2 once showed +59%, p=0.009, on a commit that
# changed no code it runs). The benchmarks benchgate flagged run again,
# alone, for ROUNDS more interleaved rounds, and the gate fails only if
# they are significantly worse by more than THRESHOLD again: a real
# regression repeats, a fluke rarely does twice.
failing=$(awk '/^benchgate: FAIL: [0-9]+ of [0-9]+ comparisons/ { f = 1; next } f && /^  / { print $1 }' "$OUT/gate.txt" | sort -u)
[ -n "$failing" ] || exit 1 # failed on unmatched benchmarks: nothing to confirm
echo
echo "regress: confirming $(echo "$failing" | wc -l) flagged benchmark(s) with ${ROUNDS} more interleaved rounds, each alone:"
echo "$failing" | sed 's/^/  /'
: >"$OUT/confirm-base.txt"
: >"$OUT/confirm-head.txt"
escape() { sed 's/[][\.*^$+?(){}|]/\\&/g'; }
specs=()
while read -r name; do
	# NAME-N ran at -cpu N; a name without the suffix at -cpu 1.
	cpu=1
	if [[ $name =~ ^(.*)-([0-9]+)$ ]]; then name=${BASH_REMATCH[1]} cpu=${BASH_REMATCH[2]}; fi
	pattern=$(echo "Benchmark$name" | tr '/' '\n' | escape | sed 's/^/^/; s/$/$/' | paste -sd/ -)
	specs+=("$cpu $pattern")
done <<<"$failing"
confirmone() { # side cpu pattern
	(cd "$tmp" && "./$1.test" -test.run '^$' -test.short -test.benchtime "$BENCHTIME" -test.count 1 \
		-test.cpu "$2" -test.bench "$3") >>"$OUT/confirm-$1.txt" || die "$1: $3 failed (see $OUT/confirm-$1.txt)"
}
for ((r = 1; r <= ROUNDS; r++)); do
	for spec in "${specs[@]}"; do
		read -r cpu pattern <<<"$spec"
		if ((r % 2)); then confirmone base "$cpu" "$pattern"; confirmone head "$cpu" "$pattern"; else confirmone head "$cpu" "$pattern"; confirmone base "$cpu" "$pattern"; fi
	done
done
grep -q '^Benchmark' "$OUT/confirm-head.txt" && grep -q '^Benchmark' "$OUT/confirm-base.txt" ||
	{ echo "regress: FAIL: the flagged benchmarks did not run again (see $OUT/confirm-*.txt)"; exit 1; }
"${benchstat[@]}" -alpha "$ALPHA" -filter '.unit:(sec/op OR allocs/op)' base="$OUT/confirm-base.txt" head="$OUT/confirm-head.txt"
echo
"${benchstat[@]}" -alpha "$ALPHA" -format csv base="$OUT/confirm-base.txt" head="$OUT/confirm-head.txt" 2>/dev/null >"$OUT/confirm.csv"
"$tmp/benchgate" -threshold "$THRESHOLD" -allow-unmatched <"$OUT/confirm.csv" && echo "regress: PASS: the flagged benchmarks were not worse again (a slow spell, not a regression)"
