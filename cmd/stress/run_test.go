package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/ringbuf"
)

// runMainEnv, set to 1 in a child process's environment, makes the test
// binary run the command's main instead of the tests: see
// TestSecondSignalCompletesProfile.
const runMainEnv = "STRESS_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main() // exits
	}
	goleak.VerifyTestMain(m)
}

// runArgs runs the command in-process with a non-terminal stdout.
func runArgs(t *testing.T, ctx context.Context, e env, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runEnv(ctx, args, &out, &errOut, e)
	return out.String(), errOut.String(), err
}

// decodeReport decodes a JSON report strictly: an unknown field fails.
func decodeReport(t *testing.T, data string) Report {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	var rep Report
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("decoding the JSON report: %v\n%s", err, data)
	}
	return rep
}

func TestRunEachBackend(t *testing.T) {
	for _, backend := range backendNames {
		for _, level := range []string{"ring", "history"} {
			t.Run(backend+"/"+level+"/text", func(t *testing.T) {
				out, _, err := runArgs(t, t.Context(), defaultEnv(), "-backend", backend, "-level", level,
					"-writers", "2", "-readers", "2", "-ops", "4000")
				if err != nil {
					t.Fatalf("run: %v\n%s", err, out)
				}
				for _, want := range []string{"appends/s", "p99.9", backend, "append", "snapshot", "OK: "} {
					if !strings.Contains(out, want) {
						t.Errorf("text report lacks %q:\n%s", want, out)
					}
				}
				if level == "history" && !strings.Contains(out, "total_messages") {
					t.Errorf("history-level report lacks the statistics table:\n%s", out)
				}
			})
			t.Run(backend+"/"+level+"/json", func(t *testing.T) {
				out, _, err := runArgs(t, t.Context(), defaultEnv(), "-backend", backend, "-level", level,
					"-writers", "2", "-readers", "2", "-ops", "4000", "-format", "json")
				if err != nil {
					t.Fatalf("run: %v\n%s", err, out)
				}
				rep := decodeReport(t, out)
				if len(rep.Results) != 1 || rep.Results[0].Backend != backend || !rep.OK {
					t.Fatalf("want one passing %s result, got %+v", backend, rep)
				}
				r := rep.Results[0]
				if r.Appends+r.Snapshots != 4000 {
					t.Errorf("appends %d + snapshots %d, want 4000 operations", r.Appends, r.Snapshots)
				}
				if r.VsMutex != nil {
					t.Errorf("vs_mutex = %+v for a single backend, want null", r.VsMutex)
				}
				if (r.History != nil) != (level == "history") {
					t.Errorf("history = %v at level %s", r.History, level)
				}
			})
		}
	}
}

// checkKeys reports every field of typ's JSON form that the decoded value
// v (from a map[string]any decode) lacks, recursively.
func checkKeys(t *testing.T, path string, typ reflect.Type, v any) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Struct:
		if typ == reflect.TypeFor[time.Time]() {
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			if v == nil {
				return // a null pointer: checked by the caller where it matters
			}
			t.Errorf("%s: want an object, got %T", path, v)
			return
		}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			sub, ok := m[name]
			if !ok {
				t.Errorf("%s.%s: missing", path, name)
				continue
			}
			if f.Type != reflect.TypeFor[json.RawMessage]() {
				checkKeys(t, path+"."+name, f.Type, sub)
			}
		}
	case reflect.Slice:
		if typ.Elem().Kind() == reflect.String {
			if _, ok := v.([]any); !ok {
				t.Errorf("%s: want an array, got %T", path, v)
			}
			return
		}
		items, _ := v.([]any)
		for i, it := range items {
			checkKeys(t, fmt.Sprintf("%s[%d]", path, i), typ.Elem(), it)
		}
	}
}

