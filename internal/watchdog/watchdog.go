// Package watchdog fails a hung test fast, with the evidence: the
// conformance suites (ringbuf/ringtest, storetest) run each case under one.
package watchdog

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// Start panics, printing every goroutine's stack to standard error, if the
// returned stop function is not called within d: a hung implementation then
// fails with the stacks instead of waiting for go test's global timeout.
// suite names the package in the messages.
func Start(suite, name string, d time.Duration) (stop func()) {
	timer := time.AfterFunc(d, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s: %s did not finish within %v; goroutines:\n%s\n", suite, name, d, buf)
		panic(suite + ": " + name + " hung")
	})
	return func() { timer.Stop() }
}
