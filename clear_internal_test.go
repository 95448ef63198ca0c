package chatring

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/chatring/chatring/lockfree"
	"github.com/chatring/chatring/ringbuf"
	"github.com/chatring/chatring/sharded"
	"pgregory.net/rapid"
)

// countingRing counts the Snapshot calls made on the ring it wraps, so
// that a test can check when a reader retries.
type countingRing struct {
	ringbuf.Buffer[Message]
	snapshots atomic.Int64
}

func (r *countingRing) Snapshot(dst []Message) ([]Message, uint64) {
	r.snapshots.Add(1)
	return r.Buffer.Snapshot(dst)
}

// newCounting returns a History like newPausing's whose pausing ring is
// itself wrapped in a countingRing.
func newCounting(t *testing.T, backend string, maxTurns int) (*History, *pausingRing, *countingRing) {
	t.Helper()
	h, ring := newPausing(t, backend, maxTurns)
	c := &countingRing{Buffer: ring}
	h.buf = c
	return h, ring, c
}

// snapshotsBy returns how many ring snapshots f took.
func snapshotsBy(c *countingRing, f func()) int64 {
	before := c.snapshots.Load()
	f()
	return c.snapshots.Load() - before
}

// TestStatsRetriesOnlyWhenTheStateChanged checks when Stats and Messages
// start over. A Stats whose ring snapshot is followed by another Stats
// that records new evictions must take its snapshot again (its
// CompareAndSwap fails) and then report the newer state; a Messages in
// the same place must not, since no Clear took effect: "a reader retries
// only when a Clear succeeded". A Clear that finds the watermark already
// past its snapshot changes nothing, so it makes nobody retry either.
func TestStatsRetriesOnlyWhenTheStateChanged(t *testing.T) {
	forBackends(t, func(t *testing.T, backend string) {
		t.Run("stats_during_stats", func(t *testing.T) {
			h, ring, c := newCounting(t, backend, 2) // capacity 4
			appendN(t, h, 10)
			var inner Stats
			ring.afterSnapshot(func() { // in the outer Stats, after its snapshot of 7-10
				appendN(t, h, 3)
				inner = h.Stats() // records 1-9 as evicted
			})
			var outer Stats
			n := snapshotsBy(c, func() { outer = h.Stats() })
			if n != 3 { // the outer's two and the inner's one
				t.Errorf("ring snapshots = %d, want 3: the outer Stats must retry once", n)
			}
			checkStats(t, "inner", Stats{}, inner)
			// The outer call overlaps the inner one, so the documented
			// monotonicity does not order them; its retry does.
			checkStats(t, "outer", inner, outer)
			if got, want := counts(outer), "last=13 evicted=9 cleared=0 window=4"; got != want {
				t.Errorf("outer: %s, want %s", got, want)
			}
		})
		t.Run("stats_during_messages", func(t *testing.T) {
			h, ring, c := newCounting(t, backend, 2)
			appendN(t, h, 10)
			ring.afterSnapshot(func() { // in Messages, after its snapshot of 7-10
				appendN(t, h, 3)
				checkStats(t, "inner", Stats{}, h.Stats())
			})
			var msgs []Message
			n := snapshotsBy(c, func() {
				var err error
				if msgs, err = h.Messages(t.Context(), nil); err != nil {
					t.Fatal(err)
				}
			})
			if n != 2 { // Messages' one and the Stats' one
				t.Errorf("ring snapshots = %d, want 2: Messages must not retry for a Stats", n)
			}
			checkWindowOf(t, msgs, []uint64{7, 8, 9, 10})
		})
		t.Run("covered_clear_during_messages", func(t *testing.T) {
			h, ring, c := newCounting(t, backend, 2)
			appendN(t, h, 6)
			finish := pausedClear(t, h, ring) // through 6, paused
			appendN(t, h, 2)                  // 7, 8
			mustClear(t, h)                   // through 8
			ring.afterSnapshot(func() {       // in Messages, after its snapshot of 5-8
				finish() // finds through 8 >= 6: changes nothing
			})
			var msgs []Message
			n := snapshotsBy(c, func() {
				var err error
				if msgs, err = h.Messages(t.Context(), nil); err != nil {
					t.Fatal(err)
				}
			})
			if n != 1 {
				t.Errorf("ring snapshots = %d, want 1: a Clear that changed nothing made Messages retry", n)
			}
			checkWindowOf(t, msgs, nil)
			if got, want := counts(h.Stats()), "last=8 evicted=4 cleared=4 window=0"; got != want {
				t.Errorf("after: %s, want %s", got, want)
			}
		})
	})
}

