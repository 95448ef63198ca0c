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
//	benchstat -format csv base=a.txt head=b.txt | benchgate [-threshold 10%] [-units sec/op,allocs/op]
//
// Units where more is better (ops/s and other */s rates) count a decrease as
// worse; every other unit counts an increase.
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
	for _, c := range changes {
		if !slices.Contains(gated, c.Unit) {
			continue
		}
		compared++
		if c.Significant && c.Worse() > limit {
			worse = append(worse, c)
		}
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
	fmt.Fprintf(stdout, "benchgate: FAIL: %d of %d comparisons significantly worse by more than %g%%:\n",
		len(worse), compared, limit)
	for _, c := range worse {
		fmt.Fprintf(stdout, "  %s  %s  %+.2f%%  (%s)\n", c.Name, c.Unit, c.Delta, c.P)
	}
	return 1
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
		out            []Change
		unit           string
		vsCol, pCol    = -1, -1
		sawComparisons bool
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
			// The unit header: ",sec/op,CI,sec/op,CI,vs base,P".
			unit = row[1]
			vsCol, pCol = slices.Index(row, "vs base"), slices.Index(row, "P")
			sawComparisons = sawComparisons || vsCol >= 0
		case row[0] == "":
			// The inputs header: ",base,,head,,,".
		case row[0] == "geomean" || unit == "" || vsCol < 0 || vsCol >= len(row):
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

// parsePercent parses "+12.5%", "-3%", "10", "+Inf%".
func parsePercent(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("not a percentage: %q", s)
	}
	return f, nil
}
