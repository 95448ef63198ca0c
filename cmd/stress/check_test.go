package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/ringbuf"
)

// win builds a window of capacity-bounded records ending at sequence last
// from (writer, n) pairs, oldest first.
func win(last uint64, pairs ...[2]int) []rec {
	first := last - uint64(len(pairs)) + 1
	out := make([]rec, len(pairs))
	for i, p := range pairs {
		out[i] = rec{writer: p[0], n: uint64(p[1]), seq: first + uint64(i)}
	}
	return out
}

func TestSnapshotChecker(t *testing.T) {
	sent := []uint64{100, 100}
	none := []ref{{}, {}}
	for _, c := range []struct {
		name   string
		recs   []rec
		last   uint64
		before []ref
		want   string // "" for no violation
	}{
		{"empty", nil, 0, none, ""},
		{"filling", win(3, [2]int{0, 0}, [2]int{1, 0}, [2]int{0, 1}), 3, []ref{{3, 1}, {2, 0}}, ""},
		{"full, interleaved", win(9, [2]int{1, 2}, [2]int{0, 5}, [2]int{0, 6}, [2]int{1, 3}), 9, []ref{{7, 5}, {5, 1}}, ""},
		{"too short", win(9, [2]int{0, 5}, [2]int{0, 6}, [2]int{0, 7}), 9, none, "window holds 3 messages"},
		{"too long", win(2, [2]int{0, 0}, [2]int{0, 1}, [2]int{0, 2}), 2, none, "window holds 3"},
		{"gap", win(9, [2]int{0, 5}, [2]int{0, 7}, [2]int{1, 0}, [2]int{1, 1}), 9, none, "#7 follows its #5"},
		{"reordered", win(9, [2]int{0, 6}, [2]int{0, 5}, [2]int{1, 0}, [2]int{1, 1}), 9, none, "#5 follows its #6"},
		{"repeated", win(9, [2]int{0, 5}, [2]int{0, 5}, [2]int{1, 0}, [2]int{1, 1}), 9, none, "#5 follows its #5"},
		{"bad sequence", []rec{{0, 1, 5}, {0, 2, 7}, {0, 3, 7}, {0, 4, 8}}, 8, none, "position 1 holds sequence 7, want 6"},
		{"unknown writer", win(4, [2]int{0, 0}, [2]int{5, 0}, [2]int{0, 1}, [2]int{0, 2}), 4, none, "writer 5, which does not exist"},
		{"from the future", win(4, [2]int{0, 0}, [2]int{0, 1}, [2]int{0, 2}, [2]int{0, 100}), 4, none, "which it had not sent"},
		{"returned but missing", win(8, [2]int{0, 0}, [2]int{0, 1}, [2]int{0, 2}, [2]int{0, 3}), 8, []ref{{}, {10, 0}}, "message #0 (sequence 10) returned before the read began but is missing"},
		{"returned but misplaced", win(8, [2]int{0, 0}, [2]int{0, 1}, [2]int{0, 2}, [2]int{0, 3}), 8, []ref{{}, {7, 0}}, "sequence 7 is writer 1's message #0"},
		{"returned and evicted", win(8, [2]int{0, 0}, [2]int{0, 1}, [2]int{0, 2}, [2]int{0, 3}), 8, []ref{{8, 3}, {3, 0}}, ""},
		// The review's case: one writer, capacity 4, appends #0…#7 with
		// sequence numbers 1…8 and #7 returned, but the window holds
		// #3…#6 labelled 5…8: contiguous, ordered, the right length, one
		// place off. Only the message number of #7 tells.
		{"shifted by one", win(8, [2]int{0, 3}, [2]int{0, 4}, [2]int{0, 5}, [2]int{0, 6}), 8, []ref{{8, 7}, {}}, "position 3 holds writer 0's message #6 at sequence 8, but its message #7 got sequence 8"},
		{"shifted, anchor in the middle", win(8, [2]int{0, 3}, [2]int{0, 4}, [2]int{0, 5}, [2]int{0, 6}), 8, []ref{{6, 5}, {}}, "writer 0's message #4 at sequence 6, but its message #5 got sequence 6"},
		// Two writers: writer 1's returned append is in place, but writer
		// 0's messages moved by one against its own returned one.
		{"shifted, two writers", win(8, [2]int{0, 4}, [2]int{1, 0}, [2]int{0, 5}, [2]int{1, 1}), 8, []ref{{6, 5}, {8, 1}}, "writer 0's message #5 at sequence 7, but its message #5 got sequence 6"},
		{"stale, anchor evicted", win(8, [2]int{0, 1}, [2]int{0, 2}, [2]int{1, 0}, [2]int{1, 1}), 8, []ref{{4, 2}, {}}, "writer 0's message #1 at sequence 5, but its message #2 got sequence 4"},
		// What docs/stress.md says the online checks miss: seqs 6…9 were
		// w1#2, w0#5, w1#3, w0#6; the two oldest, of different writers
		// and neither a returned append, are swapped. Each writer's
		// order and its place against its returned append hold, so only
		// the final checks could see it. If the checker learns to, change
		// the docs with this case.
		{"documented blind spot: cross-writer swap", win(9, [2]int{0, 5}, [2]int{1, 2}, [2]int{1, 3}, [2]int{0, 6}), 9, []ref{{9, 6}, {8, 3}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v violations
			chk := newSnapshotChecker(4, 2)
			chk.check(&v, 0, c.recs, c.last, c.before, sent)
			got := strings.Join(v.descriptions(), "\n")
			if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
				t.Errorf("violations %q, want one containing %q", got, c.want)
			}
		})
	}
	t.Run("going backwards", func(t *testing.T) {
		var v violations
		chk := newSnapshotChecker(4, 1)
		chk.check(&v, 0, win(5, [2]int{0, 1}, [2]int{0, 2}, [2]int{0, 3}, [2]int{0, 4}), 5, []ref{{}}, []uint64{5})
		chk.check(&v, 0, win(4, [2]int{0, 0}, [2]int{0, 1}, [2]int{0, 2}, [2]int{0, 3}), 4, []ref{{}}, []uint64{5})
		if d := v.descriptions(); len(d) != 1 || !strings.Contains(d[0], "went backwards from 5") {
			t.Errorf("violations %q", d)
		}
	})
}