func TestJSONSchema(t *testing.T) {
	out, _, err := runArgs(t, t.Context(), defaultEnv(), "-writers", "2", "-readers", "2", "-ops", "3000",
		"-format", "json", "-seed", "7")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	rep := decodeReport(t, out)
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, "report", reflect.TypeFor[Report](), raw)

	if rep.SchemaVersion != 1 || rep.Tool != "chatring-stress" || rep.StartedAt.IsZero() {
		t.Errorf("header: schema_version %d tool %q started_at %v", rep.SchemaVersion, rep.Tool, rep.StartedAt)
	}
	if e := rep.Environment; e.GoVersion == "" || e.GOOS == "" || e.GOARCH == "" || e.GOMAXPROCS < 1 || e.NumCPU < 1 {
		t.Errorf("environment: %+v", e)
	}
	want := ReportConfig{Level: "ring", Backends: backendNames, Writers: 2, Readers: 2, Ops: 3000,
		Capacity: 20, MaxTurns: 10, PayloadBytes: 64, Seed: 7, Check: true, Faults: []string{}}
	if !reflect.DeepEqual(rep.Config, want) {
		t.Errorf("config = %+v, want %+v", rep.Config, want)
	}
	if !rep.OK || rep.Interrupted || rep.Violations != 0 {
		t.Errorf("ok %v interrupted %v violations %d", rep.OK, rep.Interrupted, rep.Violations)
	}
	var checks uint64
	for i, r := range rep.Results {
		if r.Backend != backendNames[i] {
			t.Errorf("results[%d].backend = %q, want %q", i, r.Backend, backendNames[i])
		}
		if r.Interrupted || r.ElapsedSeconds <= 0 || r.Appends+r.Snapshots != 3000 {
			t.Errorf("%s: interrupted %v elapsed %v appends %d snapshots %d", r.Backend, r.Interrupted, r.ElapsedSeconds, r.Appends, r.Snapshots)
		}
		if r.AppendsPerSecond <= 0 || r.SnapshotsPerSecond <= 0 {
			t.Errorf("%s: rates %v/%v", r.Backend, r.AppendsPerSecond, r.SnapshotsPerSecond)
		}
		for op, l := range map[string]Latency{"append": r.Latency.Append, "snapshot": r.Latency.Snapshot} {
			count := r.Appends
			if op == "snapshot" {
				count = r.Snapshots
			}
			if l.Count != count || l.MeanNs <= 0 || l.P50Ns < 1 ||
				!slices.IsSorted([]int64{l.P50Ns, l.P90Ns, l.P99Ns, l.P999Ns, l.MaxNs}) {
				t.Errorf("%s %s latency not sane: %+v (count want %d)", r.Backend, op, l, count)
			}
		}
		if rt := r.Runtime; rt.AllocsPerOp < 0 || rt.AllocBytes < rt.AllocObjects ||
			rt.GCPauseTotalSeconds < 0 || rt.GCPauseMaxSeconds < 0 || (rt.GCPauses == 0 && rt.GCPauseMaxSeconds != 0) {
			t.Errorf("%s: runtime %+v", r.Backend, r.Runtime)
		}
		if r.Invariants.Checks == 0 || r.Invariants.Violations != 0 || r.Invariants.Failures == nil {
			t.Errorf("%s: invariants %+v", r.Backend, r.Invariants)
		}
		checks += r.Invariants.Checks
		if r.VsMutex == nil {
			t.Errorf("%s: vs_mutex is null with -backend all", r.Backend)
		} else if r.Backend == "mutex" && (*r.VsMutex != Ratios{1, 1, 1, 1}) {
			t.Errorf("mutex vs itself = %+v, want all 1", *r.VsMutex)
		}
		if r.History != nil {
			t.Errorf("%s: history is set at ring level", r.Backend)
		}
	}
	if len(rep.Results) != 3 || rep.Checks != checks {
		t.Errorf("%d results, checks %d (sum %d)", len(rep.Results), rep.Checks, checks)
	}
}

