package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatring/chatring"
)

// schemaVersion is the version of the JSON report's schema, documented in
// docs/stress.md. It changes only when a field is removed, renamed or
// changes meaning; adding a field does not change it.
const schemaVersion = 1

// Report is the whole report, as printed by -format json. Every field is
// always present; docs/stress.md documents each one and its unit.
type Report struct {
	SchemaVersion int          `json:"schema_version"`
	Tool          string       `json:"tool"`
	StartedAt     time.Time    `json:"started_at"`
	Environment   Environment  `json:"environment"`
	Config        ReportConfig `json:"config"`
	Interrupted   bool         `json:"interrupted"`
	Results       []Result     `json:"results"`
	Checks        uint64       `json:"checks"`
	Violations    uint64       `json:"violations"`
	OK            bool         `json:"ok"`
}

// Environment describes where the run happened.
type Environment struct {
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
}

// ReportConfig is the workload the run was asked for, after defaults and
// presets were applied.
type ReportConfig struct {
	Level           string   `json:"level"`
	Backends        []string `json:"backends"`
	Writers         int      `json:"writers"`
	Readers         int      `json:"readers"`
	DurationSeconds float64  `json:"duration_seconds"`
	Ops             uint64   `json:"ops"`
	Rate            float64  `json:"rate_per_second"`
	Capacity        int      `json:"capacity"`
	MaxTurns        int      `json:"max_turns"`
	PayloadBytes    int      `json:"payload_bytes"`
	Seed            uint64   `json:"seed"`
	Preset          string   `json:"preset"`
	Check           bool     `json:"check"`
	// Conversations, Distribution and Store describe a store-level run
	// (0, "" and "" at the other levels).
	Conversations int    `json:"conversations"`
	Distribution  string `json:"distribution"`
	Store         string `json:"store"`
	// Faults is -faults (empty without it) and Outbox the resilient
	// Store's outbox bound (0 without -faults).
	Faults []string `json:"faults"`
	Outbox int      `json:"outbox"`
}

// Result is one backend's run.
type Result struct {
	Backend            string         `json:"backend"`
	Interrupted        bool           `json:"interrupted"`
	ElapsedSeconds     float64        `json:"elapsed_seconds"`
	Appends            uint64         `json:"appends"`
	Snapshots          uint64         `json:"snapshots"`
	AppendsPerSecond   float64        `json:"appends_per_second"`
	SnapshotsPerSecond float64        `json:"snapshots_per_second"`
	Latency            Latencies      `json:"latency"`
	Runtime            RuntimeStats   `json:"runtime"`
	Invariants         Invariants     `json:"invariants"`
	VsMutex            *Ratios        `json:"vs_mutex"`
	History            *HistoryReport `json:"history"`
	Store              *StoreReport   `json:"store"`
}

// Latencies holds one latency summary per operation.
type Latencies struct {
	Append   Latency `json:"append"`
	Snapshot Latency `json:"snapshot"`
}

// Latency summarizes one operation's latencies, in nanoseconds, from the
// merged HDR histogram (3 significant digits). All zero when the operation
// never ran.
type Latency struct {
	Count  uint64  `json:"count"`
	MeanNs float64 `json:"mean_ns"`
	P50Ns  int64   `json:"p50_ns"`
	P90Ns  int64   `json:"p90_ns"`
	P99Ns  int64   `json:"p99_ns"`
	P999Ns int64   `json:"p99_9_ns"`
	MaxNs  int64   `json:"max_ns"`
}

// RuntimeStats is what runtime/metrics saw during one backend's run.
type RuntimeStats struct {
	AllocObjects        uint64  `json:"alloc_objects"`
	AllocBytes          uint64  `json:"alloc_bytes"`
	AllocsPerOp         float64 `json:"allocs_per_op"`
	GCCycles            uint64  `json:"gc_cycles"`
	GCPauses            uint64  `json:"gc_pauses"`
	GCPauseTotalSeconds float64 `json:"gc_pause_total_seconds"`
	GCPauseMaxSeconds   float64 `json:"gc_pause_max_seconds"`
}

// Invariants is what the invariant checker did.
type Invariants struct {
	Checks     uint64   `json:"checks"`
	Violations uint64   `json:"violations"`
	Failures   []string `json:"failures"`
}

