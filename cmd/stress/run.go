package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"golang.org/x/term"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/ringbuf"
)

// violationsError means the run completed and printed its report, but the
// invariant checker found violations: main exits with status 1.
type violationsError struct{ n, checks uint64 }

func (e *violationsError) Error() string {
	return fmt.Sprintf("%d invariant violations in %d checks (see the report)", e.n, e.checks)
}

// env holds what run takes from its surroundings, so that tests can replace
// it. Nothing in it is reachable from the command line: in particular the
// broken buffers of the tests cannot be selected by users.
type env struct {
	// newRing returns the ring backend a ring-level run loads.
	newRing func(backend string, capacity int) ringbuf.Buffer[item]
	// newStore returns the store a store-level run of backend loads, and
	// its statistics (nil when it has none).
	newStore func(o *options, backend string) (chatring.Store, func() chatring.StoreStats, error)
	// isTerminal reports whether w is a terminal (progress is shown only
	// then).
	isTerminal func(w io.Writer) bool
	// progressEvery is the progress display's refresh interval.
	progressEvery time.Duration
	// wrapRedis, when set, wraps the Redis store of -store redis (tests
	// put a broken store there; nil on the command line).
	wrapRedis func(chatring.Store) chatring.Store
	// stderr receives what a run says besides its report (set by run).
	stderr io.Writer
}

func defaultEnv() env {
	return env{newRing: newRing, newStore: newStore, isTerminal: isTerminal, progressEvery: 200 * time.Millisecond}
}

// isTerminal reports whether w is an *os.File open on a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// run is the whole command: it parses args, loads each backend in turn,
// and prints the report to stdout (progress and diagnostics go to stderr).
// Cancelling ctx stops the run early; the report of what ran is still
// printed and run returns nil unless a violation was found. It returns a
// *usageError for a bad command line and a *violationsError when the
// invariant checker found a violation.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runEnv(ctx, args, stdout, stderr, defaultEnv())
}

func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer, e env) error {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	e.stderr = stderr
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var prog *progress
	if o.format == "text" && e.isTerminal(stdout) {
		prog = &progress{w: stderr, every: e.progressEvery}
	}
	rep := newReport(o)
	for i, b := range o.backends {
		if ctx.Err() != nil {
			break
		}
		res, err := runBackend(ctx, o, e, b, prog.label(fmt.Sprintf("%s %d/%d", b, i+1, len(o.backends))))
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		rep.Results = append(rep.Results, res)
		rep.Interrupted = rep.Interrupted || res.Interrupted
		rep.Checks += res.Invariants.Checks
		rep.Violations += res.Invariants.Violations
	}
	rep.Interrupted = rep.Interrupted || ctx.Err() != nil
	rep.OK = rep.Violations == 0
	compare(rep.Results)
	if o.format == "json" {
		err = writeJSON(stdout, rep)
	} else {
		err = writeText(stdout, rep)
	}
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if !rep.OK {
		return &violationsError{n: rep.Violations, checks: rep.Checks}
	}
	return nil
}

func newReport(o *options) *Report {
	rep := &Report{
		SchemaVersion: schemaVersion,
		Tool:          "chatring-stress",
		StartedAt:     time.Now().UTC().Truncate(time.Second),
		Environment: Environment{
			GoVersion:  runtime.Version(),
			GOOS:       runtime.GOOS,
			GOARCH:     runtime.GOARCH,
			GOMAXPROCS: runtime.GOMAXPROCS(0),
			NumCPU:     runtime.NumCPU(),
		},
		Config: ReportConfig{
			Level:        o.level,
			Backends:     o.backends,
			Writers:      o.writers,
			Readers:      o.readers,
			Ops:          o.ops,
			Rate:         o.rate,
			Capacity:     o.capacity,
			MaxTurns:     o.maxTurns,
			PayloadBytes: o.payload,
			Seed:         o.seed,
			Preset:       o.preset,
			Check:        o.check,
		},
		Results: []Result{},
	}
	if o.ops == 0 {
		rep.Config.DurationSeconds = o.duration.Seconds()
	}
	if o.level == "store" {
		rep.Config.Conversations, rep.Config.Distribution, rep.Config.Store = o.conversations, o.dist, o.store
		rep.Config.Outbox = o.outbox
	}
	rep.Config.Faults = append([]string{}, o.faults...) // [], not null, without -faults
	return rep
}

// runBackend loads one backend and returns its result.
func runBackend(ctx context.Context, o *options, e env, backend string, prog *progress) (Result, error) {
	if o.level == "store" {
		return runStoreBackend(ctx, o, e, backend, prog)
	}
	subj, err := newSubject(o, e, backend)
	if err != nil {
		return Result{}, err
	}
	defer subj.close()
	wl := newWorkload(subj, o)

	runtime.GC() // start every backend from the same clean heap
	before := readRuntime()
	stopProgress := prog.start(wl, o.duration)
	elapsed, interrupted := wl.run(ctx)
	after := readRuntime()
	stopProgress()
	out := wl.outcome(ctx, elapsed, interrupted)

	res := Result{
		Backend:        backend,
		Interrupted:    out.interrupted,
		ElapsedSeconds: out.elapsed.Seconds(),
		Appends:        out.appends,
		Snapshots:      out.snapshots,
		Latency: Latencies{
			Append:   summarize(out.appendLat),
			Snapshot: summarize(out.snapLat),
		},
		Runtime: runtimeDelta(before, after),
		Invariants: Invariants{
			Checks:     out.checks,
			Violations: wl.viol.count.Load(),
			Failures:   wl.viol.descriptions(),
		},
		History: subj.details(),
	}
	if s := out.elapsed.Seconds(); s > 0 {
		res.AppendsPerSecond = float64(out.appends) / s
		res.SnapshotsPerSecond = float64(out.snapshots) / s
	}
	if n := out.appends + out.snapshots; n > 0 {
		res.Runtime.AllocsPerOp = float64(res.Runtime.AllocObjects) / float64(n)
	}
	return res, nil
}

// newSubject builds what a run of backend loads, per -level.
func newSubject(o *options, e env, backend string) (subject, error) {
	if o.level == "history" {
		return newHistorySubject(o, backend)
	}
	return &ringSubject{buf: e.newRing(backend, o.capacity), payload: payloadFor(o.seed, o.payload)}, nil
}
