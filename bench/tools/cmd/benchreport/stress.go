package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// StressRun is the part of one cmd/stress JSON report (schema_version 1,
// docs/stress.md) that the report reads: each backend's throughput,
// latency percentiles and garbage collections.
type StressRun struct {
	SchemaVersion int `json:"schema_version"`
	Config        struct {
		Writers int `json:"writers"`
		Readers int `json:"readers"`
	} `json:"config"`
	Results []struct {
		Backend            string  `json:"backend"`
		AppendsPerSecond   float64 `json:"appends_per_second"`
		SnapshotsPerSecond float64 `json:"snapshots_per_second"`
		Latency            struct {
			Append   Percentiles `json:"append"`
			Snapshot Percentiles `json:"snapshot"`
		} `json:"latency"`
		Runtime struct {
			GCCycles uint64 `json:"gc_cycles"`
		} `json:"runtime"`
	} `json:"results"`
}

// Percentiles are one operation's latencies, in nanoseconds.
type Percentiles struct {
	Count int64 `json:"count"`
	P99   int64 `json:"p99_ns"`
	P999  int64 `json:"p99_9_ns"`
}

// StressTable writes every run's figures as a Markdown table, one row per
// run and backend, in the order of the reports.
func StressTable(w io.Writer, runs []StressRun) {
	fmt.Fprintln(w, "| run | backend | appends/s | snapshots/s | append p99 | append p99.9 | snapshot p99 | snapshot p99.9 | GC cycles |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for i, r := range runs {
		for _, res := range r.Results {
			fmt.Fprintf(w, "| %d | %s | %.2fM | %.2fM | %s | %s | %s | %s | %d |\n", i+1, res.Backend,
				res.AppendsPerSecond/1e6, res.SnapshotsPerSecond/1e6,
				latency(res.Latency.Append.P99), latency(res.Latency.Append.P999),
				latency(res.Latency.Snapshot.P99), latency(res.Latency.Snapshot.P999),
				res.Runtime.GCCycles)
		}
	}
}

// latency formats a latency in nanoseconds with a unit that keeps it short.
func latency(ns int64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.1f ms", float64(ns)/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", float64(ns)/1e3)
	}
	return fmt.Sprintf("%d ns", ns)
}

// LoadStress reads cmd/stress JSON reports.
func LoadStress(paths []string) ([]StressRun, error) {
	var runs []StressRun
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var r StressRun
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if r.SchemaVersion != 1 {
			return nil, fmt.Errorf("%s: stress report schema_version %d, want 1", p, r.SchemaVersion)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// p999 returns backend's p99.9 latency of op ("append" or "snapshot") in
// run r, 0 if the run lacks it.
func (r StressRun) p999(backend, op string) float64 {
	for _, res := range r.Results {
		if res.Backend != backend {
			continue
		}
		p := res.Latency.Append
		if op == "snapshot" {
			p = res.Latency.Snapshot
		}
		if p.Count == 0 {
			return 0
		}
		return float64(p.P999)
	}
	return 0
}

// TailRatios returns, for op, the ratio lockfree p99.9 ÷ mutex p99.9 of
// every run that has both, and their median (0 when none has).
func TailRatios(runs []StressRun, op string) (ratios []float64, median float64) {
	for _, r := range runs {
		lf, mu := r.p999("lockfree", op), r.p999("mutex", op)
		if lf > 0 && mu > 0 {
			ratios = append(ratios, lf/mu)
		}
	}
	if len(ratios) == 0 {
		return nil, 0
	}
	s := slices.Sorted(slices.Values(ratios))
	if len(s)%2 == 1 {
		return ratios, s[len(s)/2]
	}
	return ratios, (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// tailRows writes target 4's rows: one per operation, the median over the
// stress runs of lockfree p99.9 ÷ mutex p99.9 within each run.
func tailRows(w io.Writer, runs []StressRun) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "| 4 | lockfree p99.9 ÷ mutex p99.9, 8 writers + 8 readers | stress CLI | not measured (no stress reports) | ≤ 0.5× | — |")
		return
	}
	for _, op := range []string{"append", "snapshot"} {
		ratios, med := TailRatios(runs, op)
		got, met := "not measured", "—"
		if med > 0 {
			each := make([]string, len(ratios))
			for i, r := range ratios {
				each[i] = fmtRatio(r)
			}
			got = fmt.Sprintf("%s× (median of %d runs: %s)", fmtRatio(med), len(ratios), strings.Join(each, ", "))
			met = yes(med <= 0.5)
		}
		fmt.Fprintf(w, "| 4 | lockfree %s p99.9 ÷ mutex %s p99.9 | stress CLI, %d writers + %d readers | %s | ≤ 0.5× | %s |\n",
			op, op, runs[0].Config.Writers, runs[0].Config.Readers, got, met)
	}
}