func TestSeedPreset(t *testing.T) {
	out, _, err := runArgs(t, t.Context(), defaultEnv(), "-preset", "seed", "-format", "json")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	rep := decodeReport(t, out)
	if rep.Config.Level != "history" || rep.Config.Writers != 10 || rep.Config.Readers != 0 ||
		rep.Config.MaxTurns != 10 || rep.Config.Ops != 2000 || len(rep.Results) != 3 {
		t.Fatalf("preset config %+v with %d results", rep.Config, len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.History == nil {
			t.Fatalf("%s: no history statistics", r.Backend)
		}
		var st chatring.Stats
		if err := json.Unmarshal(r.History.Stats, &st); err != nil {
			t.Fatalf("%s: stats: %v", r.Backend, err)
		}
		if r.History.Sent != 2000 || st.Appended != 2000 || st.ByRole[chatring.User] != 1000 ||
			st.ByRole[chatring.Assistant] != 1000 || st.WindowMessages != 20 || st.Backend != r.Backend {
			t.Errorf("%s: sent %d, stats %+v; want 2000 appended, 1000 per role, window 20", r.Backend, r.History.Sent, st)
		}
	}

	text, _, err := runArgs(t, t.Context(), defaultEnv(), "-preset", "seed", "-backend", "lockfree")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, text)
	}
	for _, want := range []string{"total_messages", "2000", "1000", "OK: "} {
		if !strings.Contains(text, want) {
			t.Errorf("seed preset text lacks %q:\n%s", want, text)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-backend", "redis"},
		{"-writers", "0", "-readers", "0"},
		{"-writers", "-1"},
		{"-duration", "-1s"},
		{"-duration", "0s"},
		{"-duration", "1s", "-ops", "10"},
		{"-ops", "0"},
		{"-ops", "-5"},
		{"-ops", "3"}, // fewer than the 4 writers + 4 readers
		{"-rate", "-1"},
		{"-rate", "NaN"},
		{"-rate", "2e9"},
		{"-writers", "2", "-readers", "0", "-ops", "1"},
		{"-format", "xml"},
		{"-level", "disk"},
		{"-max-turns", "5", "-capacity", "10"},
		{"-max-turns", "0"},
		{"-capacity", "0"},
		{"-capacity", "7", "-level", "history"},
		{"-max-turns", "10001", "-level", "history"},
		{"-payload", "-1"},
		{"-preset", "chaos"},
		{"-preset", "seed", "-writers", "3"},
		{"-no-such-flag"},
		{"-writers", "many"},
		{"extra-argument"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			// A bad flag must fail at once; the timeout only ends a run
			// that wrongly started (it would return nil).
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			out, errOut, err := runArgs(t, ctx, defaultEnv(), args...)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("run = %v, want a *usageError", err)
			}
			if out != "" || errOut != "" {
				t.Errorf("run printed %q / %q before failing", out, errOut)
			}
			var stderr bytes.Buffer
			if code := exitCode(err, &stderr); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if lines := strings.Count(stderr.String(), "\n"); lines != 1 || !strings.HasPrefix(stderr.String(), "stress: ") {
				t.Errorf("want a one-line message, got %q", stderr.String())
			}
		})
	}
}

func TestHelp(t *testing.T) {
	out, _, err := runArgs(t, t.Context(), defaultEnv(), "-h")
	if err != nil {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"Usage: stress", "-backend", "-preset", "-max-turns", "docs/stress.md"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q:\n%s", want, out)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{usagef("bad"), 2},
		{&violationsError{n: 1, checks: 9}, 1},
		{errors.New("cpuprofile: permission denied"), 1},
	} {
		var stderr bytes.Buffer
		if got := exitCode(c.err, &stderr); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
		if c.err == nil && stderr.Len() != 0 {
			t.Errorf("exitCode(nil) printed %q", stderr.String())
		}
	}
}

