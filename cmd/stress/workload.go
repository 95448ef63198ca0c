package main

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in nanoseconds from 1 ns to maxLatency with three
// significant digits (0.1% resolution), the usual HDR setting.
const (
	maxLatency = int64(time.Minute)
	latencyDig = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, maxLatency, latencyDig)
}

// slotPad pads a workerSlot to two cache lines (128 bytes): one line would
// do on most CPUs, but x86's adjacent-line prefetcher pulls lines in pairs,
// so two keeps neighbouring workers' hot counters from sharing.
const slotPad = 128

// slotFields are one worker's published counters. The worker stores them;
// readers (for the checker) and the progress display load them.
type slotFields struct {
	// started counts a writer's appends begun (stored before each append)
	// or a reader's snapshots done.
	started atomic.Uint64
	// A writer publishes which sequence number each of its appends got, so
	// that readers can check that a returned append is in a window with its
	// own message number; stored only when checking. Append #k's sequence
	// number goes to seqs[k%len(seqs)], then returned is set to k+1.
	returned atomic.Uint64    // appends that have returned
	seqs     [8]atomic.Uint64 // the newest appends' sequence numbers, a ring
}

// publish records that append #n got sequence number seq. Only the slot's
// writer calls it, once per append, in order.
func (s *slotFields) publish(n, seq uint64) {
	s.seqs[n%uint64(len(s.seqs))].Store(seq)
	s.returned.Store(n + 1)
}

// newestReturned returns the writer's newest append that had returned when
// it was called, or ok false when there is none or the writer published so
// many more meanwhile that the answer may be torn (then the caller keeps
// an older one, which also returned before).
//
// Why it cannot be torn otherwise: every operation here is an atomic of the
// Go memory model, so all of them happen in one total order consistent
// with each goroutine's program order. The Load of returned that sees k+1
// comes after the writer's Store of returned = k+1, hence after its Store
// of seqs[k%m] (m = len(seqs)), so the Load of that slot sees append #k's
// value or a later one. The next writer of the slot is append #(k+m),
// whose Store comes after the writer's Store of returned = k+m. If the
// slot Load saw it, the second Load of returned, which comes after, sees
// at least k+m: m-1 more than the first. So a difference below m-1 means
// the slot held append #k's sequence number.
func (s *slotFields) newestReturned() (r ref, ok bool) {
	n := s.returned.Load()
	if n == 0 {
		return ref{}, false
	}
	m := uint64(len(s.seqs))
	seq := s.seqs[(n-1)%m].Load()
	if s.returned.Load()-n >= m-1 {
		return ref{}, false
	}
	return ref{seq: seq, n: n - 1}, true
}

type workerSlot struct {
	slotFields
	_ [slotPad - unsafe.Sizeof(slotFields{})]byte
}

// workload is one run of one backend: its parameters and the state its
// workers share.
type workload struct {
	subj     subject
	writers  int
	readers  int
	capacity int
	ops      uint64        // total operation bound, or 0
	duration time.Duration // time bound when ops is 0
	rate     float64       // open loop: operations per second in all; 0 for a closed loop
	check    bool

	stop     atomic.Bool   // set when the time is up or the run is cancelled
	stopOnce sync.Once     // closes stopped
	stopped  chan struct{} // closed with stop set, to wake paced workers
	start    time.Time     // when the workers were released; written before they are
	slots    []workerSlot  // writers first, then readers
	viol     violations

	// These are written by each worker before wg is done and read only
	// after it is done.
	wg        sync.WaitGroup
	logs      []*writerLog
	hists     []*hdrhistogram.Histogram // one per worker, writers first
	checks    []uint64                  // per reader: windows checked
	appends   []uint64                  // per writer
	snapshots []uint64                  // per reader: snapshots done
}

// outcome is what a finished workload measured.
type outcome struct {
	elapsed     time.Duration
	interrupted bool
	appends     uint64
	snapshots   uint64
	appendLat   *hdrhistogram.Histogram
	snapLat     *hdrhistogram.Histogram
	checks      uint64
}

// quota returns worker i's share of the ops bound. It means nothing when
// ops is 0 (a time bound): callers check ops, never quota == 0, so that a
// zero share stops a worker at once instead of lifting its bound.
func (wl *workload) quota(i int) uint64 {
	if wl.ops == 0 {
		return 0
	}
	n := uint64(wl.writers + wl.readers)
	q := wl.ops / n
	if uint64(i) < wl.ops%n {
		q++
	}
	return q
}

