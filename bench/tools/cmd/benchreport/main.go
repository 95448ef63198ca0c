// Command benchreport reads the output of chatring's benchmarks (go test
// -bench, as written by `make bench` and `make bench-peers`) and writes what
// `make bench-report` puts in bench/RESULTS.md and bench/throughput.svg.
//
// Usage:
//
//	benchreport check FILE...                      # every name pivots on /backend
//	benchreport chart -o throughput.svg FILE...    # throughput against goroutines
//	benchreport targets [-python-ns N] FILE...     # issue 6's targets as ratios
//	benchreport stress REPORT.json...              # the stress CLI's figures, a table
//
// When a benchmark appears in several files (chatring's backends run both in
// bench/ and, beside the peers, in bench/peers), the first file that has it
// wins, so list bench.txt before peers.txt. A ratio takes both of its terms
// from one file, the first that has both, never one from each: two files
// are two runs, under different load.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: benchreport check|chart|targets|stress [flags] FILE...")
		return 2
	}
	fs := flag.NewFlagSet("benchreport "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "chart: write the SVG to `file` (default stdout)")
	pythonNs := fs.Float64("python-ns", 0, "targets: the seed's Python manager, `ns` per append (0: not measured)")
	stressFiles := fs.String("stress", "", "targets: comma-separated cmd/stress JSON `reports` for the tail-latency target")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "benchreport: no input files")
		return 2
	}
	if args[0] == "stress" {
		runs, err := LoadStress(fs.Args())
		if err != nil {
			fmt.Fprintf(stderr, "benchreport: %v\n", err)
			return 2
		}
		StressTable(stdout, runs)
		return 0
	}
	set, err := Load(fs.Args()...)
	if err != nil {
		fmt.Fprintf(stderr, "benchreport: %v\n", err)
		return 2
	}
	switch args[0] {
	case "check":
		bad := Check(set)
		for _, b := range bad {
			fmt.Fprintln(stdout, b)
		}
		if len(bad) > 0 {
			fmt.Fprintf(stdout, "benchreport: %d benchmark names do not follow backend=/level=/... order\n", len(bad))
			return 1
		}
		fmt.Fprintf(stdout, "benchreport: %d results, every name has backend= first and keys in order %v\n",
			set.N, KeyOrder)
		return 0
	case "chart":
		var buf bytes.Buffer
		if err := Chart(&buf, set); err != nil {
			fmt.Fprintf(stderr, "benchreport: %v\n", err)
			return 1
		}
		if *out == "" {
			_, err = stdout.Write(buf.Bytes())
		} else {
			err = os.WriteFile(*out, buf.Bytes(), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "benchreport: %v\n", err)
			return 1
		}
		return 0
	case "targets":
		var runs []StressRun
		if *stressFiles != "" {
			if runs, err = LoadStress(strings.Split(*stressFiles, ",")); err != nil {
				fmt.Fprintf(stderr, "benchreport: %v\n", err)
				return 2
			}
		}
		Targets(stdout, set, *pythonNs, runs)
		return 0
	}
	fmt.Fprintf(stderr, "benchreport: unknown command %q\n", args[0])
	return 2
}

// KeyOrder is the order of the key=value parts of every benchmark name.
// A name may leave keys out but not reorder them; backend comes first.
var KeyOrder = []string{"backend", "level", "cap", "msg", "convs", "dist", "goroutines", "budget"}

// Sample is one benchmark result line.
type Sample struct {
	File   int    // index of the input file
	Name   string // full name without GOMAXPROCS, e.g. "Append/backend=mutex/level=ring/cap=20"
	Base   string // "Append"
	Keys   map[string]string
	Order  []string // keys in the order the name has them
	Procs  int      // GOMAXPROCS, from the -N suffix (1 if absent)
	Values map[string]float64
}

// Set is every sample of every input file.
type Set struct {
	Samples []Sample
	N       int
	Files   int // input files, numbered 0 … Files-1 in Sample.File
}