// TestCancel cancels the context, as the first SIGINT does, during a run
// bounded by an hour: the run must stop, print the report of the backend
// it interrupted and skip the others.
func TestCancel(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(100*time.Millisecond, cancel)
			out, _, err := runArgs(t, ctx, defaultEnv(), "-duration", "1h", "-format", format)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			if format == "text" {
				if !strings.Contains(out, "interrupted") || !strings.Contains(out, "mutex*") || !strings.Contains(out, "OK: ") {
					t.Errorf("text report of an interrupted run:\n%s", out)
				}
				return
			}
			rep := decodeReport(t, out)
			if !rep.Interrupted || len(rep.Results) != 1 || !rep.Results[0].Interrupted || !rep.OK {
				t.Fatalf("want one interrupted, passing result; got %+v", rep)
			}
			// On a loaded machine the writers may not have run at all in
			// the 100ms; some operation must have.
			if r := rep.Results[0]; r.Appends+r.Snapshots == 0 || r.Invariants.Checks == 0 {
				t.Errorf("interrupted result measured nothing: %+v", r)
			}
		})
	}
	t.Run("before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		out, _, err := runArgs(t, ctx, defaultEnv(), "-format", "json")
		if err != nil {
			t.Fatal(err)
		}
		if rep := decodeReport(t, out); !rep.Interrupted || len(rep.Results) != 0 {
			t.Errorf("got %+v", rep)
		}
	})
}

func TestProgress(t *testing.T) {
	e := defaultEnv()
	e.isTerminal = func(io.Writer) bool { return true }
	e.progressEvery = time.Millisecond
	t.Run("text on a terminal", func(t *testing.T) {
		_, errOut, err := runArgs(t, t.Context(), e, "-backend", "mutex", "-duration", "300ms")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"\rmutex 1/1", "s left", "appends", "snapshots", "/s"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("progress lacks %q: %q", want, errOut)
			}
		}
		if !strings.HasSuffix(errOut, "\r") {
			t.Errorf("progress line not cleared at the end: %q", errOut)
		}
	})
	t.Run("ops bound", func(t *testing.T) {
		_, errOut, err := runArgs(t, t.Context(), e, "-backend", "sharded", "-ops", "300000")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(errOut, "% of 300000 ops") {
			t.Errorf("progress of an -ops run: %q", errOut)
		}
	})
	t.Run("json", func(t *testing.T) {
		_, errOut, err := runArgs(t, t.Context(), e, "-backend", "mutex", "-duration", "50ms", "-format", "json")
		if err != nil || errOut != "" {
			t.Errorf("json run on a terminal: err %v, stderr %q", err, errOut)
		}
	})
	t.Run("not a terminal", func(t *testing.T) {
		_, errOut, err := runArgs(t, t.Context(), defaultEnv(), "-backend", "mutex", "-duration", "50ms")
		if err != nil || errOut != "" {
			t.Errorf("run to a buffer: err %v, stderr %q", err, errOut)
		}
	})
}

func TestCPUProfile(t *testing.T) {
	path := t.TempDir() + "/cpu.prof"
	if _, _, err := runArgs(t, t.Context(), defaultEnv(), "-backend", "mutex", "-ops", "1000", "-cpuprofile", path); err != nil {
		t.Fatal(err)
	}
	_, _, err := runArgs(t, t.Context(), defaultEnv(), "-backend", "mutex", "-ops", "1000", "-cpuprofile", t.TempDir()+"/no/such/dir/cpu.prof")
	var ue *usageError
	if err == nil || errors.As(err, &ue) {
		t.Errorf("unwritable -cpuprofile: err %v, want a plain error", err)
	}
}

func TestOnlineCheckOff(t *testing.T) {
	out, _, err := runArgs(t, t.Context(), defaultEnv(), "-backend", "lockfree", "-ops", "2000", "-check=false", "-format", "json")
	if err != nil {
		t.Fatal(err)
	}
	rep := decodeReport(t, out)
	// Only the final checks run: totals, checksum, length, contents.
	if c := rep.Results[0].Invariants.Checks; c == 0 || c > 4 || !rep.OK || rep.Config.Check {
		t.Errorf("with -check=false: %d checks, ok %v, config.check %v", c, rep.OK, rep.Config.Check)
	}
}