// TestClearsOutOfOrder lets two Clears read the ring at different times
// and take effect in either order, with a Stats in the gap or not, while
// newer messages push out everything both Clears saw. Every Stats must
// balance, the watermark must end at the newer Clear's snapshot, and the
// split must follow the documented rule: what a Clear saw in the window
// counts as cleared unless it was counted as evicted first.
func TestClearsOutOfOrder(t *testing.T) {
	for _, tc := range []struct {
		name         string
		newerFirst   bool
		statsInGap   bool
		wantAfter    string // after both Clears, 20 messages appended
		wantMessages []uint64
	}{
		// Clear A read 1-4 (through 4), Clear B read 7-10 (through 10).
		// A then B: 1-4 cleared by A (pushed out while it ran), 5-6
		// evicted before B read the ring, 7-10 cleared by B, 11-16
		// evicted.
		{"older_first", false, false, "last=20 evicted=8 cleared=8 window=4", []uint64{17, 18, 19, 20}},
		// B then A: B counts 1-6 as evicted (older than its window) and
		// 7-10 as cleared; A then finds through 10 past its 4.
		{"newer_first", true, false, "last=20 evicted=12 cleared=4 window=4", []uint64{17, 18, 19, 20}},
		// A Stats with the ring at 20 counts 1-16 as evicted before
		// either Clear takes effect: neither may count them again.
		{"older_first_stats_in_gap", false, true, "last=20 evicted=16 cleared=0 window=4", []uint64{17, 18, 19, 20}},
		{"newer_first_stats_in_gap", true, true, "last=20 evicted=16 cleared=0 window=4", []uint64{17, 18, 19, 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forBackends(t, func(t *testing.T, backend string) {
				h, ring := newPausing(t, backend, 2) // capacity 4
				appendN(t, h, 4)
				finishA := pausedClear(t, h, ring) // read 1-4
				appendN(t, h, 6)
				finishB := pausedClear(t, h, ring) // read 7-10
				appendN(t, h, 10)
				var prev Stats
				if tc.statsInGap {
					prev = h.Stats()
					checkStats(t, "Stats while both Clears are paused", Stats{}, prev)
				}
				if tc.newerFirst {
					finishB()
					finishA()
				} else {
					finishA()
					finishB()
				}
				if through := h.clear.Load().through; through != 10 {
					t.Errorf("watermark = %d after both Clears, want 10", through)
				}
				after := h.Stats()
				checkStats(t, "after both Clears", prev, after)
				if got := counts(after); got != tc.wantAfter {
					t.Errorf("after both Clears: %s, want %s", got, tc.wantAfter)
				}
				msgs, err := h.Messages(t.Context(), nil)
				if err != nil {
					t.Fatal(err)
				}
				checkWindowOf(t, msgs, tc.wantMessages)

				// A Clear now takes everything; the next message survives.
				mustClear(t, h)
				appendN(t, h, 1)
				final := h.Stats()
				checkStats(t, "final", after, final)
				if got, want := final.Evicted+final.Cleared, uint64(20); got != want {
					t.Errorf("final: %s: %d accounted for, want %d", counts(final), got, want)
				}
				msgs, err = h.Messages(t.Context(), nil)
				if err != nil {
					t.Fatal(err)
				}
				checkWindowOf(t, msgs, []uint64{21})
			})
		})
	}
}

