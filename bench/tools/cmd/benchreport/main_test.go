package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// write puts text in a file of t's temporary directory and returns its path.
func write(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const ringTxt = `goos: linux
pkg: github.com/chatring/chatring/bench
BenchmarkAppend/backend=mutex/level=ring/cap=20-2     100 10.0 ns/op 0 B/op 0 allocs/op
BenchmarkAppend/backend=mutex/level=ring/cap=20-2     100 12.0 ns/op 0 B/op 0 allocs/op
BenchmarkAppend/backend=mutex/level=ring/cap=20-2     100 30.0 ns/op 0 B/op 0 allocs/op
BenchmarkAppend/backend=mutex/level=history/cap=20-2  100 30.0 ns/op 0 B/op 0 allocs/op
BenchmarkReadHeavy/backend=mutex/level=ring/cap=20-2     100 40.0 ns/op
BenchmarkReadHeavy/backend=lockfree/level=ring/cap=20-2  100 20.0 ns/op
`

const peersTxt = `pkg: github.com/chatring/chatring/bench/peers
BenchmarkAppend/backend=mutex/level=ring/cap=20-2      100 99.0 ns/op
BenchmarkAppend/backend=slicering/level=ring/cap=20-2  100 10.0 ns/op
BenchmarkAppend/backend=diodes/level=ring/cap=20-2     100 36.0 ns/op
`

func TestMedianFirstFileWins(t *testing.T) {
	set, err := Load(write(t, "bench.txt", ringTxt), write(t, "peers.txt", peersTxt))
	if err != nil {
		t.Fatal(err)
	}
	q := Query{"Append", map[string]string{"backend": "mutex", "level": "ring", "cap": "20"}}
	if v, n := set.Median(q, 2, "sec/op"); n != 3 || math.Abs(v-12e-9) > 1e-15 {
		t.Errorf("Median(mutex) = %v, %d; want 12ns from bench.txt's 3 runs (not peers.txt's 99ns)", v, n)
	}
	if _, n := set.Median(q, 4, "sec/op"); n != 0 {
		t.Errorf("Median at -cpu 4 found %d samples, want none", n)
	}
}

func TestTargets(t *testing.T) {
	set, err := Load(write(t, "bench.txt", ringTxt), write(t, "peers.txt", peersTxt))
	if err != nil {
		t.Fatal(err)
	}
	// Three stress runs: lockfree's p99.9 over mutex's is 0.25, 0.5 and 2
	// for appends (median 0.5, met) and 1, 1, 1 for snapshots (not met).
	runs := stressRuns(t, 1000, 300, 250, 500, 2000)
	var out bytes.Buffer
	Targets(&out, set, 0, runs)
	wantRows(t, out.String(),
		"| 4 | lockfree append p99.9 ÷ mutex append p99.9 | stress CLI, 8 writers + 8 readers | 0.50× (median of 3 runs: 0.25, 0.50, 2.00) | ≤ 0.5× | yes |",
		"| 4 | lockfree snapshot p99.9 ÷ mutex snapshot p99.9 | stress CLI, 8 writers + 8 readers | 1.00× (median of 3 runs: 1.00, 1.00, 1.00) | ≤ 0.5× | no |",
		// Peer ratios take mutex from peers.txt too: the same run.
		"| 1 | mutex vs go-diodes ManyToOne (their ns/op ÷ ours) | append, cap 20, -cpu 2 | 0.36× | ≥ 2× | no |",
		"| 1 | mutex ÷ hand-written slice ring (ns/op) | append, cap 20, -cpu 2 | 9.90× | ≤ 1.1× | no |",
		"| 2 | lockfree faster than mutex (mutex ns/op ÷ lockfree) | read-heavy, cap 20, -cpu 2 | 2.00× | ≥ 1.5× | yes |",
		"| 6 | mutex History.Append ÷ bare Push (ns/op) | append, cap 20, -cpu 2 | 2.50× | ≤ 2× | no |",
		"| 1 | lockfree vs langchaingo window buffer | append, cap 20, -cpu 2 | not measured | ≥ 3× | — |",
	)
}

// stressRuns writes and loads one cmd/stress report per value of
// lfAppend, lockfree's append p99.9 in ns; the mutex ring's append p99.9 is
// muAppend and both snapshot p99.9s are snap.
func stressRuns(t *testing.T, muAppend, snap int, lfAppend ...int) []StressRun {
	t.Helper()
	var paths []string
	for i, lf := range lfAppend {
		paths = append(paths, write(t, fmt.Sprintf("stress-%d.json", i), fmt.Sprintf(`{"schema_version": 1,
			"config": {"writers": 8, "readers": 8},
			"results": [
				{"backend": "mutex", "latency": {"append": {"count": 5, "p99_9_ns": %d}, "snapshot": {"count": 5, "p99_9_ns": %d}}},
				{"backend": "lockfree", "latency": {"append": {"count": 5, "p99_9_ns": %d}, "snapshot": {"count": 5, "p99_9_ns": %d}}}
			]}`, muAppend, snap, lf, snap)))
	}
	runs, err := LoadStress(paths)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// wantRows reports every row that out lacks.
func wantRows(t *testing.T, out string, rows ...string) {
	t.Helper()
	for _, want := range rows {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks the row\n%s\ngot:\n%s", want, out)
		}
	}
}

func TestCheck(t *testing.T) {
	bad := write(t, "bad.txt", `BenchmarkAppend/cap=20/backend=mutex-2 1 1 ns/op
BenchmarkLockfreeAppend4P-2 1 1 ns/op
BenchmarkAppend/backend=mutex/cap=20/level=ring-2 1 1 ns/op
BenchmarkAppend/backend=mutex/level=ring/cap=20-2 1 1 ns/op
`)
	set, err := Load(bad)
	if err != nil {
		t.Fatal(err)
	}
	got := Check(set)
	if len(got) != 3 {
		t.Errorf("Check found %d bad names, want 3: %q", len(got), got)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"check", bad}, &out, &errb); code != 1 {
		t.Errorf("check exit %d, want 1", code)
	}
}