// TestZeroShareStops runs a workload whose -ops bound leaves one worker a
// share of 0 (the flags reject that, but the workload must not read it as
// "no bound"): the run must end after exactly the bounded operations.
func TestZeroShareStops(t *testing.T) {
	wl := newWorkload(&ringSubject{buf: ringbuf.New[item](4)},
		&options{writers: 1, readers: 1, capacity: 4, ops: 1, duration: time.Hour, check: true})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	elapsed, interrupted := wl.run(ctx)
	if interrupted {
		t.Fatalf("the run did not end by itself (%v)", elapsed)
	}
	out := wl.outcome(ctx, elapsed, interrupted)
	if out.appends != 1 || out.snapshots != 0 || wl.viol.count.Load() != 0 {
		t.Errorf("appends %d, snapshots %d, violations %q; want 1, 0, none", out.appends, out.snapshots, wl.viol.descriptions())
	}
}

// TestResourceBounds checks that flags which would make the run set aside
// more memory than a load test should, or overflow, are bad flags with a
// message naming them. It calls parseFlags only: the run must never start.
func TestResourceBounds(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // in the message
	}{
		{[]string{"-writers", "20000"}, "-writers"},
		{[]string{"-readers", "1000000000000"}, "-readers"},
		{[]string{"-writers", "64", "-readers", "64", "-capacity", "1048576"}, "GiB"},
		{[]string{"-level", "history", "-max-turns", "10000", "-payload", "1048576"}, "GiB"},
		{[]string{"-max-turns", "4611686018427387904"}, "-max-turns"},
		{[]string{"-max-turns", "524289"}, "-max-turns"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, err := parseFlags(c.args, io.Discard)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parseFlags = %v, want a *usageError", err)
			}
			if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "-9223372036854775808") {
				t.Errorf("message %q, want one naming %q (and no overflowed number)", msg, c.want)
			}
		})
	}
	for _, args := range [][]string{
		nil,
		{"-writers", "500", "-readers", "500"},
		{"-max-turns", "524288"},
		{"-level", "history", "-max-turns", "10000", "-payload", "4096"},
	} {
		if _, err := parseFlags(args, io.Discard); err != nil {
			t.Errorf("parseFlags(%q) = %v, want it accepted", args, err)
		}
	}
}

// TestSecondSignalCompletesProfile runs the command in a child process with
// -cpuprofile and sends it two signals back to back, as an impatient user
// does: the second exits at once, but the profile must still be complete
// (a whole gzip stream, as runtime/pprof writes it), not cut off.
func TestSecondSignalCompletesProfile(t *testing.T) {
	prof := t.TempDir() + "/cpu.prof"
	cmd := exec.Command(os.Args[0], "-backend", "mutex", "-duration", "1h", "-cpuprofile", prof)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// The profile file is created after the signal handler is installed
	// and just before profiling starts.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(prof); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no profile file after 30s; stderr %q", stderr.String())
		}
	}
	time.Sleep(300 * time.Millisecond) // let it run and sample a little
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	err := cmd.Wait()
	// 143 (128 + SIGTERM) when the second signal won; 0 if the run
	// finished its report first. Either way the profile must be whole.
	if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) && code != 0 {
		t.Errorf("exit %v (status %d); stderr %q", err, code, stderr.String())
	}
	f, err := os.Open(prof)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the CPU profile is not a gzip stream: %v (stderr %q)", err, stderr.String())
	}
	if n, err := io.Copy(io.Discard, zr); err != nil || n == 0 {
		t.Fatalf("the CPU profile is cut off: %d bytes, %v", n, err)
	}
}

// stallOnce is a correct ring whose Push number at sleeps for d once: a
// stall such as a GC pause or a preempted lock holder.
type stallOnce struct {
	*ringbuf.Ring[item]
	at uint64
	d  time.Duration
}

func (b stallOnce) Push(v item) uint64 {
	seq := b.Ring.Push(v)
	if seq == b.at {
		time.Sleep(b.d)
	}
	return seq
}