// TestReadsDoNotWaitForAPausedCall pauses an Append with an ID inside its
// search of the window (it holds History.idMu there) and a Clear and a
// Stats right after their ring snapshots, and checks that every other
// method still completes meanwhile: History adds no lock of its own but
// idMu, which only Appends with an ID take. With the lockfree backend
// that is the "no lock in History but for Appends with an ID" claim. A
// call that waits for a paused one hangs the test until go test's
// -timeout.
func TestReadsDoNotWaitForAPausedCall(t *testing.T) {
	forBackends(t, func(t *testing.T, backend string) {
		h, ring := newPausing(t, backend, 2)
		appendN(t, h, 5)

		var wg sync.WaitGroup
		resume := make(chan struct{})
		resumeAll := sync.OnceFunc(func() { close(resume); wg.Wait() })
		defer resumeAll() // also when the test fails early
		pause := func(what string, call func() error) {
			paused := make(chan struct{})
			ring.afterSnapshot(func() {
				close(paused)
				<-resume
			})
			wg.Go(func() {
				if err := call(); err != nil {
					t.Errorf("%s: %v", what, err)
				}
			})
			<-paused
		}
		pause("Append with an ID", func() error {
			_, err := h.Append(t.Context(), Message{Role: User, Content: "x", ID: "id-1"})
			return err
		})
		pause("Clear", func() error { return h.Clear(t.Context()) })
		pause("Stats", func() error { h.Stats(); return nil })

		appendN(t, h, 3) // Appends without an ID
		if _, err := h.Messages(t.Context(), nil); err != nil {
			t.Error(err)
		}
		if _, err := h.Window(t.Context(), 0); err != nil {
			t.Error(err)
		}
		mustClear(t, h)
		checkStats(t, "while three calls are paused", Stats{}, h.Stats())
		if err := h.SetSystemPrompt("be brief"); err != nil {
			t.Error(err)
		}

		resumeAll()
		s := h.Stats()
		checkStats(t, "after", Stats{}, s)
		if got, want := counts(s), "last=9 evicted=4 cleared=4 window=1"; got != want {
			t.Errorf("after: %s, want %s", got, want)
		}
	})
}

// TestStatsMonitors runs several Stats monitors, several clearers, Messages
// readers and appenders at once. Beyond TestStatsMonitor, it checks the
// monotonicity across goroutines: before each Stats a monitor reads the
// largest counts any Stats has returned so far (all from calls that
// returned before this one started), and its result must not be below
// them. Each Messages reader checks that the window never moves back:
// both ends of a non-empty window are at least those of the reader's
// previous non-empty window. Run it with -race and -cpu 1,2,4.
func TestStatsMonitors(t *testing.T) {
	const appenders, clearers, monitors, readers, reads = 3, 2, 3, 2, 3000
	forBackends(t, func(t *testing.T, backend string) {
		h, err := New(Config{Backend: backend, MaxTurns: 2})
		if err != nil {
			t.Fatal(err)
		}
		var maxEvicted, maxCleared, maxLast, maxAppended atomicMax
		var done atomic.Bool
		var wg, mon sync.WaitGroup
		startAppenders(t, h, &wg, &done, appenders)
		for range clearers {
			repeatUntil(t, &wg, &done, func(int) error { return h.Clear(t.Context()) })
		}
		for range readers {
			var first, last uint64 // of the previous non-empty window
			buf := make([]Message, 0, 4)
			repeatUntil(t, &wg, &done, func(int) error {
				msgs, err := h.Messages(t.Context(), buf[:0])
				if err != nil || len(msgs) == 0 {
					return err
				}
				f, l := msgs[0].Seq, msgs[len(msgs)-1].Seq
				if l-f+1 != uint64(len(msgs)) || f < first || l < last {
					return fmt.Errorf("Messages = Seq %v after a window %d-%d", seqs(msgs), first, last)
				}
				first, last = f, l
				return nil
			})
		}
		for m := range monitors {
			mon.Go(func() {
				for i := range reads {
					floor := Stats{Evicted: maxEvicted.load(), Cleared: maxCleared.load(),
						LastSeq: maxLast.load(), Appended: maxAppended.load()}
					s := h.Stats()
					if err := statsError(floor, s); err != nil {
						t.Errorf("monitor %d, Stats %d: %s (largest before it: %s, appended %d): %v",
							m, i, counts(s), counts(floor), floor.Appended, err)
						return
					}
					maxEvicted.raise(s.Evicted)
					maxCleared.raise(s.Cleared)
					maxLast.raise(s.LastSeq)
					maxAppended.raise(s.Appended)
					runtime.Gosched()
				}
			})
		}
		mon.Wait()
		done.Store(true)
		wg.Wait()
		s := h.Stats()
		checkStats(t, "final", Stats{Evicted: maxEvicted.load(), Cleared: maxCleared.load(),
			LastSeq: maxLast.load(), Appended: maxAppended.load()}, s)
		if s.Appended != s.LastSeq {
			t.Errorf("final: appended %d, last seq %d", s.Appended, s.LastSeq)
		}
		t.Logf("%s", counts(s))
	})
}

