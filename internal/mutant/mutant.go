// Package mutant checks that a conformance suite catches a broken
// implementation: it runs the suite's test in a child process (the
// current test binary) with an environment variable naming the broken
// implementation, and asserts that the expected cases fail. Used by
// storetest and ringbuf/ringtest.
package mutant

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Runs is how many times the suite may run for every expected case to
// fail in at least one run: the cases are probabilistic (a race must hit
// the fault), and on a quiet machine one run now and then misses.
const Runs = 3

// Caught runs the test binary's test (a top-level test name such as
// "TestBrokenStore") restricted to cases, with env set in the child's
// environment and args added to its command line. Every run must fail,
// and every case must fail ("--- FAIL: test/case ") in one of at most
// Runs runs; otherwise Caught reports the misses and logs the output.
func Caught(t *testing.T, test, env string, cases, args []string) {
	t.Helper()
	pattern := "^" + test + "$/^(" + strings.Join(cases, "|") + ")$"
	var out []byte
	missed := cases
	for run := 0; run < Runs && len(missed) > 0; run++ {
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=" + pattern}, args...)...)
		cmd.Env = append(os.Environ(), env)
		o, err := cmd.CombinedOutput()
		out = append(out, o...)
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("the suite passed %s, or could not run (err = %v):\n%s", env, err, o)
		}
		var still []string
		for _, c := range missed {
			if !strings.Contains(string(o), "--- FAIL: "+test+"/"+c+" ") {
				still = append(still, c)
			}
		}
		missed = still
	}
	for _, c := range missed {
		t.Errorf("the suite's %s case did not fail on %s in %d runs", c, env, Runs)
	}
	if t.Failed() {
		t.Logf("suite output:\n%s", out)
	}
}