// TestOpenLoopCountsStalls shows coordinated omission and what -rate does
// about it. One writer makes 400 appends; the 100th stalls for 100 ms. In
// the closed loop the writer issues nothing during the stall, so the
// histogram holds one slow sample and p90 stays small. In the open loop at
// 1000/s, the ~100 appends due during the stall wait for it and are timed
// from when they were due, so about 60 of the 400 take 40 ms or more and
// p90 is among them, as it would be for callers arriving at that rate.
func TestOpenLoopCountsStalls(t *testing.T) {
	e := defaultEnv()
	e.newRing = func(_ string, c int) ringbuf.Buffer[item] {
		return stallOnce{Ring: ringbuf.New[item](c), at: 100, d: 100 * time.Millisecond}
	}
	runP90 := func(extra ...string) (p90, max time.Duration, rep Report) {
		t.Helper()
		args := append([]string{"-backend", "mutex", "-writers", "1", "-readers", "0", "-ops", "400", "-format", "json"}, extra...)
		out, _, err := runArgs(t, t.Context(), e, args...)
		if err != nil {
			t.Fatalf("run %q: %v\n%s", args, err, out)
		}
		rep = decodeReport(t, out)
		l := rep.Results[0].Latency.Append
		if l.Count != 400 {
			t.Fatalf("%d appends timed, want 400", l.Count)
		}
		return time.Duration(l.P90Ns), time.Duration(l.MaxNs), rep
	}
	p90, maxLat, _ := runP90()
	if p90 >= 10*time.Millisecond || maxLat < 100*time.Millisecond {
		t.Errorf("closed loop: p90 %v, max %v; want p90 under 10ms (one slow sample) and max at least the 100ms stall", p90, maxLat)
	}
	p90, maxLat, rep := runP90("-rate", "1000")
	if p90 < 40*time.Millisecond || maxLat < 100*time.Millisecond {
		t.Errorf("open loop: p90 %v, max %v; want p90 at least 40ms: the appends due during the stall waited for it", p90, maxLat)
	}
	if rep.Config.Rate != 1000 {
		t.Errorf("config.rate_per_second = %v, want 1000", rep.Config.Rate)
	}
	// 400 appends due 1ms apart take about 0.4s, not the 0.1s a closed
	// loop needs.
	if el := rep.Results[0].ElapsedSeconds; el < 0.39 {
		t.Errorf("open loop at 1000/s ran 400 appends in %.3fs, want about 0.4s", el)
	}
}

// TestDueTimes checks the open-loop schedule: the due times of all workers
// together are 1/rate apart, worker i of W taking every W-th one from i.
func TestDueTimes(t *testing.T) {
	wl := &workload{writers: 2, readers: 1, rate: 1000, start: time.Unix(100, 0)}
	for k := range uint64(4) {
		for i := range 3 {
			want := time.Unix(100, 0).Add(time.Duration(3*k+uint64(i)) * time.Millisecond)
			if got := wl.due(i, k); !got.Equal(want) {
				t.Errorf("due(%d, %d) = %v, want %v", i, k, got, want)
			}
		}
	}
	// A tiny -rate puts the second operation more than 2^63 ns away: it
	// is due in the far future, not (by a float overflow) in the past.
	for _, rate := range []float64{1e-10, 1e-300, 5e-324} {
		wl := &workload{writers: 1, readers: 1, rate: rate, start: time.Unix(100, 0)}
		if got := wl.due(1, 0); got.Before(time.Unix(100, 0).Add(100 * 365 * 24 * time.Hour)) {
			t.Errorf("-rate %g: the second operation is due at %v, want centuries after the start", rate, got)
		}
	}
}

// TestRateStopsPromptly: a paced worker waiting for a far-off due time
// must still stop when the time is up.
func TestRateStopsPromptly(t *testing.T) {
	// 0.5 operations per second over 2 workers: each worker's second
	// operation is due 4s after the start, the run ends after 200ms.
	began := time.Now()
	out, _, err := runArgs(t, t.Context(), defaultEnv(), "-backend", "mutex", "-writers", "1", "-readers", "1",
		"-rate", "0.5", "-duration", "200ms", "-format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("the run took %v, want about 200ms", took)
	}
	if r := decodeReport(t, out).Results[0]; r.Appends != 1 || r.Snapshots != 0 {
		t.Errorf("appends %d, snapshots %d; want the one append due at the start (the snapshot is due at 2s)", r.Appends, r.Snapshots)
	}
}
