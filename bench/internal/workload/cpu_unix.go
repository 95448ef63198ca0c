//go:build unix

package workload

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time, user and system, that the process has
// used so far, and true; false where it cannot be read.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