// atomicMax is a uint64 that only rises.
type atomicMax struct{ v atomic.Uint64 }

func (m *atomicMax) load() uint64 { return m.v.Load() }

func (m *atomicMax) raise(x uint64) {
	for {
		cur := m.v.Load()
		if x <= cur || m.v.CompareAndSwap(cur, x) {
			return
		}
	}
}

// The porcupine model of a History: the state is the ring's newest Seq
// and the Clear watermark, and the visible window is (max(through,
// last-cap), last]. A Clear raises the watermark to some Seq between the
// newest Seq of the Appends that returned before it was called (lo) and
// the ring's newest Seq at the instant it takes effect: which one is not
// observable, so the model is nondeterministic.
type (
	histState struct{ last, through uint64 }

	appendIn   struct{}
	messagesIn struct{ window bool } // Window(ctx, 0) rather than Messages
	clearIn    struct{ lo uint64 }   // filled in after the run
	statsIn    struct{}

	statsOut struct {
		last, evicted, cleared uint64
		window                 int
	}
)

// historyModel is the sequential specification of Append, Messages,
// Window, Clear and Stats on a History of capacity c.
func historyModel(c uint64) porcupine.Model {
	visible := func(s histState) []uint64 {
		var w []uint64
		for q := max(s.through, s.last-min(s.last, c)) + 1; q <= s.last; q++ {
			w = append(w, q)
		}
		return w
	}
	nm := porcupine.NondeterministicModel{
		Init: func() []any { return []any{histState{}} },
		Step: func(state, input, output any) []any {
			s := state.(histState)
			switch in := input.(type) {
			case appendIn:
				if output.(uint64) != s.last+1 {
					return nil
				}
				return []any{histState{last: s.last + 1, through: s.through}}
			case messagesIn:
				if !slices.Equal(output.([]uint64), visible(s)) {
					return nil
				}
				return []any{s}
			case clearIn:
				var next []any
				for v := max(s.through, in.lo); v <= s.last; v++ {
					next = append(next, histState{last: s.last, through: v})
				}
				return next
			case statsIn:
				o := output.(statsOut)
				if o.last != s.last || o.window != len(visible(s)) ||
					o.evicted+o.cleared+uint64(o.window) != o.last || o.evicted > o.last-min(o.last, c) {
					return nil
				}
				return []any{s}
			}
			panic(fmt.Sprintf("unknown input %T", input))
		},
		Hash: func(state any) uint64 {
			s := state.(histState)
			return s.last<<32 ^ s.through
		},
		DescribeOperation: func(input, output any) string {
			switch in := input.(type) {
			case appendIn:
				return fmt.Sprintf("Append -> %d", output)
			case messagesIn:
				if in.window {
					return fmt.Sprintf("Window -> %v", output)
				}
				return fmt.Sprintf("Messages -> %v", output)
			case clearIn:
				return fmt.Sprintf("Clear (lo %d)", in.lo)
			default:
				o := output.(statsOut)
				return fmt.Sprintf("Stats -> last=%d evicted=%d cleared=%d window=%d", o.last, o.evicted, o.cleared, o.window)
			}
		},
	}
	return nm.ToModel()
}

