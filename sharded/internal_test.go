package sharded

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestLayout asserts the padding: each shard fills whole cache lines, so
// writers on neighbouring shards never share one; the sequence counter has
// a line of its own, and so has the snapshot's pending flag, which every
// push reads.
func TestLayout(t *testing.T) {
	if sz := unsafe.Sizeof(shard[string]{}); sz%cacheLine != 0 {
		t.Errorf("shard is %d bytes, want a multiple of %d", sz, cacheLine)
	}
	var r Ring[string]
	if off := unsafe.Offsetof(r.pending); off != cacheLine {
		t.Errorf("pending at offset %d, want %d (one cache line after seq)", off, cacheLine)
	}
	if off := unsafe.Offsetof(r.shards); off != 2*cacheLine {
		t.Errorf("shards at offset %d, want %d (one cache line after pending)", off, 2*cacheLine)
	}
}

func TestPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"New(0)":        func() { New[int](0) },
		"WithShards(0)": func() { WithShards(0) },
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "sharded: ") {
					t.Errorf("%s panicked with %q, want a sharded: message", name, msg)
				}
			}()
			f()
		}()
	}
}

func TestDefaultShards(t *testing.T) {
	want := min(runtime.GOMAXPROCS(0), maxDefaultShards)
	if got := New[int](4).Shards(); got != want {
		t.Errorf("default Shards() = %d, want %d", got, want)
	}
}

// TestSkewedLoad pushes everything through one shard of several: each shard
// must keep the full capacity, or the window would lose values.
func TestSkewedLoad(t *testing.T) {
	r := New[int](5, WithShards(4))
	s := &r.shards[2]
	for i := 1; i <= 12; i++ { // Push, with the shard picked for it
		s.mu.Lock()
		r.store(s, &i)
		s.mu.Unlock()
	}
	got, last := r.Snapshot(nil)
	if want := []int{8, 9, 10, 11, 12}; last != 12 || !slices.Equal(got, want) {
		t.Errorf("Snapshot = %v @%d, want %v @12", got, last, want)
	}
}

// TestSnapshotGate checks the snapshot gate: a snapshot that finds a shard
// busy raises pending, and a push that starts while it is pending waits for
// the snapshot instead of competing with it for the shard locks; the
// snapshot is linearized before that push.
func TestSnapshotGate(t *testing.T) {
	// The snapshot will hold shard 0 and wait for shard 1; shard 2 stays
	// free, so a push that ignored the gate would take it and return.
	r := New[int](4, WithShards(3))
	r.shards[1].mu.Lock() // a writer in the middle of a push on shard 1

	type snap struct {
		vals []int
		last uint64
	}
	snapped := make(chan snap)
	go func() {
		vals, last := r.Snapshot(nil)
		snapped <- snap{vals, last}
	}()
	for !r.pending.Load() { // the snapshot found shard 1 busy
		runtime.Gosched()
	}

	pushed := make(chan uint64)
	go func() { pushed <- r.Push(7) }()
	select {
	case seq := <-pushed:
		t.Fatalf("Push returned %d while a snapshot was pending; want it to wait", seq)
	case <-time.After(50 * time.Millisecond):
		// Still waiting, as it should be. (A wrong ring would have
		// returned within microseconds; a slow machine cannot make a
		// correct one fail here.)
	}

	r.shards[1].mu.Unlock() // the writer on shard 1 finishes
	s := <-snapped
	if len(s.vals) != 0 || s.last != 0 {
		t.Errorf("Snapshot = %v @%d, want the empty window: the waiting push comes after it", s.vals, s.last)
	}
	if seq := <-pushed; seq != 1 {
		t.Errorf("waiting Push returned %d, want 1", seq)
	}
	if r.pending.Load() {
		t.Error("pending still set after the snapshot returned")
	}
}