func TestChart(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"chart", write(t, "bench.txt", ringTxt)}, &out, &errb); code != 0 {
		t.Fatalf("chart exit %d: %s", code, errb.String())
	}
	svg := out.String()
	for _, want := range []string{"<svg", "</svg>", "append-only", "read-heavy", "mutex", "lockfree", "<circle", "not measured"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	// One GOMAXPROCS: points, no lines.
	if strings.Contains(svg, "<polyline") {
		t.Error("chart draws a line through a single point")
	}
}

func TestStressTable(t *testing.T) {
	report := write(t, "stress-1.json", `{"schema_version": 1,
		"config": {"writers": 8, "readers": 8},
		"results": [
			{"backend": "mutex", "appends_per_second": 1660000, "snapshots_per_second": 3270000,
			 "latency": {"append": {"count": 5, "p99_ns": 1152, "p99_9_ns": 3447}, "snapshot": {"count": 5, "p99_ns": 481, "p99_9_ns": 1914}},
			 "runtime": {"gc_cycles": 0}},
			{"backend": "sharded", "appends_per_second": 7910000, "snapshots_per_second": 320000,
			 "latency": {"append": {"count": 5, "p99_ns": 260, "p99_9_ns": 32863}, "snapshot": {"count": 5, "p99_ns": 89151, "p99_9_ns": 2612863}},
			 "runtime": {"gc_cycles": 3}}
		]}`)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"stress", report}, &stdout, &stderr); code != 0 {
		t.Fatalf("benchreport stress exited %d: %s", code, stderr.String())
	}
	for _, want := range []string{
		"| run | backend | appends/s | snapshots/s | append p99 | append p99.9 | snapshot p99 | snapshot p99.9 | GC cycles |",
		"| 1 | mutex | 1.66M | 3.27M | 1.2 µs | 3.4 µs | 481 ns | 1.9 µs | 0 |",
		"| 1 | sharded | 7.91M | 0.32M | 260 ns | 32.9 µs | 89.2 µs | 2.6 ms | 3 |",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stress table lacks the row\n%s\ngot:\n%s", want, stdout.String())
		}
	}
	if code := run([]string{"stress", write(t, "v2.json", `{"schema_version": 2}`)}, &stdout, &stderr); code != 2 {
		t.Errorf("a schema_version 2 report: exit %d, want 2", code)
	}
}

