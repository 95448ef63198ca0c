package chatring

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatring/chatring/ringbuf"
)

// pausingRing wraps a History's ring and runs queued hooks right before
// and right after Snapshot calls, one hook of each queue per call in call
// order, so that a test can put other operations between a method's steps
// around its ring snapshot: deterministic interleavings without timing.
type pausingRing struct {
	ringbuf.Buffer[Message]
	mu            sync.Mutex
	before, after []func() // guarded by mu
}

// beforeSnapshot queues f to run at the start of the next Snapshot that
// finds no earlier hook of its kind queued, in the goroutine that called
// that Snapshot; afterSnapshot does the same at the end.
func (r *pausingRing) beforeSnapshot(f func()) { r.queue(&r.before, f) }
func (r *pausingRing) afterSnapshot(f func())  { r.queue(&r.after, f) }

func (r *pausingRing) queue(q *[]func(), f func()) {
	r.mu.Lock()
	*q = append(*q, f)
	r.mu.Unlock()
}

// run pops the first hook of q, if any, and runs it.
func (r *pausingRing) run(q *[]func()) {
	r.mu.Lock()
	var f func()
	if len(*q) > 0 {
		f = (*q)[0]
		*q = (*q)[1:]
	}
	r.mu.Unlock()
	if f != nil {
		f()
	}
}

func (r *pausingRing) Snapshot(dst []Message) ([]Message, uint64) {
	r.run(&r.before)
	dst, last := r.Buffer.Snapshot(dst)
	r.run(&r.after)
	return dst, last
}

// newPausing returns a History of the backend with capacity 2 × maxTurns
// whose ring is wrapped in a pausingRing.
func newPausing(t *testing.T, backend string, maxTurns int) (*History, *pausingRing) {
	t.Helper()
	h, err := New(Config{Backend: backend, MaxTurns: maxTurns})
	if err != nil {
		t.Fatal(err)
	}
	r := &pausingRing{Buffer: h.buf}
	h.buf = r
	return h, r
}