// newWorkload returns a workload of o on subj, ready to run: every
// worker's slot, log and histogram allocated up front, so that the measured
// phase allocates only what the operations themselves do.
func newWorkload(subj subject, o *options) *workload {
	writers, readers, capacity := o.writers, o.readers, o.capacity
	wl := &workload{
		subj: subj, writers: writers, readers: readers, capacity: capacity,
		ops: o.ops, duration: o.duration, rate: o.rate, check: o.check,
		stopped: make(chan struct{}),
	}
	workers := writers + readers
	wl.slots = make([]workerSlot, workers)
	wl.logs = make([]*writerLog, writers)
	wl.hists = make([]*hdrhistogram.Histogram, workers)
	wl.appends = make([]uint64, writers)
	wl.snapshots = make([]uint64, readers)
	wl.checks = make([]uint64, readers)
	for i := range workers {
		wl.hists[i] = newHistogram()
	}
	for w := range writers {
		wl.logs[w] = newWriterLog(capacity, wl.quota(w))
	}
	return wl
}

// run starts the workers and waits until they are done: quota reached, time
// up or ctx cancelled. It returns how long they ran and whether ctx was
// cancelled. It may be called once.
func (wl *workload) run(ctx context.Context) (elapsed time.Duration, interrupted bool) {
	workers := wl.writers + wl.readers
	// Operations run under a context that the interrupt does not cancel:
	// the stop flag ends the loops between operations, so that an
	// interrupted run still ends in a consistent state for the final check.
	opCtx := context.WithoutCancel(ctx)
	start := make(chan struct{})
	wl.wg.Add(workers)
	for w := range wl.writers {
		go wl.writer(opCtx, start, w)
	}
	for r := range wl.readers {
		go wl.reader(opCtx, start, r)
	}
	stopCancel := context.AfterFunc(ctx, wl.halt)
	defer stopCancel()
	wl.start = time.Now()
	if wl.ops == 0 {
		t := time.AfterFunc(wl.duration, wl.halt)
		defer t.Stop()
	}
	close(start)
	wl.wg.Wait()
	return time.Since(wl.start), ctx.Err() != nil
}

// halt tells the workers to stop after the operation in hand.
func (wl *workload) halt() {
	wl.stopOnce.Do(func() {
		wl.stop.Store(true)
		close(wl.stopped)
	})
}

// Open loop (-rate). A closed loop starts each worker's next operation when
// the previous one returns, so a stalled operation also holds back every
// operation that worker would have started meanwhile, and the histogram
// gets one slow sample where callers arriving at a steady rate would have
// seen many (coordinated omission). With a rate, operations are due on a
// fixed schedule instead, and each latency is measured from when the
// operation was due, not from when it started, as wrk2 does: an operation
// that had to wait for a stalled predecessor counts that wait.
//
// The schedule spreads the rate evenly over the workers: worker i of W
// (writers first) does its operation k at start + (k·W + i)/rate, so the
// due times of all workers together are 1/rate apart.

// due returns when worker i's operation k is due in open-loop mode. A due
// time more than 2^63 ns (292 years) away, which a tiny rate gives, is
// clamped there: converted as is, the float would overflow to a negative
// Duration and make the operation due long ago.
func (wl *workload) due(i int, k uint64) time.Time {
	workers := uint64(wl.writers + wl.readers)
	ns := float64(k*workers+uint64(i)) * 1e9 / wl.rate
	if ns >= math.MaxInt64 {
		return wl.start.Add(math.MaxInt64)
	}
	return wl.start.Add(time.Duration(ns))
}

// spinBelow is how close to a due time a paced worker stops sleeping and
// yields the processor in a loop instead: a short time.Sleep woke about a
// millisecond late on our Linux test machine (p50 1.06 ms late for a 10 µs
// sleep; 0.08 ms for a 1 ms one), and that lateness would count as latency.
const spinBelow = 2 * time.Millisecond

// waitUntil returns at t or as soon after as the scheduler allows, or
// early when the run is stopped; it reports whether the run goes on.
func (wl *workload) waitUntil(t time.Time) bool {
	for {
		d := time.Until(t)
		switch {
		case wl.stop.Load():
			return false
		case d <= 0:
			return true
		case d > spinBelow:
			timer := time.NewTimer(d - spinBelow)
			select {
			case <-timer.C:
			case <-wl.stopped:
				timer.Stop()
				return false
			}
		default:
			runtime.Gosched()
		}
	}
}

// pace waits, in an open loop, until operation k of worker i is due and
// returns its due time; in a closed loop it returns the zero time at once.
// It reports false when the run stopped while waiting.
func (wl *workload) pace(i int, k uint64) (due time.Time, ok bool) {
	if wl.rate == 0 {
		return time.Time{}, true
	}
	due = wl.due(i, k)
	return due, wl.waitUntil(due)
}

// timedFrom returns the instant an operation's latency is measured from:
// its due time in an open loop, now in a closed one.
func timedFrom(due time.Time) time.Time {
	if due.IsZero() {
		return time.Now()
	}
	return due
}