// TestNewestReturned checks the published (sequence, message number) pairs
// a writer's slot gives readers, including the case where the writer has
// moved on so far that the slot may have been reused.
func TestNewestReturned(t *testing.T) {
	var s slotFields
	if _, ok := s.newestReturned(); ok {
		t.Fatal("a slot with no returned append gave one")
	}
	for n := range uint64(10) {
		s.publish(n, 100+3*n)
		if r, ok := s.newestReturned(); !ok || r != (ref{seq: 100 + 3*n, n: n}) {
			t.Fatalf("after append #%d: %+v, %v; want sequence %d", n, r, ok, 100+3*n)
		}
	}
}

// TestNewestReturnedConcurrent has one writer push into a ring and publish
// each sequence number, as the stress writers do, while readers check that
// every pair they get is one the writer published: sequence number n+1 for
// message #n. Each reader reads until it got 1000 pairs; once the writer
// has stopped no read is torn, so that always ends. Run it with -race.
func TestNewestReturnedConcurrent(t *testing.T) {
	var s slotFields
	ring := ringbuf.New[item](20)
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := range uint64(200_000) {
			s.publish(n, ring.Push(item{n: n}))
		}
	})
	for range 2 {
		wg.Go(func() {
			got, torn := 0, 0
			for got < 1000 {
				r, ok := s.newestReturned()
				if !ok {
					torn++
					continue
				}
				got++
				if r.seq != r.n+1 {
					t.Errorf("message #%d paired with sequence %d, want %d", r.n, r.seq, r.n+1)
					return
				}
			}
			t.Logf("a reader got %d pairs in %d more reads (no append yet, or possibly torn)", got, torn)
		})
	}
	wg.Wait()
}

func TestCheckFinal(t *testing.T) {
	// Writers 0 and 1 appended alternately: seqs 1..7, capacity 4.
	logs := []*writerLog{newWriterLog(4, 0), newWriterLog(4, 0)}
	var v violations
	for seq := uint64(1); seq <= 7; seq++ {
		w := int(seq % 2)
		logs[w].add(&v, w, logs[w].sent, seq)
	}
	good := win(7, [2]int{0, 1}, [2]int{1, 2}, [2]int{0, 2}, [2]int{1, 3})
	if checkFinal(&v, 4, logs, good, 7); v.count.Load() != 0 {
		t.Fatalf("a correct final window: %q", v.descriptions())
	}
	for _, c := range []struct {
		name   string
		window []rec
		last   uint64
		want   string
	}{
		{"stale", win(6, [2]int{1, 1}, [2]int{0, 1}, [2]int{1, 2}, [2]int{0, 2}), 6, "newest sequence is 6"},
		{"short", win(7, [2]int{1, 2}, [2]int{0, 2}, [2]int{1, 3}), 7, "final window holds 3"},
		{"wrong value", win(7, [2]int{0, 1}, [2]int{1, 2}, [2]int{0, 9}, [2]int{1, 3}), 7, "position 2 holds writer 0's message #9"},
		// At history level each message carries its own Seq.
		{"relabelled", []rec{{0, 1, 5}, {1, 2, 4}, {0, 2, 6}, {1, 3, 7}}, 7, "position 0 holds writer 0's message #1 labelled sequence 5, but it got sequence 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v violations
			checkFinal(&v, 4, logs, c.window, c.last)
			if got := strings.Join(v.descriptions(), "\n"); !strings.Contains(got, c.want) {
				t.Errorf("violations %q, want %q", got, c.want)
			}
		})
	}
	t.Run("repeated sequence", func(t *testing.T) {
		var v violations
		l := newWriterLog(4, 0)
		for _, seq := range []uint64{1, 2, 2, 4} {
			l.add(&v, 0, l.sent, seq)
		}
		checkFinal(&v, 4, []*writerLog{l}, win(4, [2]int{0, 0}, [2]int{0, 1}, [2]int{0, 2}, [2]int{0, 3}), 4)
		got := strings.Join(v.descriptions(), "\n")
		for _, want := range []string{"got sequence 2 after sequence 2", "gaps or repeats"} {
			if !strings.Contains(got, want) {
				t.Errorf("violations %q, want %q", got, want)
			}
		}
	})
}