// newWithCap returns a History of the backend with a ring of capacity c,
// which need not be even (2 × MaxTurns), with a sharded ring of 1 to 3
// shards.
func newWithCap(t *testing.T, backend string, c int) *History {
	t.Helper()
	h, err := New(Config{Backend: backend, MaxTurns: 1})
	if err != nil {
		t.Fatal(err)
	}
	switch backend {
	case BackendMutex:
		h.buf = ringbuf.New[Message](c)
	case BackendLockFree:
		h.buf = lockfree.New[Message](c)
	case BackendSharded:
		h.buf = sharded.New[Message](c, sharded.WithShards(1+c%3))
	}
	return h
}

// TestHistoryLinearizable records concurrent histories of Append,
// Messages, Window, Clear and Stats on capacities 1 to 5 and checks them
// with porcupine against historyModel; it also checks that every message
// read has the content its Append returned for that Seq, and that no Stats
// reports less than one that returned before it was called.
func TestHistoryLinearizable(t *testing.T) {
	const histories, opsPerGoroutine = 150, 10
	forBackends(t, func(t *testing.T, backend string) {
		for i := range histories {
			c := 1 + i%5
			goroutines := 3 + i%4
			ops, contents, reads := recordHistory(t, newWithCap(t, backend, c), goroutines, opsPerGoroutine, uint64(i))
			for _, r := range reads {
				for _, m := range r {
					if m.Content != contents[m.Seq] {
						t.Fatalf("history %d: Seq %d read as %q, appended as %q", i, m.Seq, m.Content, contents[m.Seq])
					}
				}
			}
			checkStatsRealTime(t, i, ops)
			model := historyModel(uint64(c))
			res, _ := porcupine.CheckOperationsVerbose(model, ops, 30*time.Second)
			if res == porcupine.Ok {
				continue
			}
			msg := fmt.Sprintf("history %d (cap=%d, goroutines=%d): %v", i, c, goroutines, res)
			slices.SortFunc(ops, func(a, b porcupine.Operation) int { return int(a.Call - b.Call) })
			for _, op := range ops {
				msg += fmt.Sprintf("\n  g%d [%3d,%3d] %s", op.ClientId, op.Call, op.Return, model.DescribeOperation(op.Input, op.Output))
			}
			t.Fatal(msg)
		}
	})
}