// outcome merges the workers' histograms and counts and runs the final
// checks. Call it after run, outside the measured phase.
func (wl *workload) outcome(ctx context.Context, elapsed time.Duration, interrupted bool) outcome {
	out := outcome{elapsed: elapsed, interrupted: interrupted}
	out.appendLat, out.snapLat = newHistogram(), newHistogram()
	for i, h := range wl.hists {
		if i < wl.writers {
			out.appendLat.Merge(h)
		} else {
			out.snapLat.Merge(h)
		}
	}
	for _, n := range wl.appends {
		out.appends += n
	}
	for i, n := range wl.snapshots {
		out.snapshots += n
		out.checks += wl.checks[i]
	}
	out.checks += wl.finalCheck(context.WithoutCancel(ctx))
	return out
}

// record adds one latency to h, clamping what the histogram cannot hold.
func record(h *hdrhistogram.Histogram, d time.Duration) {
	ns := max(int64(d), 1)
	if ns > maxLatency {
		ns = maxLatency
	}
	_ = h.RecordValue(ns) // cannot fail within [1, maxLatency]
}

func (wl *workload) writer(ctx context.Context, start <-chan struct{}, w int) {
	defer wl.wg.Done()
	app := wl.subj.newWriter(w)
	slot := &wl.slots[w]
	h := wl.hists[w]
	log := wl.logs[w]
	bounded, quota := wl.ops > 0, wl.quota(w)
	<-start
	var n uint64
	for ; !bounded || n < quota; n++ {
		if wl.stop.Load() {
			break
		}
		app.prepare(n)
		due, ok := wl.pace(w, n)
		if !ok {
			break
		}
		slot.started.Store(n + 1)
		t0 := timedFrom(due)
		seq, err := app.append(ctx)
		d := time.Since(t0)
		if err != nil {
			wl.viol.addf("writer %d: append #%d failed: %v", w, n, err)
			// Message n is not in the buffer: stop this writer so that
			// its counter has no gap the checker would misreport.
			slot.started.Store(n)
			break
		}
		record(h, d)
		log.add(&wl.viol, w, n, seq)
		if wl.check {
			slot.publish(n, seq)
		}
	}
	wl.appends[w] = log.sent
}

func (wl *workload) reader(ctx context.Context, start <-chan struct{}, r int) {
	defer wl.wg.Done()
	rd := wl.subj.newReader()
	i := wl.writers + r
	slot := &wl.slots[i]
	h := wl.hists[i]
	bounded, quota := wl.ops > 0, wl.quota(i)
	var chk *snapshotChecker
	var before []ref
	var sent []uint64
	if wl.check {
		chk = newSnapshotChecker(wl.capacity, wl.writers)
		before = make([]ref, wl.writers)
		sent = make([]uint64, wl.writers)
	}
	<-start
	var n uint64
	for ; !bounded || n < quota; n++ {
		if wl.stop.Load() {
			break
		}
		due, ok := wl.pace(i, n)
		if !ok {
			break
		}
		if chk != nil {
			for w := range before {
				// When the answer may be torn, before[w] keeps the
				// previous one: it returned before this read too.
				if r, ok := wl.slots[w].newestReturned(); ok {
					before[w] = r
				}
			}
		}
		t0 := timedFrom(due)
		err := rd.read(ctx)
		d := time.Since(t0)
		if err != nil {
			wl.viol.addf("reader %d: read #%d failed: %v", r, n, err)
			break
		}
		record(h, d)
		slot.started.Store(n + 1)
		if chk != nil {
			for w := range sent {
				sent[w] = wl.slots[w].started.Load()
			}
			recs, last, err := rd.records()
			if err != nil {
				wl.viol.addf("reader %d: read #%d: %v", r, n+1, err)
			} else {
				chk.check(&wl.viol, r, recs, last, before, sent)
			}
		}
	}
	wl.snapshots[r] = n
	if chk != nil {
		wl.checks[r] = chk.windows
	}
}

// finalCheck reads the window once more after every worker stopped and
// checks it and the totals against the writers' logs.
func (wl *workload) finalCheck(ctx context.Context) uint64 {
	wl.viol.finalPhase()
	recs, last, err := wl.subj.final(ctx)
	if err != nil {
		wl.viol.addf("final read failed: %v", err)
		return 1
	}
	n := checkFinal(&wl.viol, wl.capacity, wl.logs, recs, last)
	return n + wl.subj.finalChecks(&wl.viol, wl.logs)
}

func (wl *workload) opsBound() uint64 { return wl.ops }

// progressCounts sums the workers' published counters: appends begun and
// snapshots done so far. Safe to call while the workload runs.
func (wl *workload) progressCounts() (appends, snapshots uint64) {
	for i := range wl.slots {
		n := wl.slots[i].started.Load()
		if i < wl.writers {
			appends += n
		} else {
			snapshots += n
		}
	}
	return appends, snapshots
}
