//go:build unix

package main

import (
	"os"
	"syscall"
)

// The signals that freeze and continue a redis-server (-faults freeze).
var stopSignal, contSignal os.Signal = syscall.SIGSTOP, syscall.SIGCONT
