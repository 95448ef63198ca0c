#!/usr/bin/env bash
# Load test of the reference service with the memory store: builds it,
# starts it on a free loopback port, runs wrk with append.lua against it,
# prints the store's appended counter (from /metrics) beside wrk's counts
# of requests and non-2xx answers (it does not compare them, nor fail on
# a difference), prints the CPU time per append, and stops the service
# with SIGTERM: it prints the service's exit status and exits with it.
#
#   bash examples/chatservice/loadtest/run.sh [DURATION] [CONNECTIONS] [THREADS]
#
# Defaults: 10s, 64 connections, 2 wrk threads; CONVERSATIONS=10000. Needs
# wrk (Debian: apt-get install wrk). wrk and the service share the machine,
# so on a 2-core machine the figure is what both together allow.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s} conns=${2:-64} threads=${3:-2}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/chatservice" .
"$tmp/chatservice" -addr 127.0.0.1:0 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do
	addr=$(grep -o '"addr":"[^"]*"' "$tmp/log" | head -1 | cut -d'"' -f4 || true)
	[ -n "$addr" ] && break
	sleep 0.1
done
[ -n "$addr" ] || { echo "the service did not start:" >&2; cat "$tmp/log" >&2; exit 1; }
cpu() { curl -s "http://$addr/metrics" | awk '/^process_cpu_seconds_total/ {print $2}'; }
echo "# wrk -t$threads -c$conns -d$duration -s loadtest/append.lua http://$addr (CONVERSATIONS=${CONVERSATIONS:-10000})"
cpu0=$(cpu)
TIMEFORMAT='%U %S' # bash's time: wrk's user and system CPU seconds
{ time wrk -t"$threads" -c"$conns" -d"$duration" --latency -s loadtest/append.lua "http://$addr" >"$tmp/wrk"; } 2>"$tmp/wrkcpu"
cat "$tmp/wrk"
cpu1=$(cpu)
appended=$(curl -s "http://$addr/metrics" | awk '/^chatring_messages_appended_total/ {s += $2} END {printf "%d", s}')
requests=$(awk '/requests in/ {print $1}' "$tmp/wrk")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk")
echo "# store appended $appended messages; wrk completed $requests requests, non-2xx: ${non2xx:-0}"
# CPU time per append: the service's from process_cpu_seconds_total, wrk's
# from bash's time. 2 CPU-seconds divided by their sum estimates what the
# two would do on 2 cores of their own; on a busy machine the measured
# rate is lower, and the CPU times are inflated by the contention too.
# Nothing appended (every request refused) has no cost per append: said
# so, rather than divided by 0 (which printed inf with mawk; gawk stops
# with a fatal error, which ended the script before the shutdown).
awk -v a="$appended" -v c0="$cpu0" -v c1="$cpu1" -v w="$(awk '{print $1 + $2}' "$tmp/wrkcpu")" 'BEGIN {
	if (a == 0) { print "# CPU per append: nothing appended"; exit }
	s = (c1 - c0) / a * 1e6; k = w / a * 1e6
	printf "# CPU per append: service %.1f us, wrk %.1f us; 2 cores / (sum) = %.0f appends/s\n", s, k, 2e6 / (s + k) }'
kill -TERM "$pid"
status=0
wait "$pid" || status=$? # not under set -e: a failed shutdown is reported
pid=
echo "# stopped: exit $status"
exit "$status"
