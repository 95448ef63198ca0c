package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
)

// The contenders issue 6 ("each backend wins where it is meant to, and all
// beat the peers") sets targets for.
var ours = []string{"mutex", "lockfree", "sharded"}

// Targets writes issue 6's targets as a Markdown table of measured ratios
// of medians (same run), one row per target, backend and GOMAXPROCS.
// pythonNs is the seed's Python manager in ns per append, 0 if unknown;
// stress are cmd/stress JSON reports for target 4 (tail latency).
func Targets(w io.Writer, set *Set, pythonNs float64, stress []StressRun) {
	procs := set.Procs()
	fmt.Fprintln(w, "| # | target | at | measured | wanted | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	row := func(n int, what string, at string, ratio float64, ok bool, wanted string) {
		got, met := "not measured", "—"
		if ratio > 0 {
			got = fmtRatio(ratio) + "×"
			met = "no"
			if ok {
				met = "yes"
			}
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s |\n", n, what, at, got, wanted, met)
	}
	// over returns num ÷ den in ns/op, both from one run (see Set.Pair),
	// or 0 when no file has both.
	over := func(num, den Query, p int) float64 {
		x, y, _, ok := set.Pair(num, den, p, "sec/op")
		if !ok || x == 0 || y == 0 {
			return 0
		}
		return x / y
	}
	ring := func(backend string) map[string]string {
		return map[string]string{"backend": backend, "level": "ring", "cap": "20"}
	}

	// 1. Append-only against the peers, both terms from the peers' run
	// (the only one that has the peers).
	vsPeer := func(peer, b string, p int) float64 {
		return over(Query{"Append", ring(peer)}, Query{"Append", ring(b)}, p)
	}
	for _, p := range procs {
		at := fmt.Sprintf("append, cap 20, -cpu %d", p)
		for _, b := range ours {
			r := vsPeer("diodes", b, p)
			row(1, b+" vs go-diodes ManyToOne (their ns/op ÷ ours)", at, r, r >= 2, "≥ 2×")
			r = vsPeer("langchaingo", b, p)
			row(1, b+" vs langchaingo window buffer", at, r, r >= 3, "≥ 3×")
		}
		r := over(Query{"Append", ring("mutex")}, Query{"Append", ring("slicering")}, p)
		row(1, "mutex ÷ hand-written slice ring (ns/op)", at, r, r <= 1.1, "≤ 1.1×")
	}
	// 2. Read-heavy: lockfree over mutex.
	for _, p := range procs {
		if p < 2 {
			continue
		}
		r := over(Query{"ReadHeavy", ring("mutex")}, Query{"ReadHeavy", ring("lockfree")}, p)
		row(2, "lockfree faster than mutex (mutex ns/op ÷ lockfree)", fmt.Sprintf("read-heavy, cap 20, -cpu %d", p), r, r >= 1.5, "≥ 1.5×")
	}
	// 3. Write-heavy with goroutines outnumbering cores: sharded over mutex.
	for _, p := range procs {
		if p < 4 {
			continue
		}
		r := over(Query{"WriteHeavy", ring("mutex")}, Query{"WriteHeavy", ring("sharded")}, p)
		row(3, "sharded faster than mutex (mutex ns/op ÷ sharded)", fmt.Sprintf("write-heavy, cap 20, -cpu %d", p), r, r >= 1.3, "≥ 1.3×")
	}
	// 4. Tail latency, from the stress CLI's reports.
	tailRows(w, stress)
	// 5. Allocations.
	allocs := func(base, b, capacity string, p int) (float64, bool) {
		v, n := set.Median(Query{base, map[string]string{"backend": b, "level": "ring", "cap": capacity}}, p, "allocs/op")
		return v, n > 0
	}
	for _, b := range ours {
		for _, c := range []string{"20", "1024"} {
			p := procs[len(procs)-1]
			if v, ok := allocs("Snapshot", b, c, p); ok {
				fmt.Fprintf(w, "| 5 | %s Snapshot allocs/op | cap %s, -cpu %d | %g | 0 | %s |\n", b, c, p, v, yes(v == 0))
			}
			if v, ok := allocs("Append", b, c, p); ok {
				want, met := "0", v == 0
				if b == "lockfree" {
					want, met = "≤ 1", v <= 1
				}
				fmt.Fprintf(w, "| 5 | %s Push allocs/op | cap %s, -cpu %d | %g | %s | %s |\n", b, c, p, v, want, yes(met))
			}
		}
	}
	// 6. History.Append over the bare Push.
	for _, p := range procs {
		for _, b := range ours {
			r := over(Query{"Append", map[string]string{"backend": b, "level": "history", "cap": "20"}}, Query{"Append", ring(b)}, p)
			row(6, b+" History.Append ÷ bare Push (ns/op)", fmt.Sprintf("append, cap 20, -cpu %d", p), r, r <= 2, "≤ 2×")
		}
	}
	// 7. The seed's workload against the seed's Python: one benchmark term,
	// from the first file that has it (bench.txt: only it runs Seed at
	// level history); the Python figure is measured separately.
	for _, p := range procs {
		for _, b := range ours {
			g, n := set.Median(Query{"Seed", map[string]string{"backend": b, "level": "history", "cap": "20", "goroutines": "10"}}, p, "sec/op")
			r := 0.0
			if pythonNs > 0 && n > 0 && g > 0 {
				r = pythonNs * 1e-9 / g
			}
			row(7, b+" History.Append vs the seed's Python manager (Python ns ÷ ours)", fmt.Sprintf("seed, 10 goroutines, -cpu %d", p), r, r >= 100, "≥ 100×")
		}
	}
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// fmtRatio formats a ratio with two decimals, or with two significant
// digits when that needs more (0.0016, not 0.00).
func fmtRatio(x float64) string {
	decimals := 2
	if x > 0 && x < 0.1 {
		decimals = 1 - int(math.Floor(math.Log10(x)))
	}
	return strconv.FormatFloat(x, 'f', decimals, 64)
}