func TestSeqSums(t *testing.T) {
	var sum, squares uint64
	for n := uint64(0); n <= 3000; n++ {
		sum += n
		squares += n * n
		if s, q := seqSums(n); s != sum || q != squares {
			t.Fatalf("seqSums(%d) = %d, %d; want %d, %d", n, s, q, sum, squares)
		}
	}
	// Past 2^32 the products wrap; the divisions must still be exact.
	n := uint64(1) << 33
	s1, q1 := seqSums(n - 1)
	s2, q2 := seqSums(n)
	if s2-s1 != n || q2-q1 != n*n {
		t.Errorf("seqSums is not incremental at 2^33")
	}
}

func TestContentRoundTrip(t *testing.T) {
	pad := []byte(payloadFor(3, 300))
	for payload := 0; payload <= 300; payload += 7 {
		for _, n := range []uint64{0, 1, 18, 19, 123456789} {
			c := content(pad, 42, n, payload)
			if !utf8.ValidString(c) {
				t.Fatalf("content(#%d, payload %d) is not valid UTF-8: %q", n, payload, c)
			}
			if len(c) < payload || len(c) > max(payload, 40) {
				t.Fatalf("content(#%d, payload %d) has %d bytes", n, payload, len(c))
			}
			role := chatring.User
			if n%2 == 1 {
				role = chatring.Assistant
			}
			w, got, err := parseContent(chatring.Message{Role: role, Content: c})
			if err != nil || w != 42 || got != n {
				t.Fatalf("parseContent(%q) = %d, %d, %v; want 42, %d", c, w, got, err, n)
			}
		}
	}
	if got := content(nil, 3, 35, 0); got != "Thread 3 - 回答 17" {
		t.Errorf("the seed's content: got %q", got)
	}
	for _, m := range []chatring.Message{
		{Role: chatring.Assistant, Content: "Thread 3 - 问题 17"},
		{Role: chatring.User, Content: "Thread 3 - 回答 17"},
		{Role: chatring.User, Content: "hello"},
		{Role: chatring.User, Content: "Thread x - 问题 1"},
		{Role: chatring.User, Content: "Thread 1 - 问题 y"},
	} {
		if _, _, err := parseContent(m); err == nil {
			t.Errorf("parseContent(%+v) succeeded", m)
		}
	}
}

func TestWatchSignals(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	ctx, cancel := context.WithCancelCause(t.Context())
	exited := make(chan int, 1)
	var stderr bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchSignals(sigs, cancel, &stderr, func(code int) { exited <- code })
	}()
	sigs <- os.Interrupt
	<-ctx.Done()
	if cause := context.Cause(ctx); cause == nil || !strings.Contains(cause.Error(), "interrupt") {
		t.Errorf("cause %v", context.Cause(ctx))
	}
	select {
	case code := <-exited:
		t.Fatalf("exited with %d after the first signal", code)
	default:
	}
	sigs <- syscall.SIGTERM
	if code := <-exited; code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit status %d after a second SIGTERM, want %d", code, 128+int(syscall.SIGTERM))
	}
	<-done
	if !strings.Contains(stderr.String(), "stopping") || !strings.Contains(stderr.String(), "exiting") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestWorkerSlotLayout(t *testing.T) {
	if got := unsafe.Sizeof(workerSlot{}); got != slotPad {
		t.Errorf("unsafe.Sizeof(workerSlot{}) = %d, want %d", got, slotPad)
	}
}

func TestRuntimeDelta(t *testing.T) {
	hist := func(counts ...uint64) *metrics.Float64Histogram {
		return &metrics.Float64Histogram{Counts: counts, Buckets: []float64{math.Inf(-1), 0.001, 0.002, math.Inf(1)}}
	}
	before := rtSample{allocObjects: 10, allocBytes: 100, gcCycles: 1, pauses: hist(0, 1, 0)}
	after := rtSample{allocObjects: 15, allocBytes: 400, gcCycles: 3, pauses: hist(0, 3, 1)}
	got := runtimeDelta(before, after)
	want := RuntimeStats{AllocObjects: 5, AllocBytes: 300, GCCycles: 2, GCPauses: 3,
		GCPauseTotalSeconds: 2*0.0015 + 0.002, GCPauseMaxSeconds: 0.002}
	if math.Abs(got.GCPauseTotalSeconds-want.GCPauseTotalSeconds) > 1e-12 {
		t.Errorf("pause total %v, want %v", got.GCPauseTotalSeconds, want.GCPauseTotalSeconds)
	}
	got.GCPauseTotalSeconds = want.GCPauseTotalSeconds
	if got != want {
		t.Errorf("runtimeDelta = %+v, want %+v", got, want)
	}
	if s := readRuntime(); s.pauses == nil || s.allocObjects == 0 {
		t.Errorf("readRuntime found no data: %+v (metric names changed?)", s)
	}
}