// recordHistory runs goroutines that each make n random calls on h, with
// a logical clock as in ringtest, and returns the history, the content
// each Append returned for its Seq, and the messages each read returned.
func recordHistory(t *testing.T, h *History, goroutines, n int, seed uint64) ([]porcupine.Operation, map[uint64]string, [][]Message) {
	var clock atomic.Int64
	hist := make([][]porcupine.Operation, goroutines)
	readsBy := make([][][]Message, goroutines)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		rng := rand.New(rand.NewPCG(seed, uint64(g)))
		wg.Go(func() {
			<-start
			for i := range n {
				op := porcupine.Operation{ClientId: g}
				k := rng.IntN(20)
				op.Call = clock.Add(1)
				switch {
				case k < 8:
					m, err := h.Append(t.Context(), Message{Role: User, Content: fmt.Sprintf("g%d #%d", g, i)})
					if err != nil {
						t.Error(err)
						return
					}
					op.Input, op.Output, op.Metadata = appendIn{}, m.Seq, m.Content
				case k < 13:
					window := k >= 11
					var msgs []Message
					var err error
					if window {
						msgs, err = h.Window(t.Context(), 0)
					} else {
						msgs, err = h.Messages(t.Context(), nil)
					}
					if err != nil {
						t.Error(err)
						return
					}
					readsBy[g] = append(readsBy[g], msgs)
					op.Input, op.Output = messagesIn{window}, seqs(msgs)
				case k < 16:
					if err := h.Clear(t.Context()); err != nil {
						t.Error(err)
						return
					}
					op.Input = clearIn{}
				default:
					s := h.Stats()
					op.Input = statsIn{}
					op.Output = statsOut{last: s.LastSeq, evicted: s.Evicted, cleared: s.Cleared, window: s.WindowMessages}
					op.Metadata = s.Appended
				}
				op.Return = clock.Add(1)
				hist[g] = append(hist[g], op)
				if rng.IntN(3) == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	ops := slices.Concat(hist...)
	contents := make(map[uint64]string)
	for _, op := range ops {
		if _, ok := op.Input.(appendIn); ok {
			contents[op.Output.(uint64)] = op.Metadata.(string)
		}
	}
	// A Clear's lo: the newest Seq of the Appends that returned before it
	// was called.
	for i, op := range ops {
		if _, ok := op.Input.(clearIn); !ok {
			continue
		}
		var lo uint64
		for _, a := range ops {
			if _, ok := a.Input.(appendIn); ok && a.Return < op.Call {
				lo = max(lo, a.Output.(uint64))
			}
		}
		ops[i].Input = clearIn{lo}
	}
	return ops, contents, slices.Concat(readsBy...)
}

// checkStatsRealTime fails the test when a Stats reports less Appended,
// Evicted, Cleared or LastSeq than one that returned before it was
// called.
func checkStatsRealTime(t *testing.T, history int, ops []porcupine.Operation) {
	t.Helper()
	asStats := func(op porcupine.Operation) (Stats, bool) {
		o, ok := op.Output.(statsOut)
		if !ok {
			return Stats{}, false
		}
		return Stats{LastSeq: o.last, Evicted: o.evicted, Cleared: o.cleared,
			WindowMessages: o.window, Appended: op.Metadata.(uint64)}, true
	}
	for _, a := range ops {
		sa, ok := asStats(a)
		if !ok {
			continue
		}
		for _, b := range ops {
			sb, ok := asStats(b)
			if !ok || a.Return >= b.Call {
				continue
			}
			if err := statsError(sa, sb); err != nil {
				t.Fatalf("history %d: Stats [%d,%d] %s after Stats [%d,%d] %s: %v",
					history, b.Call, b.Return, counts(sb), a.Call, a.Return, counts(sa), err)
			}
		}
	}
}

// TestStatsSplitExactWhenSequential runs random sequences of Append, Clear
// and Stats, one call at a time (Stats is a step of its own, so that some
// Clears find evictions no Stats has counted yet), on capacities 1 to 5 and compares Stats
// with a model that follows every message: one pushed out of the window
// by a newer one is evicted, one in the window when Clear is called is
// cleared. Without concurrent calls the documented exception (a message
// pushed out while a Clear runs) cannot happen, so the split is exact.
func TestStatsSplitExactWhenSequential(t *testing.T) {
	forBackends(t, func(t *testing.T, backend string) {
		rapid.Check(t, func(rt *rapid.T) {
			c := rapid.IntRange(1, 5).Draw(rt, "cap")
			h := newWithCap(t, backend, c)
			var last, first, evicted, cleared uint64 // the window is first+1 ... last
			var ops []string
			rt.Repeat(map[string]func(*rapid.T){
				"Append": func(rt *rapid.T) {
					n := rapid.IntRange(1, 2*c+1).Draw(rt, "n")
					ops = append(ops, fmt.Sprintf("Append×%d", n))
					for range n {
						if _, err := h.Append(t.Context(), Message{Role: User, Content: "m"}); err != nil {
							rt.Fatal(err)
						}
						last++
						if last-first > uint64(c) {
							first++
							evicted++
						}
					}
				},
				"Clear": func(rt *rapid.T) {
					ops = append(ops, "Clear")
					if err := h.Clear(t.Context()); err != nil {
						rt.Fatal(err)
					}
					cleared += last - first
					first = last
				},
				"Stats": func(rt *rapid.T) {
					ops = append(ops, "Stats")
					s := h.Stats()
					want := fmt.Sprintf("last=%d evicted=%d cleared=%d window=%d", last, evicted, cleared, last-first)
					if got := counts(s); got != want {
						rt.Fatalf("cap %d, after %v: Stats %s, want %s", c, ops, got, want)
					}
				},
			})
		})
	})
}
