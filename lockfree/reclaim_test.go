//go:build race

package lockfree

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/ringbuf/ringtest"
)

const unsafeEnv = "LOCKFREE_REUSE_UNSAFELY"

// TestUnsafeReuseChild is the child process of TestSuiteCatchesUnsafeReuse:
// with $LOCKFREE_REUSE_UNSAFELY set it runs the conformance suite's
// concurrent cases on a ring that recycles entries without waiting for the
// reclamation epochs. Run directly, without that variable, it has nothing
// to do.
func TestUnsafeReuseChild(t *testing.T) {
	if os.Getenv(unsafeEnv) == "" {
		return
	}
	reuseUnsafely = true
	ringtest.Run(t, func(capacity int) ringbuf.Buffer[ringtest.Item] {
		return New[ringtest.Item](capacity)
	})
}

// TestSuiteCatchesUnsafeReuse shows that the epochs are what makes entry
// reuse safe: without them a reader copies an entry that a writer is
// refilling, which the race detector reports (and the suite's checks may
// see as a window that is not the pushes its sequence numbers name). The
// window is a few instructions wide, so only the race detector catches it
// reliably: this file is built with -race only, as make test runs.
func TestSuiteCatchesUnsafeReuse(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in a child process; skipped with -short")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestUnsafeReuseChild$/^(Hammer|Linearizable)$",
		"-ringtest.histories=50", "-ringtest.hammer=500", "-ringtest.visdir=", "-ringtest.timeout=20s", "-test.count=1")
	cmd.Env = append(os.Environ(), unsafeEnv+"=1")
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); !ok {
		t.Fatalf("the suite passed a ring that reuses entries unsafely (err = %v):\n%s", err, out)
	}
	// Any of the suite's ways of failing will do: a check, the race
	// detector, or the watchdog (a recycled entry can send a reader round
	// and round its retry loop).
	if s := string(out); !strings.Contains(s, "--- FAIL: TestUnsafeReuseChild/") &&
		!strings.Contains(s, "DATA RACE") && !strings.Contains(s, "ringtest: TestUnsafeReuseChild") {
		t.Fatalf("the child failed, but not in the suite:\n%s", out)
	}
	t.Logf("child output, first lines:\n%s", firstLines(string(out), 12))
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
