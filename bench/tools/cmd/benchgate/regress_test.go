package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRegressScriptUnmatched runs bench/regress.sh, the gate benchgate is
// the decision step of, on a throwaway repository whose work tree renamed a
// benchmark function (Old became New) and a sub-benchmark (Same/k=1 became
// Same/k=2) of its BASE commit. Nothing compares them, so the strict gate
// must fail and name them, unless ALLOW_UNMATCHED=1, also when BENCH
// selects a sub-benchmark that only one side has (then the other side has
// no result at all); CI mode must list them and pass. It builds the
// fixture's benchmarks, benchgate and benchstat, so it takes some seconds.
func TestRegressScriptUnmatched(t *testing.T) {
	repo := fixtureRepo(t, fixtureBench("Old", "k=1"), fixtureBench("New", "k=2")) // the work tree: renamed

	// The threshold is out of reach: this test is about what is compared,
	// not about noise in one-iteration timings.
	env := []string{"BASE=HEAD", "ROUNDS=10", "BENCHTIME=1x", "THRESHOLD=1000", "OUT=" + filepath.Join(repo, "out")}
	for _, c := range []struct {
		name  string
		env   []string
		code  int
		wants []string
	}{
		{"strict", nil, 1, []string{"FAIL", "only in base: Old", "only in head: New"}},
		{"strict, allowed", []string{"ALLOW_UNMATCHED=1"}, 0, []string{"only in base: Old", "only in head: New",
			"only in base: Same/k=1", "only in head: Same/k=2", "PASS"}},
		{"ci", []string{"MODE=ci"}, 0, []string{"only in base: Old", "only in head: New",
			"only in base: Same/k=1", "only in head: Same/k=2", "PASS"}},
		// The functions match; only benchstat's rows show the renamed
		// sub-benchmark.
		{"strict, sub-benchmarks", []string{"BENCH=Same"}, 1, []string{"FAIL", "only in base: Same/k=1", "only in head: Same/k=2"}},
		// The sub-pattern selects a sub-benchmark of one side only: the
		// other side has no result at all, and benchstat drops its
		// column.
		{"strict, one side empty", []string{"BENCH=Same/k=1"}, 1, []string{"FAIL", "only in base: Same/k=1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			runGate(t, repo, append(env, c.env...), c.code, c.wants)
		})
	}
}

// fixtureRepo returns a throwaway repository holding bench/regress.sh and
// benchgate, whose one commit has base as its benchmark file and whose
// work tree has head instead.
func fixtureRepo(t *testing.T, base, head string) string {
	t.Helper()
	for _, tool := range []string{"git", "bash", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run bench/regress.sh: %v", tool, err)
		}
	}
	root := strings.TrimSpace(runIn(t, ".", nil, "git", "rev-parse", "--show-toplevel"))
	repo := t.TempDir()
	for _, f := range []string{"bench/regress.sh", "bench/tools/go.mod", "bench/tools/go.sum", "bench/tools/cmd/benchgate/main.go"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(repo, f), string(b))
	}
	writeFile(t, filepath.Join(repo, "go.mod"), "module example.com/fixture\n\ngo 1.26\n")
	bench := filepath.Join(repo, "bench", "x_bench_test.go")
	writeFile(t, bench, base)
	git := func(args ...string) {
		runIn(t, repo, nil, "git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "base")
	writeFile(t, bench, head)
	return repo
}

// runGate runs bench/regress.sh in repo with env added, checks its exit
// code and that its output holds each of wants, and returns the output.
func runGate(t *testing.T, repo string, env []string, code int, wants []string) string {
	t.Helper()
	cmd := exec.Command("bash", "bench/regress.sh")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if got := cmd.ProcessState.ExitCode(); got != code {
		t.Errorf("exit %d (%v), want %d\n%s", got, err, code, out.String())
	}
	for _, want := range wants {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	return out.String()
}

// fixtureBench is the fixture's benchmark file: Same, with the
// sub-benchmarks k=0 and sub, and a function named renamed.
func fixtureBench(renamed, sub string) string {
	return `package bench

import "testing"

var sink int

func BenchmarkSame(b *testing.B) {
	for _, name := range []string{"k=0", "` + sub + `"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				sink++
			}
		})
	}
}

func Benchmark` + renamed + `(b *testing.B) {
	for range b.N {
		sink++
	}
}
`
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runIn runs a command in dir and returns its standard output; it fails
// the test if the command fails.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr.String())
	}
	return string(out)
}

// TestRegressScriptConfirms: a benchmark the gate flags runs again, alone,
// for ROUNDS more rounds, and the gate fails only if it is worse again.
// Flaky is 2 ms slower in its work tree's first ten runs only (the main
// rounds: a slow spell) and passes; Slow is 2 ms slower in every run (a
// regression) and fails, also after confirmation; CONFIRM=0 fails on the
// first run.
func TestRegressScriptConfirms(t *testing.T) {
	repo := fixtureRepo(t, confirmBench(false), confirmBench(true))

	env := []string{"BASE=HEAD", "ROUNDS=10", "BENCHTIME=1x", "THRESHOLD=50", "OUT=" + filepath.Join(repo, "out")}
	for _, c := range []struct {
		name  string
		env   []string
		code  int
		wants []string
	}{
		{"a slow spell", []string{"BENCH=Flaky"}, 0, []string{"FAIL: 1 of", "confirming 1 flagged", "PASS: the flagged benchmarks were not worse again"}},
		{"a regression", []string{"BENCH=Slow"}, 1, []string{"confirming 1 flagged", "Slow"}},
		{"no confirmation", []string{"BENCH=Flaky", "CONFIRM=0"}, 1, []string{"FAIL: 1 of"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := runGate(t, repo, append(env, c.env...), c.code, c.wants)
			if c.name == "no confirmation" && strings.Contains(out, "confirming") {
				t.Errorf("CONFIRM=0 confirmed:\n%s", out)
			}
		})
	}
}

// confirmBench is TestRegressScriptConfirms's benchmark file: the base's
// (slow false) Flaky and Slow do nothing; the work tree's Slow sleeps 2 ms
// in every run and Flaky in its first ten (twenty calls: at -benchtime 1x
// go test calls a benchmark function twice per run), counted in a file of
// the directory the gate runs the binaries in (a new one per gate run).
func confirmBench(slow bool) string {
	return `package bench

import (
	"os"
	"strconv"
	"testing"
	"time"
)

const slow = ` + strconv.FormatBool(slow) + `

func BenchmarkFlaky(b *testing.B) {
	n, _ := os.ReadFile("flaky.count")
	runs, _ := strconv.Atoi(string(n))
	os.WriteFile("flaky.count", []byte(strconv.Itoa(runs+1)), 0o644)
	b.ResetTimer()
	for range b.N {
		if slow && runs < 20 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func BenchmarkSlow(b *testing.B) {
	for range b.N {
		if slow {
			time.Sleep(2 * time.Millisecond)
		}
	}
}
`
}
