package workload

import (
	"bytes"
	"flag"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// goid returns the calling goroutine's id, parsed from its stack trace
// ("goroutine 123 [running]:"). Tests only.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	b = b[:bytes.IndexByte(b, ' ')]
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

// fillRecorder is a contender that records, for every ring it makes, how
// many pushes came from the goroutine that made it (the benchmark's own,
// which sets up before timing) before the first push from any other
// goroutine (the timed workers).
type fillRecorder struct {
	mu    sync.Mutex
	rings []*recordingRing
}

type recordingRing struct {
	capacity int
	creator  uint64
	mu       sync.Mutex
	before   int  // guarded by mu: pushes by the creator before any other
	others   bool // guarded by mu: another goroutine has pushed
}

func (f *fillRecorder) contender() Contender {
	return Contender{Backend: "recorder", New: func(capacity int) Ring {
		r := &recordingRing{capacity: capacity, creator: goid()}
		f.mu.Lock()
		f.rings = append(f.rings, r)
		f.mu.Unlock()
		return r
	}}
}

func (r *recordingRing) Push(Msg) uint64 {
	me := goid()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case me != r.creator:
		r.others = true
	case !r.others:
		r.before++
	}
	return 0
}

func (r *recordingRing) Snapshot(dst []Msg) ([]Msg, uint64) { return dst, 0 }

// TestRingsAreFullBeforeTiming checks what bench/RESULTS.md says of every
// workload: the ring is full before timing starts (the goroutine that set
// it up pushed at least capacity messages before any timed goroutine
// pushed), so every push evicts, from the first one timed.
func TestRingsAreFullBeforeTiming(t *testing.T) {
	old := flag.Lookup("test.benchtime").Value.String()
	if err := flag.Set("test.benchtime", "50x"); err != nil {
		t.Fatal(err)
	}
	defer flag.Set("test.benchtime", old)
	for _, w := range []struct {
		name string
		run  func(*testing.B, []Contender)
	}{
		{"Append", Append}, {"WriteHeavy", WriteHeavy}, {"ChatMix", ChatMix},
		{"ReadHeavy", ReadHeavy}, {"Snapshot", Snapshot}, {"Seed", Seed},
	} {
		t.Run(w.name, func(t *testing.T) {
			var f fillRecorder
			testing.Benchmark(func(b *testing.B) { w.run(b, []Contender{f.contender()}) })
			if len(f.rings) == 0 {
				t.Fatal("the workload made no ring")
			}
			for _, r := range f.rings {
				if r.before < r.capacity {
					t.Errorf("a ring of capacity %d got %d pushes before timing, want at least %d", r.capacity, r.before, r.capacity)
				}
			}
		})
	}
}
