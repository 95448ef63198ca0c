//go:build unix

package resilient_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per op since start (from
// cpuTime) as cpu-ns/op: unlike ns/op it does not grow while the
// benchmark waits for a CPU that other processes hold, so it shows what
// a call costs on a loaded machine. It includes the runtime's work (GC)
// and every goroutine of the process.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
