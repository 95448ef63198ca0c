//go:build !unix

package main

import "os"

// This system has no SIGSTOP: -faults freeze is refused.
var stopSignal, contSignal os.Signal