// Load reads benchmark results from files, in order.
func Load(files ...string) (*Set, error) {
	set := &Set{Files: len(files)}
	for i, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		r := benchfmt.NewReader(f, name)
		for r.Scan() {
			res, ok := r.Result().(*benchfmt.Result)
			if !ok {
				continue // a syntax error or unit metadata: benchstat warns, so do we not
			}
			s := Sample{File: i, Keys: map[string]string{}, Procs: 1, Values: map[string]float64{}}
			base, parts := res.Name.Parts()
			s.Base = string(base)
			var name strings.Builder
			name.Write(base)
			for _, p := range parts {
				switch p[0] {
				case '-':
					s.Procs, _ = strconv.Atoi(string(p[1:]))
					continue
				case '/':
					k, v, ok := strings.Cut(string(p[1:]), "=")
					if !ok {
						k, v = "", string(p[1:])
					}
					s.Keys[k] = v
					s.Order = append(s.Order, k)
				}
				name.Write(p)
			}
			s.Name = name.String()
			for _, v := range res.Values {
				s.Values[v.Unit] = v.Value
			}
			set.Samples = append(set.Samples, s)
			set.N++
		}
		err = r.Err()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if set.N == 0 {
		return nil, errors.New("no benchmark results in the input")
	}
	return set, nil
}

// Check returns a line per benchmark name that benchstat could not pivot
// with -col /backend, or whose keys are out of order.
func Check(set *Set) []string {
	seen := map[string]bool{}
	var bad []string
	for _, s := range set.Samples {
		if seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		switch {
		case len(s.Order) == 0 || s.Order[0] != "backend":
			bad = append(bad, s.Name+": first part is not backend=")
		case !inOrder(s.Order):
			bad = append(bad, fmt.Sprintf("%s: keys %v not in order %v", s.Name, s.Order, KeyOrder))
		}
	}
	return bad
}

func inOrder(keys []string) bool {
	last := -1
	for _, k := range keys {
		i := slices.Index(KeyOrder, k)
		if i <= last {
			return false
		}
		last = i
	}
	return true
}

// Query selects samples: a benchmark (Base) and required key values.
type Query struct {
	Base string
	Keys map[string]string
}

// Median returns the median of unit over the samples matching q at procs
// GOMAXPROCS, taken from the first file that has any, and the count.
func (set *Set) Median(q Query, procs int, unit string) (float64, int) {
	return set.MedianIn(-1, q, procs, unit)
}

// Pair returns the medians of unit over the samples matching a and b at
// procs GOMAXPROCS, both from the first file that has samples of both, and
// that file's index; ok is false when no file has both. A ratio of the two
// then compares two benchmarks of one run.
func (set *Set) Pair(a, b Query, procs int, unit string) (x, y float64, file int, ok bool) {
	for f := range set.Files {
		x, n := set.MedianIn(f, a, procs, unit)
		y, m := set.MedianIn(f, b, procs, unit)
		if n > 0 && m > 0 {
			return x, y, f, true
		}
	}
	return 0, 0, -1, false
}

// MedianIn is Median restricted to one file (any file if file < 0), so
// that a ratio can take both of its terms from the same run.
func (set *Set) MedianIn(file int, q Query, procs int, unit string) (float64, int) {
	var vals []float64
	for _, s := range set.Samples {
		if s.Base != q.Base || s.Procs != procs || (file >= 0 && s.File != file) || !matches(s, q.Keys) {
			continue
		}
		v, ok := s.Values[unit]
		if !ok {
			continue
		}
		file = s.File
		vals = append(vals, v)
	}
	if len(vals) == 0 {
		return 0, 0
	}
	sort.Float64s(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2], n
	}
	return (vals[n/2-1] + vals[n/2]) / 2, n
}

func matches(s Sample, keys map[string]string) bool {
	for k, v := range keys {
		if s.Keys[k] != v {
			return false
		}
	}
	return true
}

// Values lists the distinct values of key among samples of base, in order
// of first appearance.
func (set *Set) Values(base, key string) []string {
	var out []string
	for _, s := range set.Samples {
		if v, ok := s.Keys[key]; ok && s.Base == base && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Procs lists the GOMAXPROCS values present, ascending.
func (set *Set) Procs() []int {
	var out []int
	for _, s := range set.Samples {
		if !slices.Contains(out, s.Procs) {
			out = append(out, s.Procs)
		}
	}
	slices.Sort(out)
	return out
}