// TestTargetsTakeBothTermsFromOneRun: a ratio whose terms are in different
// files compares two runs (other load, other build), not two backends. Here
// bench.txt has only the mutex ring's ReadHeavy and WriteHeavy and
// History.Append and Seed, and peers.txt only lockfree's and sharded's and
// the bare Push: targets 2, 3 and 6 must not be computed across them, and
// where both files have both terms, both come from the first.
func TestTargetsTakeBothTermsFromOneRun(t *testing.T) {
	a := write(t, "bench.txt", `
BenchmarkReadHeavy/backend=mutex/level=ring/cap=20-2      100 40.0 ns/op
BenchmarkWriteHeavy/backend=mutex/level=ring/cap=20-4     100 40.0 ns/op
BenchmarkAppend/backend=mutex/level=history/cap=20-2      100 30.0 ns/op
BenchmarkAppend/backend=lockfree/level=history/cap=20-2   100 30.0 ns/op
BenchmarkAppend/backend=lockfree/level=ring/cap=20-2      100 20.0 ns/op
`)
	b := write(t, "peers.txt", `
BenchmarkReadHeavy/backend=lockfree/level=ring/cap=20-2   100 20.0 ns/op
BenchmarkWriteHeavy/backend=sharded/level=ring/cap=20-4   100 20.0 ns/op
BenchmarkAppend/backend=mutex/level=ring/cap=20-2         100 10.0 ns/op
BenchmarkAppend/backend=lockfree/level=history/cap=20-2   100 99.0 ns/op
BenchmarkAppend/backend=lockfree/level=ring/cap=20-2      100 11.0 ns/op
`)
	set, err := Load(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	Targets(&out, set, 0, nil)
	wantRows(t, out.String(),
		"| 2 | lockfree faster than mutex (mutex ns/op ÷ lockfree) | read-heavy, cap 20, -cpu 2 | not measured |",
		"| 3 | sharded faster than mutex (mutex ns/op ÷ sharded) | write-heavy, cap 20, -cpu 4 | not measured |",
		"| 6 | mutex History.Append ÷ bare Push (ns/op) | append, cap 20, -cpu 2 | not measured |",
		// Both terms in both files: 30 ÷ 20 from bench.txt, not 30 ÷ 11.
		"| 6 | lockfree History.Append ÷ bare Push (ns/op) | append, cap 20, -cpu 2 | 1.50× |",
	)
}

// TestRatioDigits: a ratio far below 1 keeps two significant digits instead
// of printing as 0.00 (bench/RESULTS.md showed 0.0016 as 0.00).
func TestRatioDigits(t *testing.T) {
	for _, c := range []struct {
		x    float64
		want string
	}{
		{0.0016, "0.0016"}, {0.00156, "0.0016"}, {0.05, "0.050"}, {0.5, "0.50"}, {0.52, "0.52"},
		{1, "1.00"}, {2.18, "2.18"}, {13.35, "13.35"}, {123.4, "123.40"},
	} {
		if got := fmtRatio(c.x); got != c.want {
			t.Errorf("fmtRatio(%v) = %q, want %q", c.x, got, c.want)
		}
	}
	runs := stressRuns(t, 9000, 9000, 14, 9000) // run 1: 14 ns ÷ 9 µs = 0.0016
	var out bytes.Buffer
	tailRows(&out, runs)
	wantRows(t, out.String(), "(median of 2 runs: 0.0016, 1.00)")
}