// appendN appends n user messages or fails the test.
func appendN(t *testing.T, h *History, n int) {
	t.Helper()
	for i := range n {
		if _, err := h.Append(t.Context(), Message{Role: User, Content: fmt.Sprintf("m%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// mustClear clears h or fails the test.
func mustClear(t *testing.T, h *History) {
	t.Helper()
	if err := h.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// statsError reports what is wrong with s, given prev, a Stats that
// returned before s was called (the zero Stats when there is none): every
// Stats accounts for every message exactly once, and Appended, Evicted,
// Cleared and LastSeq never go back.
func statsError(prev, s Stats) error {
	if got := s.Evicted + s.Cleared + uint64(s.WindowMessages); got != s.LastSeq {
		return fmt.Errorf("evicted %d + cleared %d + window %d = %d, but last seq %d",
			s.Evicted, s.Cleared, s.WindowMessages, got, s.LastSeq)
	}
	if most := s.LastSeq - min(s.LastSeq, uint64(s.Capacity)); s.Evicted > most {
		return fmt.Errorf("evicted %d, but only %d of %d messages can have left a window of %d",
			s.Evicted, most, s.LastSeq, s.Capacity)
	}
	for _, c := range []struct {
		name       string
		prev, next uint64
	}{
		{"Appended", prev.Appended, s.Appended},
		{"Evicted", prev.Evicted, s.Evicted},
		{"Cleared", prev.Cleared, s.Cleared},
		{"LastSeq", prev.LastSeq, s.LastSeq},
	} {
		if c.next < c.prev {
			return fmt.Errorf("%s went back from %d to %d", c.name, c.prev, c.next)
		}
	}
	return nil
}

// counts formats the accounting fields of s.
func counts(s Stats) string {
	return fmt.Sprintf("last=%d evicted=%d cleared=%d window=%d", s.LastSeq, s.Evicted, s.Cleared, s.WindowMessages)
}

// checkStats fails the test when statsError finds something wrong.
func checkStats(t *testing.T, what string, prev, s Stats) {
	t.Helper()
	if err := statsError(prev, s); err != nil {
		t.Errorf("%s: %s: %v", what, counts(s), err)
	}
}

// forBackends runs f as a subtest per backend.
func forBackends(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range Backends() {
		t.Run("backend="+b, func(t *testing.T) { f(t, b) })
	}
}

// TestStatsClearAfterRingSnapshot puts two Appends and a Clear between
// Stats' ring snapshot and its reading of the Clear watermark: the Stats
// must still describe one state of the history, not the ring before the
// Clear with the watermark after it.
func TestStatsClearAfterRingSnapshot(t *testing.T) {
	forBackends(t, func(t *testing.T, backend string) {
		h, ring := newPausing(t, backend, 2) // capacity 4
		appendN(t, h, 10)
		before := h.Stats()
		checkStats(t, "before", Stats{}, before)
		ring.afterSnapshot(func() { // in Stats, after its ring snapshot
			appendN(t, h, 2)
			mustClear(t, h)
		})
		during := h.Stats()
		checkStats(t, "Stats around the Clear", before, during)
		after := h.Stats()
		checkStats(t, "after", during, after)
		if got, want := counts(after), "last=12 evicted=8 cleared=4 window=0"; got != want {
			t.Errorf("after: %s, want %s", got, want)
		}
	})
}

// TestStatsEvictedNeverGoesBack pauses Clear after its ring snapshot while
// more messages are appended. The messages it saw in the window are pushed
// out meanwhile: a Stats in that gap counts them as evicted, and the Clear
// that lands afterwards must not count them again as cleared.
func TestStatsEvictedNeverGoesBack(t *testing.T) {
	for _, statsInGap := range []bool{true, false} {
		t.Run(fmt.Sprintf("stats_in_gap=%v", statsInGap), func(t *testing.T) {
			forBackends(t, func(t *testing.T, backend string) {
				h, ring := newPausing(t, backend, 2) // capacity 4
				appendN(t, h, 4)
				var gap Stats
				ring.afterSnapshot(func() { // in Clear, after its ring snapshot
					appendN(t, h, 8)
					if statsInGap {
						gap = h.Stats()
						checkStats(t, "Stats while Clear is paused", Stats{}, gap)
					}
				})
				mustClear(t, h)
				after := h.Stats()
				checkStats(t, "after Clear", gap, after)
				// The Clear saw 1-4 in the window; 5-8 were never in it.
				// Counted as evicted by the Stats in the gap, 1-4 stay
				// evicted; otherwise the Clear counts them as cleared.
				want := "last=12 evicted=4 cleared=4 window=4"
				if statsInGap {
					want = "last=12 evicted=8 cleared=0 window=4"
				}
				if got := counts(after); got != want {
					t.Errorf("after Clear: %s, want %s", got, want)
				}
			})
		})
	}
}

// seqs returns the Seq of each message.
func seqs(msgs []Message) []uint64 {
	var s []uint64
	for _, m := range msgs {
		s = append(s, m.Seq)
	}
	return s
}

// pausedClear starts a Clear that pauses right after its ring snapshot,
// waits for it to get there and returns a function that lets it finish
// and waits for it.
func pausedClear(t *testing.T, h *History, ring *pausingRing) (finish func()) {
	paused, resume := make(chan struct{}), make(chan struct{})
	cleared := make(chan error, 1)
	ring.afterSnapshot(func() {
		close(paused)
		<-resume
	})
	go func() { cleared <- h.Clear(t.Context()) }()
	<-paused
	return func() {
		close(resume)
		if err := <-cleared; err != nil {
			t.Error(err)
		}
	}
}

// checkWindowOf fails the test unless msgs have the Seq of one of the
// windows in valid.
func checkWindowOf(t *testing.T, msgs []Message, valid ...[]uint64) {
	t.Helper()
	got := seqs(msgs)
	if !slices.ContainsFunc(valid, func(w []uint64) bool { return slices.Equal(w, got) }) {
		t.Errorf("Messages = Seq %v, want one of the windows %v", got, valid)
	}
}

// TestMessagesClearDuringRingSnapshot lets a Clear that read the ring
// earlier take effect between Messages' ring snapshot and its reading of
// the watermark, or between that reading and the ring snapshot, with
// Appends around it: Messages must return the window of one instant
// during the call, not a ring cut by a watermark of another instant.
func TestMessagesClearDuringRingSnapshot(t *testing.T) {
	t.Run("after", func(t *testing.T) {
		forBackends(t, func(t *testing.T, backend string) {
			h, ring := newPausing(t, backend, 2) // capacity 4
			appendN(t, h, 8)
			finish := pausedClear(t, h, ring) // through 8
			appendN(t, h, 2)                  // 9, 10
			// In Messages, after reading 7-10:
			ring.afterSnapshot(func() {
				appendN(t, h, 1) // 11
				finish()
			})
			msgs, err := h.Messages(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			// The window was 7-10, then 8-11, then (cleared through 8) 9-11.
			checkWindowOf(t, msgs, []uint64{7, 8, 9, 10}, []uint64{8, 9, 10, 11}, []uint64{9, 10, 11})
		})
	})
	t.Run("before", func(t *testing.T) {
		forBackends(t, func(t *testing.T, backend string) {
			h, ring := newPausing(t, backend, 2) // capacity 4
			appendN(t, h, 8)
			finish := pausedClear(t, h, ring) // through 8
			// In Messages, before reading the ring:
			ring.beforeSnapshot(func() {
				finish()
				appendN(t, h, 2) // 9, 10
			})
			msgs, err := h.Messages(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			// The window was 5-8, then (cleared through 8) empty, 9, 9-10.
			checkWindowOf(t, msgs, []uint64{5, 6, 7, 8}, nil, []uint64{9}, []uint64{9, 10})
		})
	})
}

// TestStatsMonitor reads Stats in a loop while 4 goroutines append and one
// clears, and checks every Stats against the one before it. The others
// yield after every call so that with -cpu 1 the goroutines still take
// turns. Run it with -race and -cpu 1,2,4.
func TestStatsMonitor(t *testing.T) {
	const appenders, reads = 4, 10000
	forBackends(t, func(t *testing.T, backend string) {
		h, err := New(Config{Backend: backend, MaxTurns: 2})
		if err != nil {
			t.Fatal(err)
		}
		var done atomic.Bool // set by the monitor when it is done
		var clears atomic.Uint64
		var wg sync.WaitGroup
		startAppenders(t, h, &wg, &done, appenders)
		repeatUntil(t, &wg, &done, func(int) error {
			if err := h.Clear(t.Context()); err != nil {
				return err
			}
			clears.Add(1)
			return nil
		})
		var prev Stats
		for i := range reads {
			s := h.Stats()
			if err := statsError(prev, s); err != nil {
				t.Errorf("Stats %d: %s (previous %s): %v", i, counts(s), counts(prev), err)
				break
			}
			prev = s
			runtime.Gosched()
		}
		done.Store(true)
		wg.Wait()
		s := h.Stats()
		checkStats(t, "final", prev, s)
		if s.Appended != s.LastSeq {
			t.Errorf("final: appended %d, last seq %d", s.Appended, s.LastSeq)
		}
		t.Logf("%d appended, %d evicted, %d cleared by %d Clear calls", s.Appended, s.Evicted, s.Cleared, clears.Load())
	})
}

// repeatUntil starts a goroutine in wg that calls f(0), f(1), ... until
// done is set or f fails (failing the test), yielding after every call so
// that with -cpu 1 the goroutines still take turns.
func repeatUntil(t *testing.T, wg *sync.WaitGroup, done *atomic.Bool, f func(i int) error) {
	wg.Go(func() {
		for i := 0; !done.Load(); i++ {
			if err := f(i); err != nil {
				t.Error(err)
				return
			}
			runtime.Gosched()
		}
	})
}

// startAppenders starts n goroutines in wg that append user messages to h
// until done is set.
func startAppenders(t *testing.T, h *History, wg *sync.WaitGroup, done *atomic.Bool, n int) {
	for w := range n {
		repeatUntil(t, wg, done, func(i int) error {
			_, err := h.Append(t.Context(), Message{Role: User, Content: fmt.Sprintf("w%d m%d", w, i)})
			return err
		})
	}
}
