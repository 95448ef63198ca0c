package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go watchSignals(sigs, cancel, os.Stderr, exitNow)

	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sigs)
	os.Exit(exitCode(err, os.Stderr))
}

// exitNow ends the process with status code at once, as a second signal
// asks, but first completes a -cpuprofile: the profile is written when it
// stops, so without this it would be left empty or cut off. (If the run is
// stopping the profile itself at that moment, StopCPUProfile waits for it.)
// It also stops the redis-servers the run started, which would otherwise
// leave their temporary directories behind.
func exitNow(code int) {
	pprof.StopCPUProfile()
	startedServers.stopAll()
	os.Exit(code)
}

// watchSignals cancels the run on the first signal from sigs, so that it
// stops and prints its report, and calls exit (128 + the signal number, as
// shells report a death by signal) on the second.
func watchSignals(sigs <-chan os.Signal, cancel context.CancelCauseFunc, stderr io.Writer, exit func(int)) {
	sig := <-sigs
	fmt.Fprintf(stderr, "\nstress: %v: stopping; the report follows (again to exit at once)\n", sig)
	cancel(fmt.Errorf("stress: %v", sig))
	sig = <-sigs
	fmt.Fprintf(stderr, "stress: %v again: exiting\n", sig)
	code := 1
	if s, ok := sig.(syscall.Signal); ok {
		code = 128 + int(s)
	}
	exit(code)
}

// exitCode prints err, if any, on one line and returns the exit status:
// 0 for success, 2 for a bad command line, 1 for anything else (invariant
// violations, a failed run).
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "stress: %v (run 'stress -h' for usage)\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "stress: %v\n", err)
	return 1
}
