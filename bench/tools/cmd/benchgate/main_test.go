package main

import (
	"bytes"
	"strings"
	"testing"
)

// sample is benchstat -format csv output trimmed to two units, with one
// significant slowdown, one significant speedup, one change within noise
// and an allocation that appeared.
const sample = `goos: linux
goarch: amd64
pkg: github.com/chatring/chatring/bench
cpu: AMD EPYC
,base,,head,,,
,sec/op,CI,sec/op,CI,vs base,P
Append/backend=mutex/level=ring/cap=20-2,3.6e-08,2%,7.2e-08,3%,+100.00%,p=0.000 n=10
Append/backend=lockfree/level=ring/cap=20-2,1.6e-07,5%,1.2e-07,4%,-25.00%,p=0.000 n=10
Append/backend=sharded/level=ring/cap=20-2,6.3e-08,68%,5.4e-08,36%,~,p=0.310 n=10
geomean,7.3e-08,,6.9e-08,,+5.41%,

,base,,head,,,
,ops/s,CI,ops/s,CI,vs base,P
Append/backend=mutex/level=ring/cap=20-2,2.8e+07,2%,1.4e+07,3%,-50.00%,p=0.000 n=10

,base,,head,,,
,allocs/op,CI,allocs/op,CI,vs base,P
Append/backend=mutex/level=ring/cap=20-2,0,0%,1,0%,+Inf%,p=0.000 n=10
Append/backend=lockfree/level=ring/cap=20-2,1,0%,1,0%,~,p=1.000 n=10
`

func TestParse(t *testing.T) {
	cs, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 6 {
		t.Fatalf("got %d rows, want 6: %+v", len(cs), cs)
	}
	want := []struct {
		unit  string
		worse float64
	}{{"sec/op", 100}, {"sec/op", -25}, {"sec/op", 0}, {"ops/s", 50}, {"allocs/op", 0}, {"allocs/op", 0}}
	for i, w := range want {
		if cs[i].Unit != w.unit {
			t.Errorf("row %d: unit %q, want %q", i, cs[i].Unit, w.unit)
		}
		if i == 4 {
			continue // +Inf
		}
		if got := cs[i].Worse(); got != w.worse {
			t.Errorf("row %d (%s %s): Worse() = %v, want %v", i, cs[i].Name, cs[i].Unit, got, w.worse)
		}
	}
	if w := cs[4].Worse(); w < 1e308 {
		t.Errorf("0 -> 1 allocs/op: Worse() = %v, want +Inf", w)
	}
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-threshold", "10%"}, 1, "2 of 5 comparisons"},
		{[]string{"-threshold", "150", "-units", "sec/op"}, 0, "PASS: 3 comparisons"},
		{[]string{"-threshold", "40", "-units", "ops/s"}, 1, "1 of 1"},
		{[]string{"-units", "B/op"}, 2, ""},
		{[]string{"-threshold", "ten"}, 2, ""},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, strings.NewReader(sample), &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("run(%q) = %d, %q (stderr %q); want %d and %q", tc.args, code, out.String(), errb.String(), tc.code, tc.out)
		}
	}
}

func TestParseOneInput(t *testing.T) {
	one := ",a.txt,\n,sec/op,CI\nX-2,1e-9,2%\n"
	if _, err := Parse(strings.NewReader(one)); err == nil {
		t.Error("Parse of a one-input table: no error, want one")
	}
}

// unmatched is benchstat -format csv output where a benchmark ran on one
// side only: Old was renamed New (and got 2x slower), and Append's cap=20
// sub-benchmark became capacity=20. benchstat prints such rows with the
// other side's columns empty (or missing) and no comparison.
const unmatched = `goos: linux
goarch: amd64
pkg: github.com/chatring/chatring/bench
,base,,head,,,
,sec/op,CI,sec/op,CI,vs base,P
Same-2,1e-08,2%,1e-08,2%,~,p=1.000 n=10
Old-2,1e-08,2%
New-2,,,2e-08,1%
Append/cap=20-2,3e-08,1%
Append/capacity=20-2,,,3e-08,1%
geomean,1.2e-08,,1.6e-08,,+0.00%,

,base,,head,,,
,allocs/op,CI,allocs/op,CI,vs base,P
Same-2,0,0%,0,0%,~,p=1.000 n=10
Old-2,0,0%
New-2,,,0,0%
Append/cap=20-2,0,0%
Append/capacity=20-2,,,0,0%
geomean,,,,,+0.00%,
`

func TestParseUnmatched(t *testing.T) {
	cs, err := Parse(strings.NewReader(unmatched))
	if err != nil {
		t.Fatal(err)
	}
	only := map[string]string{}
	for _, c := range cs {
		if c.Only != "" {
			only[c.Name] = c.Only
		}
	}
	want := map[string]string{"Old-2": "base", "New-2": "head", "Append/cap=20-2": "base", "Append/capacity=20-2": "head"}
	if len(only) != len(want) {
		t.Errorf("one-sided rows %v, want %v", only, want)
	}
	for name, side := range want {
		if only[name] != side {
			t.Errorf("%s: only in %q, want %q", name, only[name], side)
		}
	}
}

// TestRunUnmatched: a benchmark present on one side only must fail the
// strict gate, with the names listed, and be listed (not failed) when
// allowed, as CI mode does.
func TestRunUnmatched(t *testing.T) {
	names := []string{"only in base: Append/cap=20-2, Old-2", "only in head: Append/capacity=20-2, New-2"}
	var out, errb bytes.Buffer
	if code := run(nil, strings.NewReader(unmatched), &out, &errb); code != 1 {
		t.Errorf("strict: exit %d, want 1\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range append(names, "FAIL") {
		if !strings.Contains(out.String(), want) {
			t.Errorf("strict output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"-allow-unmatched"}, strings.NewReader(unmatched), &out, &errb); code != 0 {
		t.Errorf("-allow-unmatched: exit %d, want 0\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range append(names, "PASS", "not compared") {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-allow-unmatched output lacks %q:\n%s", want, out.String())
		}
	}
}

// allUnmatched is benchstat -format csv output (from a real run of
// bench/regress.sh with BENCH=Same) where every sub-benchmark was renamed:
// nothing is compared at all.
const allUnmatched = `goos: linux
goarch: amd64
pkg: example.com/fixture/bench
,base,,head,,,
,sec/op,CI,sec/op,CI,vs base,P
Same/k=0-2,8.05e-07,56%
Same/k=1-2,9.455000000000001e-07,35%
Same/k=5-2,,,7.94e-07,30%
geomean,8.724262146451136e-07,,7.939999999999995e-07,,?,
`

// TestRunAllUnmatched: when every benchmark ran on one side only, the
// strict gate fails for that reason (status 1, as for any unmatched
// benchmark, with the names), not with the usage-error status 2 of "no
// benchmark compared"; allowed, there is nothing left to decide on, which
// is an error.
func TestRunAllUnmatched(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, strings.NewReader(allUnmatched), &out, &errb); code != 1 {
		t.Errorf("strict: exit %d, want 1\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"FAIL", "only in base: Same/k=0-2, Same/k=1-2", "only in head: Same/k=5-2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("strict output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"-allow-unmatched"}, strings.NewReader(allUnmatched), &out, &errb); code != 2 {
		t.Errorf("-allow-unmatched: exit %d, want 2 (nothing compared)\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "only in head: Same/k=5-2") || !strings.Contains(errb.String(), "no benchmark") {
		t.Errorf("-allow-unmatched: stdout %q, stderr %q", out.String(), errb.String())
	}
}
