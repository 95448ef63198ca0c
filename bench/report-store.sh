#!/usr/bin/env bash
# bench/report-store.sh — the "Many conversations" section of
# bench/RESULTS.md, from bench/out/store.txt and bench/out/storemem.txt
# (`make bench-store`, run first when missing). It replaces the section
# between its markers, or appends it, and leaves the rest of RESULTS.md as
# bench/report.sh wrote it; report.sh calls it at the end.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
out=bench/out
results=bench/RESULTS.md
[ -s "$out/store.txt" ] && [ -s "$out/store-1m.txt" ] && [ -s "$out/storemem.txt" ] || make --no-print-directory bench-store
benchstat() { go tool -modfile="$root/bench/tools/go.mod" benchstat "$@"; }
cmd_of() { sed -n 's/^# command: //p' "$1" | head -1; }
val_of() { sed -n "s/^$2: //p" "$1" | head -1; }
load_of() { sed -n "s/^# $2: .*load average: //p" "$1" | head -1; }

section=$(mktemp)
trap 'rm -f "$section"' EXIT
{
	echo "<!-- store:begin (bench/report-store.sh) -->"
	echo "## Many conversations: the Store (issue 10)"
	echo
	echo "From bench/out/store.txt (commit $(val_of "$out/store.txt" commit), load average"
	echo "$(load_of "$out/store.txt" started) at the start, $(load_of "$out/store.txt" finished) at the end) and"
	echo "bench/out/storemem.txt (commit $(val_of "$out/storemem.txt" commit)):"
	echo
	echo '```'
	echo "$(cmd_of "$out/store.txt")"
	echo "$(cmd_of "$out/store-1m.txt")"
	echo "$(cmd_of "$out/storemem.txt")"
	echo '```'
	echo
	echo "Every workload runs on a chatring.MemoryStore (level=store) and, as its"
	echo "baseline, on as many chatring.History values in a slice picked by the same"
	echo "table (level=history): the store column's change is the store's own cost —"
	echo "the conversation lookup, the Close gate's two atomic adds, expiry bookkeeping,"
	echo "the held-bytes tracking, and counters shared by every conversation of the"
	echo "store (each baseline History has its own, so under -cpu 2 the store's"
	echo "counters are contended where the baseline's are not). Every conversation"
	echo "holds a message before timing, so appends find it. Target: at convs=1000,"
	echo "the store within +50% of the history column (1.5x), and no allocation"
	echo "beyond History's."
	echo
	echo "### Append, ChatMix and Window, store against History"
	echo
	echo '```'
	echo "\$ benchstat -col /level -filter '.unit:(sec/op OR allocs/op)' bench/out/store.txt"
	benchstat -col /level -filter '.unit:(sec/op OR allocs/op)' "$out/store.txt" 2>&1 | grep -v '^\(goos\|goarch\|pkg\|cpu\):'
	echo '```'
	echo
	echo "### A million conversations (store only, -count 3 -cpu 2)"
	echo
	echo "Building a store of a million conversations takes seconds per backend, so"
	echo "these run three times, at one -cpu, with no History baseline (a million"
	echo "Histories in a slice would hold the same memory twice)."
	echo
	echo '```'
	echo "\$ benchstat -col /backend -filter '.unit:(sec/op OR allocs/op)' bench/out/store-1m.txt"
	benchstat -col /backend -filter '.unit:(sec/op OR allocs/op)' "$out/store-1m.txt" 2>&1 | grep -v '^\(goos\|goarch\|pkg\|cpu\):'
	echo '```'
	echo
	echo "### Memory: 100 000 conversations, each a full default window of 64-byte messages"
	echo
	echo "heap-B/conv is the heap the store holds per conversation (runtime.MemStats"
	echo "after two collections), payload-B/conv what a conversation holds (20 Message"
	echo "structs and their contents), heap/payload the two divided (target: at most 2"
	echo "on the mutex and lock-free rings), estimate/heap StoreStats.HeldBytes"
	echo "against the heap; deleted-B/conv and expired-B/conv what is still held per"
	echo "conversation after every conversation was deleted or expired (the cache's"
	echo "hash table, which does not shrink), evicted-B/held the heap per held"
	echo "conversation of a store bounded at a tenth, filled with all."
	echo
	echo '```'
	echo "\$ benchstat -col /backend bench/out/storemem.txt"
	benchstat -col /backend "$out/storemem.txt" 2>&1 | grep -v '^\(goos\|goarch\|pkg\|cpu\):'
	echo '```'
	echo "<!-- store:end -->"
} >"$section"

if grep -q '^<!-- store:begin' "$results"; then
	awk -v f="$section" '
		/^<!-- store:begin/ { while ((getline line < f) > 0) print line; skip = 1; next }
		/^<!-- store:end -->/ { skip = 0; next }
		!skip { print }' "$results" >"$results.tmp"
	mv "$results.tmp" "$results"
else
	{ echo; cat "$section"; } >>"$results"
fi
echo "report-store.sh: wrote the store section of $results"
