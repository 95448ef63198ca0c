// Command benchgate is the decision step of chatring's performance-regression
// gate (bench/regress.sh, `make bench-regress`). It reads the CSV that
// `benchstat -format csv base=old.txt head=new.txt` prints and exits with
// status 1 when some benchmark got worse by more than a threshold in a change
// benchstat calls statistically significant.
//
// benchstat already did the statistics: it writes "~" in the "vs base" column
// when the Mann-Whitney U test cannot tell base and head apart at its -alpha,
// and the change of the medians ("+12.34%") otherwise. benchgate only reads
// that column, so the significance level is benchstat's -alpha.
//
// Usage:
//
//	benchstat -format csv base=a.txt head=b.txt | benchgate [-threshold 10%] [-units sec/op,allocs/op] [-allow-unmatched]
//
// Units where more is better (ops/s and other */s rates) count a decrease as
// worse; every other unit counts an increase.
//
// A benchmark with results on one side only (renamed, added or removed)
// is compared with nothing, so a renamed workload that got twice as slow
// would otherwise pass unseen. benchgate lists every such benchmark and
// fails (status 1) unless -allow-unmatched is given, when it lists them as
// not compared and decides on the rest.
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	threshold := fs.String("threshold", "10%", "fail on a significant change worse than this `percentage`")
	units := fs.String("units", "sec/op,allocs/op", "comma-separated `units` to gate on")
	allowUnmatched := fs.Bool("allow-unmatched", false, "list benchmarks that ran on one side only instead of failing on them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	limit, err := parsePercent(*threshold)
	if err != nil {
		fmt.Fprintf(stderr, "benchgate: -threshold: %v\n", err)
		return 2
	}
	changes, err := Parse(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "benchgate: %v\n", err)
		return 2
	}
	gated := strings.Split(*units, ",")
	compared, worse := 0, []Change(nil)
	only := map[string][]string{} // side -> names, each once
	for _, c := range changes {
		if !slices.Contains(gated, c.Unit) {
			continue
		}
		if c.Only != "" {
			if !slices.Contains(only[c.Only], c.Name) {
				only[c.Only] = append(only[c.Only], c.Name)
			}
			continue
		}
		compared++
		if c.Significant && c.Worse() > limit {
			worse = append(worse, c)
		}
	}
	unmatched := len(only["base"]) + len(only["head"])
	if unmatched > 0 {
		if *allowUnmatched {
			fmt.Fprintf(stdout, "benchgate: %d benchmarks ran on one side only and are not compared:\n", unmatched)
		} else {
			fmt.Fprintf(stdout, "benchgate: FAIL: %d benchmarks ran on one side only, so nothing compares them (renamed, added or removed?); -allow-unmatched lets that pass:\n", unmatched)
		}
		for _, side := range []string{"base", "head"} {
			if names := only[side]; len(names) > 0 {
				slices.Sort(names)
				fmt.Fprintf(stdout, "  only in %s: %s\n", side, strings.Join(names, ", "))
			}
		}
	}
	if unmatched > 0 && !*allowUnmatched {
		if len(worse) > 0 {
			printWorse(stdout, worse, compared, limit)
		}
		return 1 // even when nothing else was compared: that is why
	}
	if compared == 0 {
		fmt.Fprintf(stderr, "benchgate: no benchmark in units %s was compared\n", *units)
		return 2
	}
	if len(worse) == 0 {
		fmt.Fprintf(stdout, "benchgate: PASS: %d comparisons in %s, none significantly worse by more than %g%%\n",
			compared, *units, limit)
		return 0
	}
	printWorse(stdout, worse, compared, limit)
	return 1
}

// printWorse lists the comparisons that failed the threshold.
func printWorse(w io.Writer, worse []Change, compared int, limit float64) {
	fmt.Fprintf(w, "benchgate: FAIL: %d of %d comparisons significantly worse by more than %g%%:\n",
		len(worse), compared, limit)
	for _, c := range worse {
		fmt.Fprintf(w, "  %s  %s  %+.2f%%  (%s)\n", c.Name, c.Unit, c.Delta, c.P)
	}
}

// Change is one row of a benchstat comparison: a benchmark in one unit.
type Change struct {
	Name string // benchmark name as benchstat prints it
	Unit string // "sec/op", "allocs/op", ...
	// Significant reports whether benchstat found the difference
	// significant (its "vs base" column is not "~").
	Significant bool
	// Delta is the change of the median from base to head, in percent
	// (+10 means head's median is 10% higher); NaN when not significant
	// or not computable ("?").
	Delta float64
	P     string // the P column, e.g. "p=0.000 n=10"
	// Only is "base" or "head" when the benchmark has results on that
	// side only, "" when it has both. Such a row has no comparison.
	Only string
}

// Worse returns how much worse head is than base, in percent: Delta, or
// -Delta for units where more is better. It is 0 when not significant.
func (c Change) Worse() float64 {
	if !c.Significant || math.IsNaN(c.Delta) {
		return 0
	}
	if higherIsBetter(c.Unit) {
		return -c.Delta
	}
	return c.Delta
}

func higherIsBetter(unit string) bool {
	return strings.HasSuffix(unit, "/s")
}

// Parse reads benchstat's CSV output (two inputs, base and head). It
// returns every benchmark row of every unit table, without the geomean
// rows.
func Parse(r io.Reader) ([]Change, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	var (
		out              []Change
		unit             string
		baseCol, headCol = -1, -1 // the two sides' value columns
		vsCol, pCol      = -1, -1
		sawComparisons   bool
	)
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case len(row) < 3:
			// A configuration line ("goos: linux") or a blank one.
		case row[0] == "" && row[2] == "CI":
			// The unit header: ",sec/op,CI,sec/op,CI,vs base,P": each
			// side's value, then its confidence interval.
			unit = row[1]
			vsCol, pCol = slices.Index(row, "vs base"), slices.Index(row, "P")
			baseCol, headCol = 1, -1
			if len(row) > 3 && row[3] == unit {
				headCol = 3
			}
			sawComparisons = sawComparisons || vsCol >= 0
		case row[0] == "":
			// The inputs header: ",base,,head,,,".
		case row[0] == "geomean" || unit == "" || vsCol < 0:
		case headCol >= 0 && (cell(row, baseCol) == "") != (cell(row, headCol) == ""):
			// One side only: benchstat leaves the other side's cells
			// empty, or leaves them out at the end of the row.
			c := Change{Name: row[0], Unit: unit, Delta: math.NaN(), Only: "base"}
			if cell(row, baseCol) == "" {
				c.Only = "head"
			}
			out = append(out, c)
		case vsCol >= len(row):
		default:
			c := Change{Name: row[0], Unit: unit, Delta: math.NaN()}
			if pCol >= 0 && pCol < len(row) {
				c.P = row[pCol]
			}
			switch v := row[vsCol]; v {
			case "~", "?", "":
			default:
				d, err := parsePercent(v)
				if err != nil {
					return nil, fmt.Errorf("benchmark %s: vs base %q: %v", c.Name, v, err)
				}
				c.Significant, c.Delta = true, d
			}
			out = append(out, c)
		}
	}
	if !sawComparisons {
		return nil, errors.New("no comparison in the input: give benchstat two inputs, base and head")
	}
	return out, nil
}

// cell returns row[i], or "" when the row is shorter.
func cell(row []string, i int) string {
	if i < len(row) {
		return row[i]
	}
	return ""
}

// parsePercent parses "+12.5%", "-3%", "10", "+Inf%".
func parsePercent(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("not a percentage: %q", s)
	}
	return f, nil
}
