package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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
	writeFile(t, bench, fixtureBench("Old", "k=1"))
	git := func(args ...string) {
		runIn(t, repo, nil, "git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "base")
	writeFile(t, bench, fixtureBench("New", "k=2")) // the work tree: renamed

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
			cmd := exec.Command("bash", "bench/regress.sh")
			cmd.Dir = repo
			cmd.Env = append(append(os.Environ(), env...), c.env...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != c.code {
				t.Errorf("exit %d (%v), want %d\n%s", code, err, c.code, out.String())
			}
			for _, want := range c.wants {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
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