// Ratios compares a backend with the mutex ring of the same run: a
// throughput ratio above 1 and a latency ratio below 1 are better. A ratio
// whose mutex figure is 0 is 0.
type Ratios struct {
	AppendsPerSecond   float64 `json:"appends_per_second"`
	SnapshotsPerSecond float64 `json:"snapshots_per_second"`
	AppendP99          float64 `json:"append_p99"`
	SnapshotP99        float64 `json:"snapshot_p99"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		Count:  uint64(h.TotalCount()),
		MeanNs: h.Mean(),
		P50Ns:  h.ValueAtQuantile(50),
		P90Ns:  h.ValueAtQuantile(90),
		P99Ns:  h.ValueAtQuantile(99),
		P999Ns: h.ValueAtQuantile(99.9),
		MaxNs:  h.Max(),
	}
}

func ratio(x, mutex float64) float64 {
	if mutex == 0 {
		return 0
	}
	return x / mutex
}

// compare fills in VsMutex for every result when the mutex ring ran.
func compare(results []Result) {
	var base *Result
	for i := range results {
		if results[i].Backend == "mutex" {
			base = &results[i]
		}
	}
	if base == nil || len(results) < 2 {
		return
	}
	for i := range results {
		r := &results[i]
		r.VsMutex = &Ratios{
			AppendsPerSecond:   ratio(r.AppendsPerSecond, base.AppendsPerSecond),
			SnapshotsPerSecond: ratio(r.SnapshotsPerSecond, base.SnapshotsPerSecond),
			AppendP99:          ratio(float64(r.Latency.Append.P99Ns), float64(base.Latency.Append.P99Ns)),
			SnapshotP99:        ratio(float64(r.Latency.Snapshot.P99Ns), float64(base.Latency.Snapshot.P99Ns)),
		}
	}
}

func writeJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeText prints the human report: a header, the throughput table, the
// latency table, any failures and a verdict.
func writeText(w io.Writer, rep *Report) error {
	c := rep.Config
	bound := fmt.Sprintf("%v", time.Duration(c.DurationSeconds*float64(time.Second)))
	if c.Ops > 0 {
		bound = fmt.Sprintf("%d ops", c.Ops)
	}
	fmt.Fprintf(w, "chatring stress: level=%s writers=%d readers=%d capacity=%d", c.Level, c.Writers, c.Readers, c.Capacity)
	if c.MaxTurns > 0 {
		fmt.Fprintf(w, " (max_turns %d)", c.MaxTurns)
	}
	fmt.Fprintf(w, " payload=%dB %s per backend\n", c.PayloadBytes, bound)
	if c.Rate > 0 {
		fmt.Fprintf(w, "open loop: %s operations/s per backend; latencies are from when each operation was due\n", fmtRate(c.Rate))
	}
	e := rep.Environment
	fmt.Fprintf(w, "%s %s/%s GOMAXPROCS=%d\n\n", e.GoVersion, e.GOOS, e.GOARCH, e.GOMAXPROCS)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tappends/s\tvs mutex\tsnapshots/s\tvs mutex\tallocs/op\tGCs\tGC pause\tchecks\tviolations\t\n", nameWidth, "backend")
	for _, r := range rep.Results {
		name := r.Backend
		if r.Interrupted {
			name += "*"
		}
		name = fmt.Sprintf("%-*s", nameWidth, name)
		va, vs := "-", "-"
		if r.VsMutex != nil {
			va, vs = fmtRatio(r.VsMutex.AppendsPerSecond), fmtRatio(r.VsMutex.SnapshotsPerSecond)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2f\t%d\t%v\t%d\t%d\t\n",
			name, fmtRate(r.AppendsPerSecond), va, fmtRate(r.SnapshotsPerSecond), vs,
			r.Runtime.AllocsPerOp, r.Runtime.GCCycles,
			time.Duration(r.Runtime.GCPauseTotalSeconds*float64(time.Second)).Round(time.Microsecond),
			r.Invariants.Checks, r.Invariants.Violations)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintf(tw, "%-*s\top\tcount\tp50\tp90\tp99\tp99.9\tmax\t\n", nameWidth, "latency")
	for _, r := range rep.Results {
		for _, op := range []struct {
			name string
			l    Latency
		}{{"append", r.Latency.Append}, {"snapshot", r.Latency.Snapshot}} {
			if op.l.Count == 0 {
				continue
			}
			fmt.Fprintf(tw, "%-*s\t%s\t%d\t%v\t%v\t%v\t%v\t%v\t\n", nameWidth, r.Backend, op.name, op.l.Count,
				time.Duration(op.l.P50Ns), time.Duration(op.l.P90Ns), time.Duration(op.l.P99Ns),
				time.Duration(op.l.P999Ns), time.Duration(op.l.MaxNs))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Config.Level == "history" {
		fmt.Fprintln(w)
		if err := writeHistoryTable(w, rep); err != nil {
			return err
		}
	}
	if rep.Config.Level == "store" {
		if err := writeStoreTable(w, rep); err != nil {
			return err
		}
		if err := writeFaultTable(w, rep); err != nil {
			return err
		}
	}
	if rep.Interrupted {
		fmt.Fprintln(w, "\n* interrupted: partial run; backends after it did not run")
	}
	for _, r := range rep.Results {
		for _, f := range r.Invariants.Failures {
			fmt.Fprintf(w, "\nVIOLATION %s: %s", r.Backend, f)
		}
		if more := r.Invariants.Violations - uint64(len(r.Invariants.Failures)); more > 0 {
			fmt.Fprintf(w, "\n%s: %d more violations not shown", r.Backend, more)
		}
	}
	if rep.OK {
		fmt.Fprintf(w, "\nOK: %d invariant checks, no violations\n", rep.Checks)
	} else {
		fmt.Fprintf(w, "\n\nFAIL: %d invariant violations in %d checks\n", rep.Violations, rep.Checks)
	}
	return nil
}

// nameWidth is the width of the backend column: tabwriter aligns every
// column right, so names are padded to read left-aligned.
const nameWidth = 9

// fmtRate formats an operations-per-second figure with an SI suffix.
func fmtRate(x float64) string {
	switch {
	case x >= 1e9:
		return fmt.Sprintf("%.2fG", x/1e9)
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

func fmtRatio(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", x)
}

// HistoryReport is the history-level part of a result: the chatring
// History's own statistics after the run, next to what the writers sent.
// It is null at ring level.
type HistoryReport struct {
	// Sent is the number of appends the writers made that succeeded.
	Sent uint64 `json:"sent"`
	// Stats is chatring.Stats as that package marshals it; its schema is
	// documented with package chatring.
	Stats json.RawMessage `json:"stats"`

	stats chatring.Stats // the same, for the text report
}
